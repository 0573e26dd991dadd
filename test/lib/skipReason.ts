/**
 * Why a test is skipped on this machine, or false. Under CI (CI=true) a missing prerequisite is an error, not
 * a skip: scripts/setup installs everything, so a skip there would hide a missing install step.
 */
export function skipReason(missing: boolean, reason: string): string | false {
    if (!missing) return false;
    if (process.env.CI === "true") throw new Error(`CI cannot skip: ${reason} (run scripts/setup as root)`);
    return reason;
}
