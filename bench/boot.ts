// npm run bench:boot — boots the test image (built by test-image.sh, cached) the four ways and prints
// the time from QEMU start to systemd's login prompt on the serial console for each.
import { testImage } from "../test/image/testImage";
import { Bus, Firmware, boot } from "../src/local/qemu";
import { outputPath } from "../test/lib/output";

async function main() {
    const { image } = testImage();
    for (const firmware of [Firmware.Bios, Firmware.Uefi]) {
        for (const bus of [Bus.Nvme, Bus.Virtio]) {
            const r = await boot(image, { firmware, bus, timeoutSeconds: 300, serialLog: outputPath("boot", `bench-${firmware}-${bus}.serial.log`) });
            const label = `${firmware === Firmware.Bios ? "SeaBIOS" : "OVMF"} + ${bus}`.padEnd(16);
            console.log(`${label} ${r.secondsToLogin === undefined ? `NO LOGIN PROMPT (serial: ${r.serialLog})` : `${r.secondsToLogin.toFixed(1)} s to the login prompt`}`);
            if (r.secondsToLogin === undefined) process.exitCode = 1;
        }
    }
}

void main();
