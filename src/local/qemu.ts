// Boots a disk image under QEMU the four ways EC2 can: SeaBIOS or OVMF (UEFI), disk on NVMe (Nitro) or
// virtio; with KVM when this process may use it, TCG otherwise. Each boot uses a copy-on-write overlay, a
// fresh copy of the UEFI variable store (no NVRAM entries: the removable path EFI/BOOT/BOOTX64.EFI must be
// enough), -no-reboot and a timeout. The serial console goes to a file that is watched for the real
// system's login prompt (systemd's serial getty on ttyS0); the caller says where it is kept. Used by
// `arch-ami boot-local` (vm.ts, instance.ts) and by the boot tests.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findOvmf, kvmUsable } from "./prerequisites";

/** The firmware EC2 boots an instance with: SeaBIOS (legacy BIOS) or OVMF (UEFI). */
export const Firmware = { Bios: "bios", Uefi: "uefi" } as const;
/** One of Firmware's values. */
export type Firmware = (typeof Firmware)[keyof typeof Firmware];
/** How the disk is attached: NVMe (Nitro instances) or virtio. */
export const Bus = { Nvme: "nvme", Virtio: "virtio" } as const;
/** One of Bus's values. */
export type Bus = (typeof Bus)[keyof typeof Bus];

/** Serial output as text: no CR, no terminal colour/control sequences (systemd colours its status lines). */
export function plain(serial: string): string {
    return serial.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g, "");
}

/** agetty's prompt: "<hostname> login: " at the start of a line. */
export const LOGIN_PROMPT = /^(\S+) login: /m;
/** The volume id the disk gets (the NVMe serial, as EBS does). */
export const DISK_SERIAL = "vol0a1b2c3d4e5f67890";

/** What machineArgs needs to know about one machine. */
export interface MachineOptions {
    firmware: Firmware;
    bus: Bus;
    /** qcow2 disk the VM writes to. */
    disk: string;
    /** Folder for the UEFI variable store copy. */
    work: string;
    serialFile: string;
    memoryMiB?: number;
    reboot?: boolean;
}

/** The accelerator: KVM with the host's CPU when this process may open /dev/kvm, else TCG with every CPU feature it emulates. */
export function accelArgs(): string[] {
    return kvmUsable() ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg", "-cpu", "max"];
}

/** QEMU arguments for one machine: q35, KVM or TCG (accelArgs), two vCPUs. */
export function machineArgs(o: MachineOptions): string[] {
    const args = ["-nodefaults", "-machine", "q35", ...accelArgs(), "-smp", "2", "-m", String(o.memoryMiB ?? 1024), "-display", "none"];
    if (!o.reboot) args.push("-no-reboot");
    args.push("-serial", `file:${o.serialFile}`, "-device", "virtio-rng-pci");
    if (o.firmware === Firmware.Uefi) {
        const ovmf = findOvmf();
        if (ovmf === undefined) throw new Error("no UEFI firmware (OVMF) found on this host (see src/local/prerequisites.ts OVMF_CANDIDATES)");
        const vars = path.join(o.work, "OVMF_VARS.fd");
        fs.copyFileSync(ovmf.vars, vars);
        args.push("-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${ovmf.code}`, "-drive", `if=pflash,format=raw,unit=1,file=${vars}`);
    }
    if (o.bus === Bus.Nvme) {
        args.push("-drive", `file=${o.disk},if=none,id=disk,format=qcow2`, "-device", `nvme,drive=disk,serial=${DISK_SERIAL}`);
    } else {
        args.push("-drive", `file=${o.disk},if=virtio,format=qcow2`);
    }
    return args;
}

/** A disk image format QEMU reads the images in. */
export type ImageFormat = "raw" | "qcow2";

/** A qcow2 overlay on `base` (raw or qcow2), optionally larger than it (`size`: bytes, or with a suffix, e.g. "8G"). */
export function overlay(base: string, file: string, format: ImageFormat = "raw", size?: string): void {
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", path.resolve(base), "-F", format, file, ...(size ? [size] : [])]);
}

/** What `qemu-img info` says about an image: its format and its virtual size in bytes. */
export interface DiskInfo {
    format: string;
    virtualSize: number;
}

/** `qemu-img info --output=json` of `image` (format probing: a raw image is reported as raw). */
export function diskInfo(image: string): DiskInfo {
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", image], { encoding: "utf8" })) as { format: string; "virtual-size": number };
    return { format: info.format, virtualSize: info["virtual-size"] };
}

/** What boot() saw. */
export interface BootResult {
    firmware: Firmware;
    bus: Bus;
    /** Serial console output. */
    serial: string;
    /** Where the serial log is kept. */
    serialLog: string;
    /** Seconds from QEMU start to the login prompt, or undefined when it never came. */
    secondsToLogin?: number;
    /** True when QEMU was killed by the timeout. */
    timedOut: boolean;
}

/** How boot() boots. */
export interface BootOptions {
    firmware: Firmware;
    bus: Bus;
    timeoutSeconds: number;
    /** Where the serial log is kept (replaced). */
    serialLog: string;
    /** Image format of `disk` (it gets an overlay either way). */
    format?: ImageFormat;
}

/**
 * Boots `disk` with no network until the login prompt shows (then stops the VM), QEMU exits, or the
 * timeout: for boots that need no metadata service (one that never reaches user space). An instance as on
 * EC2 is instance.ts's.
 */
export async function boot(disk: string, o: BootOptions): Promise<BootResult> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `arch-ami-boot-${o.firmware}-${o.bus}-`));
    const serialLog = o.serialLog;
    fs.mkdirSync(path.dirname(serialLog), { recursive: true });
    fs.rmSync(serialLog, { force: true });
    try {
        const disk2 = path.join(work, "overlay.qcow2");
        overlay(disk, disk2, o.format ?? "raw");
        const args = [...machineArgs({ firmware: o.firmware, bus: o.bus, disk: disk2, work, serialFile: serialLog }), "-nic", "none"];
        const start = Date.now();
        const qemu = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        qemu.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        let secondsToLogin: number | undefined;
        let timedOut = false;
        let stopped = false;
        const timer = setTimeout(() => {
            timedOut = true;
            qemu.kill("SIGKILL");
        }, o.timeoutSeconds * 1000);
        const poll = setInterval(() => {
            if (secondsToLogin === undefined && fs.existsSync(serialLog) && LOGIN_PROMPT.test(fs.readFileSync(serialLog, "latin1"))) {
                secondsToLogin = (Date.now() - start) / 1000;
                stopped = true;
                qemu.kill("SIGTERM");
            }
        }, 250);
        const code = await new Promise<number | null>((r) => qemu.on("exit", (c) => r(c)));
        clearTimeout(timer);
        clearInterval(poll);
        const serial = fs.existsSync(serialLog) ? plain(fs.readFileSync(serialLog, "utf8")) : "";
        if (!timedOut && !stopped && code !== 0) {
            throw new Error(`qemu exited with ${code}: ${stderr}`);
        }
        return { firmware: o.firmware, bus: o.bus, serial, serialLog, secondsToLogin, timedOut };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}
