// npm run bench:firstboot — launches the test image as an EC2 instance (test metadata service, SMBIOS
// "Amazon EC2", disk enlarged) the four boot ways and prints, per way, the seconds from QEMU start to the
// first accepted SSH login as arch, and how much of the boot cloud-init took (cloud-init analyze show;
// systemd-analyze for the whole boot).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { testImage } from "../test/image/testImage";
import { Bus, Firmware } from "../test/boot/qemu";
import { cloudInitSeconds, facts, instance, keyPair, launch } from "../test/firstboot/firstboot";

async function main() {
    const { image } = testImage();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-bench-firstboot-"));
    const key = keyPair(work, "bench-key");
    let n = 0;
    try {
        for (const firmware of [Firmware.Uefi, Firmware.Bios]) {
            for (const bus of [Bus.Nvme, Bus.Virtio]) {
                n++;
                const net = `10.0.${n + 10}.0/24`;
                const label = `${firmware === Firmware.Bios ? "SeaBIOS" : "OVMF"} + ${bus}`.padEnd(16);
                const l = await launch(image, `bench-${firmware}-${bus}`, firmware, bus, instance(`i-0a1b2c3d4e5f6010${n}`, net, key), net, work, key);
                try {
                    const f = await facts(l.vm, key);
                    const ci = cloudInitSeconds(f);
                    const share = ci === undefined ? "?" : `${((100 * ci) / l.secondsToSsh).toFixed(0)} %`;
                    console.log(`${label} ${l.secondsToSsh.toFixed(1)} s to SSH login; cloud-init ${ci?.toFixed(1) ?? "?"} s (${share}); ${f.get("systemd-analyze")?.split("\n")[0] ?? ""}`);
                    console.log(`${"".padEnd(16)} slowest units: ${(f.get("blame") ?? "").split("\n").slice(0, 6).map((s) => s.trim().replace(/\s+/, " ")).join(", ")}`);
                } finally {
                    await l.vm.tearDown();
                }
            }
        }
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

void main();
