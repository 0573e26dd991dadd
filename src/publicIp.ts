import { execFileSync } from "node:child_process";

/** Service that answers with the caller's public IPv4 (override: ARCH_AMI_PUBLIC_IP_URL). */
export const PUBLIC_IP_URL = "https://checkip.amazonaws.com";

/** The service's answer as a /32 when it is a dotted-quad IPv4 address, each part at most 255. */
export function ipv4Cidr(answer: string): string | undefined {
    return /^(\d{1,3})(\.\d{1,3}){3}$/.test(answer) && answer.split(".").every((o) => +o <= 255) ? `${answer}/32` : undefined;
}

/**
 * The deployer's public IPv4 as a /32, or undefined when it cannot be detected. Synchronous on purpose:
 * the answer is needed before the component registers anything.
 */
export function detectPublicIpv4Cidr(timeoutMs = 5000): string | undefined {
    const url = process.env.ARCH_AMI_PUBLIC_IP_URL ?? PUBLIC_IP_URL;
    const script =
        "fetch(process.argv[1], { signal: AbortSignal.timeout(+process.argv[2]) })" +
        ".then(r => r.ok ? r.text() : '').then(t => process.stdout.write(t.trim()), () => {})";
    try {
        const ip = execFileSync(process.execPath, ["-e", script, url, String(timeoutMs)], {
            timeout: timeoutMs + 2000,
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
        });
        return ipv4Cidr(ip);
    } catch {
        return undefined;
    }
}
