// Boot proof: the image built through the real provisioning path boots under SeaBIOS and OVMF, on NVMe
// and virtio; the test init reports what it found and each fact is checked. Negative proofs show the test
// can fail (no BIOS core image / no removable EFI loader), and a grown copy boots with the larger root.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { partitions, rootUuid, sh } from "../image/attach";
import { TestImage, skipUnlessCapable, testImage } from "../image/testImage";
import { BOOT_END, BootResult, Bus, Firmware, boot, report } from "./qemu";

const skip = skipUnlessCapable();
const BOOT_TIMEOUT = Number(process.env.ARCH_AMI_BOOT_TIMEOUT ?? 240);
const FAIL_TIMEOUT = Number(process.env.ARCH_AMI_FAIL_TIMEOUT ?? 60);
const CMDLINE = "console=tty0 console=ttyS0,115200 nvme_core.io_timeout=4294967295";
const UNITS = ["sshd", "systemd-networkd", "systemd-resolved", "systemd-timesyncd", "systemd-time-wait-sync", "pacman-init",
    "cloud-init-main", "cloud-init-local", "cloud-init-network", "cloud-config", "cloud-final"];

function checkBoot(r: BootResult, expectedUuid: string, expectedDevice: RegExp, fstype = "ext4"): void {
    assert.ok(!r.timedOut, `booted within ${BOOT_TIMEOUT}s; serial:\n${r.serial.slice(-3000)}`);
    assert.ok(r.secondsToMarker !== undefined, "the ARCH-AMI-BOOT-OK marker appeared");
    assert.ok(r.serial.includes(BOOT_END), "the init reported to the end");
    const rep = report(r.serial);
    assert.match(rep.get("cmdline")!, new RegExp(`root=UUID=${expectedUuid} .*${CMDLINE.replace(/[.]/g, "\\.")}`));
    assert.match(rep.get("root")!, new RegExp(`device=${expectedDevice.source} fstype=${fstype} spec=UUID=${expectedUuid} found-by=UUID`));
    assert.match(rep.get("machine-id at boot")!, /^(absent|empty)$/);
    assert.equal(rep.get("mount -a"), "ok");
    const fstab = [...r.serial.matchAll(/^boot: fstab: (\S+) (\S+) (\S+) (\S+)/gm)].map((m) => [m[1], m[2], m[4]]);
    assert.deepEqual(fstab, [["/", fstype, "mounted"], ["/efi", "vfat", "mounted"]]);
    assert.equal(rep.get("hostname"), "arch-test");
    const units = rep.get("units")!.trim().split(/\s+/);
    for (const u of UNITS) assert.ok(units.includes(`${u}.service`), `${u} enabled`);
    assert.match(r.serial, /GNU GRUB  version/, "GRUB's menu reached the serial console");
    assert.match(r.serial, /Loading Linux linux \.\.\./, "GRUB's own output reached the serial console");
}

describe("boot proof", { skip }, () => {
    let t: TestImage;
    let uuid = "";
    let rootBytes = 0;
    const results: BootResult[] = [];
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-boot-"));
    before(() => {
        t = testImage();
        uuid = rootUuid(t.image);
    });

    const ways: [Firmware, Bus, RegExp][] = [
        [Firmware.Bios, Bus.Nvme, /\/dev\/nvme0n1p3/],
        [Firmware.Bios, Bus.Virtio, /\/dev\/vda3/],
        [Firmware.Uefi, Bus.Nvme, /\/dev\/nvme0n1p3/],
        [Firmware.Uefi, Bus.Virtio, /\/dev\/vda3/],
    ];
    for (const [firmware, bus, device] of ways) {
        it(`boots under ${firmware === Firmware.Bios ? "SeaBIOS" : "OVMF (UEFI)"} with the disk on ${bus}`, async () => {
            const r = await boot(t.image, { firmware, bus, timeoutSeconds: BOOT_TIMEOUT });
            results.push(r);
            checkBoot(r, uuid, device);
            const size = Number(report(r.serial).get("root-size-bytes"));
            assert.ok(size > 3 * 1024 ** 3, `root filesystem ${size} bytes`);
            rootBytes = size;
            console.log(`boot ${firmware}/${bus}: marker after ${r.secondsToMarker!.toFixed(1)} s`);
        });
    }

    it("does not boot under SeaBIOS once the BIOS boot partition is zeroed", async () => {
        const overlay = path.join(work, "no-core.qcow2");
        execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", t.image, "-F", "raw", overlay]);
        const p1 = partitions(t.image)[0];
        execFileSync("qemu-io", ["-f", "qcow2", "-c", `write -z ${p1.startSector * 512} ${(p1.endSector - p1.startSector + 1) * 512}`, overlay]);
        const r = await boot(overlay, { firmware: Firmware.Bios, bus: Bus.Virtio, timeoutSeconds: FAIL_TIMEOUT, format: "qcow2" });
        assert.equal(r.secondsToMarker, undefined, "no marker");
        assert.doesNotMatch(r.serial, /Loading Linux/);
        assert.ok(r.timedOut, "the boot hung until the timeout");
    });

    it("does not boot under OVMF once EFI/BOOT/BOOTX64.EFI is removed", async () => {
        const copy = path.join(work, "no-loader.raw");
        execFileSync("cp", ["--sparse=always", t.image, copy]);
        const esp = partitions(copy)[1];
        execFileSync("mdel", ["-i", `${copy}@@${esp.startSector * 512}`, "::/EFI/BOOT/BOOTX64.EFI"]);
        const r = await boot(copy, { firmware: Firmware.Uefi, bus: Bus.Virtio, timeoutSeconds: FAIL_TIMEOUT });
        fs.rmSync(copy);
        assert.equal(r.secondsToMarker, undefined, "no marker");
        assert.doesNotMatch(r.serial, /Loading Linux/);
    });

    it("boots a copy grown to twice the size with the root partition and filesystem grown", async () => {
        const copy = path.join(work, "grown.raw");
        execFileSync("cp", ["--sparse=always", t.image, copy]);
        const size = fs.statSync(copy).size;
        fs.truncateSync(copy, 2 * size);
        sh("sgdisk", ["-e", copy]); // move the backup GPT to the new end, as on a larger EBS volume
        sh("growpart", [copy, "3"]);
        const loop = sh("losetup", ["--find", "--show", copy]).trim();
        try {
            sh("partx", ["-a", loop]);
            sh("e2fsck", ["-f", "-y", `${loop}p3`]);
            sh("resize2fs", [`${loop}p3`]);
        } finally {
            sh("partx", ["-d", loop]);
            sh("losetup", ["-d", loop]);
        }
        const r = await boot(copy, { firmware: Firmware.Bios, bus: Bus.Virtio, timeoutSeconds: BOOT_TIMEOUT });
        fs.rmSync(copy);
        checkBoot(r, uuid, /\/dev\/vda3/);
        const grown = Number(report(r.serial).get("root-size-bytes"));
        assert.ok(rootBytes > 0);
        assert.ok(grown > 1.9 * rootBytes, `grown root ${grown} bytes vs ${rootBytes}`);
    });

    it("boots the btrfs variant under OVMF with the disk on NVMe", async () => {
        const b = testImage("btrfs");
        const r = await boot(b.image, { firmware: Firmware.Uefi, bus: Bus.Nvme, timeoutSeconds: BOOT_TIMEOUT });
        checkBoot(r, rootUuid(b.image), /\/dev\/nvme0n1p3/, "btrfs");
    });
});
