// What build-local and boot-local need on the host, checked before anything starts, with the package that
// provides each thing on the supported hosts (Linux x86_64: Debian/Ubuntu, Arch, Fedora names).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

/** A usage or environment error: the CLI prints it and exits 2 (provision/README.md "usage or config error"). */
export class UsageError extends Error {}

/** A program and the package that provides it on each supported host. */
export interface Requirement {
    command: string;
    debian: string;
    arch: string;
    fedora: string;
}

const req = (command: string, debian: string, arch = debian, fedora = debian): Requirement => ({ command, debian, arch, fedora });

export const QEMU = req("qemu-system-x86_64", "qemu-system-x86", "qemu-system-x86", "qemu-system-x86-core");
export const QEMU_IMG = req("qemu-img", "qemu-utils", "qemu-img", "qemu-img");
export const MMDEBSTRAP = req("mmdebstrap", "mmdebstrap");
export const MKFS_EXT4 = req("mkfs.ext4", "e2fsprogs");
export const IP = req("ip", "iproute2", "iproute2", "iproute");
export const PYTHON3 = req("python3", "python3", "python", "python3");
export const SSH = req("ssh", "openssh-client", "openssh", "openssh-clients");
export const SSH_KEYGEN = req("ssh-keygen", "openssh-client", "openssh", "openssh-clients");
export const CURL = req("curl", "curl");
export const GPG = req("gpg", "gnupg", "gnupg", "gnupg2");
export const ZSTD = req("zstd", "zstd");

/** UEFI firmware (code and variable store templates), as each host's OVMF package installs it. */
export const OVMF_CANDIDATES: { code: string; vars: string }[] = [
    { code: "/usr/share/OVMF/OVMF_CODE_4M.fd", vars: "/usr/share/OVMF/OVMF_VARS_4M.fd" }, // Debian/Ubuntu: ovmf
    { code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd", vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd" }, // Arch: edk2-ovmf
    { code: "/usr/share/edk2/ovmf/OVMF_CODE.fd", vars: "/usr/share/edk2/ovmf/OVMF_VARS.fd" }, // Fedora: edk2-ovmf
];
const OVMF_PACKAGES = "ovmf (Debian/Ubuntu), edk2-ovmf (Arch), edk2-ovmf (Fedora)";

/** The first OVMF pair present, or undefined. */
export function findOvmf(): { code: string; vars: string } | undefined {
    return OVMF_CANDIDATES.find((c) => fs.existsSync(c.code) && fs.existsSync(c.vars));
}

function hasCommand(c: string): boolean {
    return spawnSync("sh", ["-c", `command -v '${c}'`], { stdio: "ignore" }).status === 0;
}

/** Whether QEMU can use KVM here: /dev/kvm exists and this process may open it read-write. */
export function kvmUsable(): boolean {
    try {
        fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
        return true;
    } catch {
        return false;
    }
}

/**
 * Throws a UsageError naming everything missing (each program with its package per host) when this host
 * cannot run `what`. Root is required: the surrogate root is built with mmdebstrap and the local instance
 * runs in its own network namespace.
 */
export function checkPrerequisites(what: string, requirements: Requirement[], opts: { ovmf?: boolean } = {}): void {
    const problems: string[] = [];
    if (process.platform !== "linux" || process.arch !== "x64") {
        problems.push(`a Linux x86_64 host (this is ${process.platform}/${process.arch}; the image is x86_64 and the tools are Linux's)`);
    }
    if (process.getuid?.() !== 0) problems.push("root (run it with sudo)");
    const missing = requirements.filter((r, i) => requirements.findIndex((x) => x.command === r.command) === i && !hasCommand(r.command));
    for (const r of missing) {
        problems.push(`${r.command}: install ${r.debian} (Debian/Ubuntu: apt install ${r.debian}; Arch: pacman -S ${r.arch}; Fedora: dnf install ${r.fedora})`);
    }
    if (opts.ovmf && findOvmf() === undefined) problems.push(`UEFI firmware (OVMF): install ${OVMF_PACKAGES}`);
    if (problems.length > 0) {
        throw new UsageError(`${what} cannot run on this host; it needs:\n  - ${problems.join("\n  - ")}`);
    }
}
