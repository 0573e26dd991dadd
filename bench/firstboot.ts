// npm run bench:firstboot — boots, in the same run and under the same harness, our test image and the
// anchor (a stock Debian 13 EC2 cloud root with Debian's own cloud-init, built by bench/anchor/
// build-anchor.sh and cached), each as an EC2 instance (test metadata service with IMDSv2, SMBIOS
// "Amazon EC2", SNTP at 169.254.169.123, test DNS, disk enlarged to 8 GiB) the two ways: OVMF (UEFI) with
// the disk on NVMe, SeaBIOS with the disk on virtio. For each boot it prints the seconds from QEMU start to
// the first accepted SSH login with the metadata key, `systemd-analyze`, cloud-init's total (cloud-init
// analyze show), the slowest units and the critical chain of the SSH server; then the ratios
// ours ÷ anchor against the target ≤ 0.6, and for ours (UEFI + NVMe) a reboot: `sudo systemctl reboot` to
// the first SSH login on the new boot id, ÷ our first boot against the target ≤ 0.7, and whether the
// reboot's serial console shows "A stop job is running"; and ours without a time server: SSH no later
// than the first boot + 30 s, and the console's "not synchronized" message. A benchmark: MISS does not fail it (exit 0); a
// boot that could not be measured does (exit 1).
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { testImage } from "../test/image/testImage";
import { Bus, Firmware } from "../src/local/qemu";
import { cloudInitSeconds, instance, KeyPair, keyPair, launch, SSH_TIMEOUT } from "../test/firstboot/firstboot";
import { Vm } from "../src/local/vm";

const TARGET_FIRST_BOOT = 0.6;
const TARGET_REBOOT = 0.7;
/** Without a time server, SSH no later than the first boot with one plus this many seconds. */
const TARGET_NO_TIME_SERVER_EXTRA = 30;
/** What the image's arch-ami-time-sync-check prints on the console (provision.sh). */
const NO_SYNC_MESSAGE = /arch-ami: the system clock is NOT synchronized[^.]*/;

interface Image {
    name: "ours" | "anchor";
    image: string;
    /** The default user the image's cloud-init creates with the metadata key. */
    user: string;
    /** The SSH server's unit (Debian calls it ssh.service). */
    sshUnit: string;
}

interface Way {
    label: string;
    firmware: Firmware;
    bus: Bus;
}

/** Both ways, or only the one ARCH_AMI_BENCH_FIRMWARE names (uefi or bios), for a shorter rerun. */
const WAYS: Way[] = [
    { label: "UEFI + NVMe", firmware: Firmware.Uefi, bus: Bus.Nvme },
    { label: "SeaBIOS + virtio", firmware: Firmware.Bios, bus: Bus.Virtio },
].filter((w) => !process.env.ARCH_AMI_BENCH_FIRMWARE || w.firmware === process.env.ARCH_AMI_BENCH_FIRMWARE);

/** The anchor's raw disk, built by build-anchor.sh unless its cache has it (the script prints the path). */
function anchorImage(): string {
    const script = path.join(__dirname, "anchor", "build-anchor.sh");
    const r = spawnSync("bash", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error(`${script} failed with exit ${r.status}; see its output above`);
    return r.stdout.trim().split("\n").pop()!;
}

/** Shell run in each guest over SSH (the same for both images): "=== name" sections. */
function report(sshUnit: string): string {
    return String.raw`
sec() { printf '\n=== %s\n' "$1"; }
# The boot may still be going on after the first SSH login: wait for cloud-init and systemd to finish.
sudo cloud-init status --wait >/dev/null 2>&1
systemctl is-system-running --wait >/dev/null 2>&1
sec boot-id; cat /proc/sys/kernel/random/boot_id
sec os; . /etc/os-release; echo "$PRETTY_NAME, kernel $(uname -r), $(cloud-init --version 2>&1), $(systemctl --version | head -n 1)"
sec is-system-running; systemctl is-system-running 2>&1
sec datasource; sudo cat /var/lib/cloud/instance/datasource 2>&1
sec ds-identify; sudo grep -E '^(DMI_SYS_VENDOR|DMI_PRODUCT_UUID)=|^Found |^single entry|datasource_list' /run/cloud-init/ds-identify.log 2>&1 | tr '\n' ';'
sec imdsv2; sudo grep -c 'Fetching Ec2 IMDSv2 API Token' /var/log/cloud-init.log
sec authorized-keys; cat ~/.ssh/authorized_keys
sec ntp-synchronized; timedatectl show -p NTPSynchronized --value
sec systemd-analyze; systemd-analyze 2>&1 | head -n 1
sec ci-analyze; sudo cloud-init analyze show 2>&1 | grep -E 'Total Time|Finished stage' | tail -n 8
sec blame; systemd-analyze blame --no-pager 2>&1 | head -n 8
sec critical-chain; systemd-analyze critical-chain --no-pager ${sshUnit} 2>&1
sec end
`;
}

async function facts(vm: Vm, key: KeyPair, img: Image): Promise<Map<string, string>> {
    const r = await vm.ssh(report(img.sshUnit), { key: key.privateKey, user: img.user, timeoutSeconds: 600 });
    const sections = new Map<string, string>();
    for (const part of r.stdout.split(/^=== /m).slice(1)) {
        const nl = part.indexOf("\n");
        sections.set(part.slice(0, nl).trim(), part.slice(nl + 1).trim());
    }
    if (!sections.has("end")) throw new Error(`the report did not finish (exit ${r.status}): ${r.stderr}\n${r.stdout}`);
    return sections;
}

function indent(text: string, by = 6): string {
    return text
        .split("\n")
        .map((l) => " ".repeat(by) + l)
        .join("\n");
}

/** Prints one boot's figures; warns when the boot did not get its key from the metadata service. */
function printBoot(title: string, seconds: number, f: Map<string, string>, vm: Vm, key: KeyPair): void {
    const ci = cloudInitSeconds(f);
    const requests = vm.requests();
    const keyFetched = requests.some((r) => r.path.includes("public-keys") && r.status === 200 && r.token);
    const ds = f.get("datasource") ?? "";
    console.log(`\n== ${title}: ${seconds.toFixed(1)} s to SSH login`);
    console.log(`   ${f.get("os")}`);
    console.log(`   systemd-analyze: ${f.get("systemd-analyze")}`);
    console.log(`   cloud-init analyze show: total ${ci?.toFixed(2) ?? "?"} s (${ci === undefined ? "?" : ((100 * ci) / seconds).toFixed(0)} % of the time to SSH)`);
    console.log(`   datasource: ${ds}`);
    console.log(`   ds-identify: ${f.get("ds-identify")}`);
    console.log(
        `   metadata service: ${requests.length} requests, ${f.get("imdsv2")} IMDSv2 token fetches logged by cloud-init, key fetched with a token: ${keyFetched ? "yes" : "NO"}, ` +
            `authorized_keys has the metadata key: ${(f.get("authorized-keys") ?? "").includes(key.publicKey.split(" ")[1]) ? "yes" : "NO"}; NTP synchronized: ${f.get("ntp-synchronized")}; system: ${f.get("is-system-running")}`,
    );
    if (!/DataSourceEc2/.test(ds) || !keyFetched) console.log("   WARNING: this boot did not use the Ec2 datasource with the metadata key: the comparison is not fair");
    console.log(`   slowest units:\n${indent(f.get("blame") ?? "")}`);
    console.log(`   critical chain:\n${indent(f.get("critical-chain") ?? "")}`);
}

interface RebootResult {
    seconds: number;
    stopJob: boolean;
    stopJobLines: string[];
    facts: Map<string, string>;
}

/** `sudo systemctl reboot`, then polls SSH until a login lands on a new boot id. */
async function reboot(vm: Vm, key: KeyPair, img: Image, bootId: string): Promise<RebootResult> {
    const serialBefore = vm.serial().length;
    const t0 = Date.now();
    await vm.ssh("sudo systemctl reboot", { key: key.privateKey, user: img.user, timeoutSeconds: 30 });
    for (;;) {
        if (!vm.running) throw new Error(`QEMU exited during the reboot; serial:\n${vm.serial().slice(-4000)}`);
        const r = await vm.ssh("cat /proc/sys/kernel/random/boot_id", { key: key.privateKey, user: img.user, timeoutSeconds: 30 });
        if (r.status === 0 && r.stdout.trim() !== bootId) break;
        if (Date.now() - t0 > SSH_TIMEOUT * 1000) throw new Error(`no SSH login on a new boot within ${SSH_TIMEOUT} s of the reboot; serial:\n${vm.serial().slice(-4000)}`);
        await new Promise((res) => setTimeout(res, 2000));
    }
    const seconds = (Date.now() - t0) / 1000;
    const serial = vm.serial().slice(serialBefore);
    const stopJobLines = [...new Set(serial.split("\n").filter((l) => /A stop job is running/.test(l)).map((l) => l.replace(/\(\d+s \/ /, "(…/ ").trim()))];
    return { seconds, stopJob: stopJobLines.length > 0, stopJobLines, facts: await facts(vm, key, img) };
}

function verdict(ratio: number, target: number): string {
    return ratio <= target ? "PASS" : "MISS";
}

function load(): string {
    return execFileSync("uptime", { encoding: "utf8" }).trim();
}

async function main(): Promise<number> {
    const loadBefore = load();
    const images: Image[] = [
        { name: "ours", image: testImage().image, user: "arch", sshUnit: "sshd.service" },
        // Debian's EC2 images create `admin` (debian-cloud-images config_space/13/files/etc/cloud/cloud.cfg.d/
        // 01_debian_cloud.cfg/EC2); its generic images `debian`.
        { name: "anchor", image: anchorImage(), user: "admin", sshUnit: "ssh.service" },
    ];
    console.log(`load at start: ${loadBefore}`);
    for (const img of images) console.log(`${img.name}: ${img.image}`);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-bench-firstboot-"));
    const key = keyPair(work, "bench-key");
    const seconds = new Map<string, number>();
    const errors: string[] = [];
    let rebooted: RebootResult | undefined;
    let noTime: { seconds: number; message: string } | undefined;
    let n = 0;
    try {
        // Interleaved (ours, anchor; ours, anchor) so that a change of load hits both alike.
        for (const way of WAYS) {
            for (const img of images) {
                n++;
                const net = `10.0.${n + 10}.0/24`;
                const name = `bench-${img.name}-${way.firmware}-${way.bus}`;
                try {
                    const l = await launch(img.image, name, way.firmware, way.bus, instance(`i-0a1b2c3d4e5f6010${n}`, net, key), net, work, key, { user: img.user });
                    try {
                        seconds.set(`${img.name} ${way.label}`, l.secondsToSsh);
                        const f = await facts(l.vm, key, img);
                        printBoot(`${img.name}, ${way.label}`, l.secondsToSsh, f, l.vm, key);
                        if (img.name === "ours" && way.firmware === Firmware.Uefi) {
                            rebooted = await reboot(l.vm, key, img, f.get("boot-id") ?? "");
                            printBoot(`${img.name}, ${way.label}, reboot (from \`systemctl reboot\`)`, rebooted.seconds, rebooted.facts, l.vm, key);
                        }
                    } finally {
                        await l.vm.tearDown();
                    }
                } catch (e) {
                    errors.push(`${img.name}, ${way.label}: ${(e as Error).message}`);
                    console.log(`\n== ${img.name}, ${way.label}: FAILED: ${(e as Error).message}`);
                }
            }
        }
        // Ours once more, UEFI + NVMe, with no time server (169.254.169.123 absent): SSH must not wait for the clock.
        if (!process.env.ARCH_AMI_BENCH_FIRMWARE || process.env.ARCH_AMI_BENCH_FIRMWARE === "uefi") {
            const ours = images[0];
            try {
                const net = "10.0.30.0/24";
                const l = await launch(ours.image, "bench-ours-no-time-server", Firmware.Uefi, Bus.Nvme, instance("i-0a1b2c3d4e5f60130", net, key), net, work, key, { timeServer: false });
                try {
                    noTime = { seconds: l.secondsToSsh, message: "" };
                    const deadline = Date.now() + 300_000;
                    while (!NO_SYNC_MESSAGE.test(l.vm.serial()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2000));
                    noTime.message = NO_SYNC_MESSAGE.exec(l.vm.serial())?.[0] ?? "";
                    const f = await facts(l.vm, key, ours);
                    printBoot("ours, UEFI + NVMe, no time server", l.secondsToSsh, f, l.vm, key);
                } finally {
                    await l.vm.tearDown();
                }
            } catch (e) {
                errors.push(`ours, no time server: ${(e as Error).message}`);
                console.log(`\n== ours, no time server: FAILED: ${(e as Error).message}`);
            }
        }
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }

    console.log("\n== Summary (seconds from QEMU start to the first SSH login)");
    console.log(`   ${"way".padEnd(18)} ${"ours".padStart(8)} ${"anchor".padStart(8)}  ours ÷ anchor  target`);
    for (const way of WAYS) {
        const o = seconds.get(`ours ${way.label}`);
        const a = seconds.get(`anchor ${way.label}`);
        const ratio = o !== undefined && a !== undefined ? o / a : undefined;
        console.log(
            `   ${way.label.padEnd(18)} ${(o?.toFixed(1) ?? "n/a").padStart(8)} ${(a?.toFixed(1) ?? "n/a").padStart(8)}  ${(ratio?.toFixed(2) ?? "n/a").padStart(13)}  ≤ ${TARGET_FIRST_BOOT}  ${ratio === undefined ? "n/a" : verdict(ratio, TARGET_FIRST_BOOT)}`,
        );
    }
    const first = seconds.get("ours UEFI + NVMe");
    if (rebooted && first !== undefined) {
        const ratio = rebooted.seconds / first;
        console.log(
            `   reboot (ours, UEFI + NVMe): ${rebooted.seconds.toFixed(1)} s from \`systemctl reboot\` to SSH on the new boot id; ÷ first boot ${first.toFixed(1)} s = ${ratio.toFixed(2)}, target ≤ ${TARGET_REBOOT}  ${verdict(ratio, TARGET_REBOOT)}`,
        );
        console.log(`   "A stop job is running" on the reboot's serial console: ${rebooted.stopJob ? `yes: ${rebooted.stopJobLines.join(" | ")}` : "no"}`);
    } else {
        console.log("   reboot (ours, UEFI + NVMe): n/a");
    }
    if (noTime && first !== undefined) {
        const ok = noTime.seconds <= first + TARGET_NO_TIME_SERVER_EXTRA;
        console.log(
            `   no time server (ours, UEFI + NVMe): ${noTime.seconds.toFixed(1)} s to SSH; first boot + ${TARGET_NO_TIME_SERVER_EXTRA} s = ${(first + TARGET_NO_TIME_SERVER_EXTRA).toFixed(1)} s  ${ok ? "PASS" : "MISS"}; console: ${noTime.message ? `"${noTime.message}…"` : "NO MESSAGE"}`,
        );
    } else {
        console.log("   no time server (ours, UEFI + NVMe): n/a");
    }
    console.log(`   load at start: ${loadBefore}`);
    console.log(`   load at end:   ${load()}`);
    for (const e of errors) console.log(`   not measured: ${e.split("\n")[0]}`);
    return errors.length ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (e: unknown) => {
        console.error(e);
        process.exit(1);
    },
);
