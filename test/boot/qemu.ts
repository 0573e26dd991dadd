// Boots a disk image under QEMU (TCG) the four ways EC2 can: SeaBIOS or OVMF (UEFI), disk on NVMe (Nitro)
// or virtio. Each boot uses a copy-on-write overlay, a fresh copy of the UEFI variable store (no NVRAM
// entries: the removable path EFI/BOOT/BOOTX64.EFI must be enough), -no-reboot and a timeout; the serial
// console goes to a file that is watched for the test init's marker.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const Firmware = { Bios: "bios", Uefi: "uefi" } as const;
export type Firmware = (typeof Firmware)[keyof typeof Firmware];
export const Bus = { Nvme: "nvme", Virtio: "virtio" } as const;
export type Bus = (typeof Bus)[keyof typeof Bus];

export const BOOT_MARKER = "ARCH-AMI-BOOT-OK";
export const BOOT_END = "ARCH-AMI-BOOT-END";
const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

export interface BootResult {
    firmware: Firmware;
    bus: Bus;
    /** Serial console output. */
    serial: string;
    /** Seconds from QEMU start to the marker, or undefined when it never came. */
    secondsToMarker?: number;
    /** True when QEMU was killed by the timeout. */
    timedOut: boolean;
}

export interface BootOptions {
    firmware: Firmware;
    bus: Bus;
    timeoutSeconds: number;
    /** Image format of `disk` (raw images get an overlay; qcow2 is used as given). */
    format?: "raw" | "qcow2";
}

export async function boot(disk: string, o: BootOptions): Promise<BootResult> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `arch-ami-boot-${o.firmware}-${o.bus}-`));
    try {
        const overlay = path.join(work, "overlay.qcow2");
        execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", disk, "-F", o.format ?? "raw", overlay]);
        const serialFile = path.join(work, "serial.log");
        const args = ["-nodefaults", "-machine", "q35", "-accel", "tcg", "-m", "1024", "-display", "none", "-no-reboot", "-nic", "none"];
        args.push("-serial", `file:${serialFile}`);
        if (o.firmware === Firmware.Uefi) {
            const vars = path.join(work, "OVMF_VARS.fd");
            fs.copyFileSync(OVMF_VARS, vars);
            args.push("-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, "-drive", `if=pflash,format=raw,unit=1,file=${vars}`);
        }
        if (o.bus === Bus.Nvme) {
            args.push("-drive", `file=${overlay},if=none,id=disk,format=qcow2`, "-device", "nvme,drive=disk,serial=vol0a1b2c3d4e5f67890");
        } else {
            args.push("-drive", `file=${overlay},if=virtio,format=qcow2`);
        }
        const start = Date.now();
        const qemu = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        qemu.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        let secondsToMarker: number | undefined;
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            qemu.kill("SIGKILL");
        }, o.timeoutSeconds * 1000);
        const poll = setInterval(() => {
            if (secondsToMarker === undefined && fs.existsSync(serialFile) && fs.readFileSync(serialFile, "latin1").includes(BOOT_MARKER)) {
                secondsToMarker = (Date.now() - start) / 1000;
            }
        }, 100);
        const code = await new Promise<number | null>((r) => qemu.on("exit", r));
        clearTimeout(timer);
        clearInterval(poll);
        const serial = fs.existsSync(serialFile) ? fs.readFileSync(serialFile, "latin1") : "";
        if (secondsToMarker === undefined && serial.includes(BOOT_MARKER)) {
            secondsToMarker = (Date.now() - start) / 1000;
        }
        if (!timedOut && code !== 0) {
            throw new Error(`qemu exited with ${code}: ${stderr}`);
        }
        return { firmware: o.firmware, bus: o.bus, serial, secondsToMarker, timedOut };
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

/** The test init's "boot: key: value" report lines. */
export function report(serial: string): Map<string, string> {
    return new Map(
        [...serial.matchAll(/^boot: ([a-z -]+): (.*?)\r?$/gm)].map((m) => [m[1], m[2]] as [string, string]),
    );
}
