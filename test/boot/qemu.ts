// Boots a disk image under QEMU (TCG) the four ways EC2 can: SeaBIOS or OVMF (UEFI), disk on NVMe (Nitro)
// or virtio. Each boot uses a copy-on-write overlay, a fresh copy of the UEFI variable store (no NVRAM
// entries: the removable path EFI/BOOT/BOOTX64.EFI must be enough), -no-reboot and a timeout. The serial
// console goes to a file that is watched for the real system's login prompt (systemd's serial getty on
// ttyS0); the file is kept in the test output folder for diagnosis.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const Firmware = { Bios: "bios", Uefi: "uefi" } as const;
export type Firmware = (typeof Firmware)[keyof typeof Firmware];
export const Bus = { Nvme: "nvme", Virtio: "virtio" } as const;
export type Bus = (typeof Bus)[keyof typeof Bus];

/** Serial output as text: no CR, no terminal colour/control sequences (systemd colours its status lines). */
export function plain(serial: string): string {
    return serial.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g, "");
}

/** agetty's prompt: "<hostname> login: " at the start of a line. */
export const LOGIN_PROMPT = /^(\S+) login: /m;
const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/** The volume id the tests give the disk (the NVMe serial, as EBS does). */
export const DISK_SERIAL = "vol0a1b2c3d4e5f67890";

/** Where the tests keep their artifacts (serial logs); ARCH_AMI_TEST_OUTPUT or test-output/ in the repository. */
export const TEST_OUTPUT = process.env.ARCH_AMI_TEST_OUTPUT ?? path.resolve(__dirname, "../../test-output");

export function outputPath(...parts: string[]): string {
    const p = path.join(TEST_OUTPUT, ...parts);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    return p;
}

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

/** QEMU arguments for one machine: q35, TCG with all the CPU features it emulates, two vCPUs. */
export function machineArgs(o: MachineOptions): string[] {
    const args = ["-nodefaults", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", String(o.memoryMiB ?? 1024), "-display", "none"];
    if (!o.reboot) args.push("-no-reboot");
    args.push("-serial", `file:${o.serialFile}`, "-device", "virtio-rng-pci");
    if (o.firmware === Firmware.Uefi) {
        const vars = path.join(o.work, "OVMF_VARS.fd");
        fs.copyFileSync(OVMF_VARS, vars);
        args.push("-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, "-drive", `if=pflash,format=raw,unit=1,file=${vars}`);
    }
    if (o.bus === Bus.Nvme) {
        args.push("-drive", `file=${o.disk},if=none,id=disk,format=qcow2`, "-device", `nvme,drive=disk,serial=${DISK_SERIAL}`);
    } else {
        args.push("-drive", `file=${o.disk},if=virtio,format=qcow2`);
    }
    return args;
}

/** A qcow2 overlay on `base` (raw or qcow2), optionally larger than it. */
export function overlay(base: string, file: string, format: "raw" | "qcow2" = "raw", size?: string): void {
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", format, file, ...(size ? [size] : [])]);
}

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

export interface BootOptions {
    firmware: Firmware;
    bus: Bus;
    timeoutSeconds: number;
    /** Name of the kept serial log (test-output/boot/<name>.serial.log). */
    name: string;
    /** Image format of `disk` (raw images get an overlay; qcow2 is used as given). */
    format?: "raw" | "qcow2";
}

/** Boots until the login prompt shows (then stops the VM), QEMU exits, or the timeout. */
export async function boot(disk: string, o: BootOptions): Promise<BootResult> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `arch-ami-boot-${o.firmware}-${o.bus}-`));
    const serialLog = outputPath("boot", `${o.name}.serial.log`);
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
