// First boot as EC2 does it: the provisioned test image (real systemd, cloud-init, OpenSSH, sudo, kernel)
// boots under QEMU with SMBIOS saying "Amazon EC2", the test metadata service (IMDSv2 only) at
// 169.254.169.254 and SNTP at 169.254.169.123, on a disk larger than the image, and everything a user
// expects is proven from outside over SSH. Boots are budgeted (TCG is slow): UEFI + NVMe first boot and a
// reboot; a second launch of the same image (other instance id) under SeaBIOS + virtio; the btrfs image
// under UEFI + NVMe. Serial logs and metadata request logs are kept in test-output/firstboot/.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { skipUnlessCapable, testImage } from "../image/testImage";
import { Bus, Firmware } from "../../src/local/qemu";
import { AttachedImage, sh } from "../image/attach";
import { LOCAL_DNS_ADDRESS, LOCAL_DNS_NAME, localHostname } from "../../src/local/imds";
import { DISK_BYTES, KeyPair, Launch, SSH_TIMEOUT, cloudInitSeconds, facts, instance, keyPair, launch, order } from "./firstboot";
import { Vm } from "../../src/local/vm";
import { verifyScript } from "../../src/render";
import { TEST_IMAGE_HOSTNAME } from "../image/testImage";
import { verifyCommand } from "../../src/image/verify";
import { TEST_KERNEL_PARAMETER, TEST_SERVICE_MARKER } from "../image/customization";

const skip = skipUnlessCapable();
const TIME_SERVERS = "169.254.169.123 fd00:ec2::123";
/** Per-instance modules whose semaphores must not change on a reboot. */
const PER_INSTANCE = ["config_ssh", "config_users_groups", "config_set_passwords"];

interface Proven {
    hostKeys: string[];
    machineId: string;
    bootId: string;
    sem: Map<string, string>;
}

function section(f: Map<string, string>, name: string): string {
    const v = f.get(name);
    assert.ok(v !== undefined, `report section ${name}`);
    return v;
}

/** Login rules: the metadata key and only it; no root, no password. */
async function proveLogin(vm: Vm, key: KeyPair, other: KeyPair): Promise<void> {
    const ok = await vm.ssh("id -un", { key: key.privateKey });
    assert.equal(ok.status, 0, `ssh -i <metadata key> arch@ works: ${ok.stderr}`);
    assert.equal(ok.stdout.trim(), "arch");
    const wrong = await vm.ssh("true", { key: other.privateKey });
    assert.equal(wrong.status, 255, "another key is refused");
    assert.match(wrong.stderr, /Permission denied \(publickey\)/);
    const root = await vm.ssh("id -un", { user: "root", key: key.privateKey });
    assert.notEqual(root.stdout.trim(), "root", "root login with the metadata key is refused");
    assert.equal(root.status, 255, `root login refused: ${root.stdout} ${root.stderr}`);
    const password = await vm.ssh("true", { extra: ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"] });
    assert.equal(password.status, 255, "password login refused");
    // sshd offers public keys only: no password or keyboard-interactive method to try.
    assert.match(password.stderr, /Permission denied \(publickey\)/);
}

function proveCloudInit(f: Map<string, string>, vm: Vm): void {
    const status = JSON.parse(section(f, "cloud-init-status")) as { status: string; errors: unknown[]; recoverable_errors: Record<string, unknown[]> };
    assert.equal(status.status, "done", `cloud-init status: ${section(f, "cloud-init-status")}`);
    assert.deepEqual(status.errors, [], "no cloud-init errors");
    assert.deepEqual(status.recoverable_errors, {}, `no recoverable errors; warnings in cloud-init.log:\n${f.get("cloud-init-warnings")}`);
    // cloud-init's stages.py (_write_to_cache) writes "<class name>: <str(ds)>", and DataSource.__str__ is the
    // class name (cloudinit/sources/__init__.py). DataSourceEc2Local (DataSourceEc2.py) is the Ec2 datasource
    // of the init-local stage: it only answers when the platform is AWS (cloud_name "aws", from SMBIOS),
    // brings up ephemeral DHCP itself and renders the network config from the metadata before networking.
    assert.equal(section(f, "datasource"), "DataSourceEc2Local: DataSourceEc2Local", "the Ec2 datasource was selected in the init-local stage");
    assert.equal(section(f, "instance-id"), vm.o.instance.instanceId);
    assert.ok(Number(section(f, "imdsv2")) > 0, "cloud-init fetched an IMDSv2 token");
    const reqs = vm.requests().filter((r) => r.method !== "NTP");
    assert.ok(reqs.some((r) => r.method === "PUT" && r.path.endsWith("/api/token") && r.status === 200), "a token was PUT");
    const gets = reqs.filter((r) => r.method === "GET");
    assert.ok(gets.some((r) => r.path.includes("public-keys")), "the public key was read from the metadata service");
    assert.deepEqual(gets.filter((r) => !r.token || r.status === 401), [], "every GET carried a valid token (IMDSv2 only)");
}

/** The metadata service as the guest reaches it: a token over IPv4 and IPv6, none with X-Forwarded-For. */
function proveGuestImds(f: Map<string, string>): void {
    const lines = section(f, "imds-guest");
    console.log(`metadata service from the guest: ${lines.replace(/\n/g, "; ")}`);
    assert.match(lines, /^ipv4 200$/m, "a token PUT from the guest gets a token");
    assert.match(lines, /^ipv4-xff 403$/m, "a token PUT from the guest with X-Forwarded-For gets 403");
    assert.match(lines, /^ipv6 200$/m, "the IPv6 endpoint [fd00:ec2::254] gives the guest a token");
}

function proveSystem(f: Map<string, string>): void {
    assert.equal(section(f, "is-system-running"), "running", `failed units:\n${f.get("failed-units")}`);
    assert.match(section(f, "sudo"), /sudo-ok/, "sudo -n true works for arch");
}

/** What the image file says before any boot: its root filesystem's UUID, type and size. */
interface ImageRoot {
    uuid: string;
    fstype: string;
    bytes: number;
}

/** Reads the root filesystem (partition 3) of an image file, mounted read-only on this machine. */
function imageRoot(image: string): ImageRoot {
    const img = new AttachedImage(image);
    try {
        const bytes = Number(sh("df", ["-B1", "--output=size", img.root]).split("\n")[1].trim());
        return { uuid: img.blkid(3, "UUID"), fstype: img.blkid(3, "TYPE"), bytes };
    } finally {
        img.detach();
    }
}

/**
 * The root, as the guest sees it: the image's filesystem (same UUID, read-write) on the device of the bus
 * it was attached to, grown by cloud-init (growpart + resize) from the size it has in the image file to
 * the enlarged volume.
 */
function proveRoot(f: Map<string, string>, vm: Vm, image: ImageRoot): void {
    const [source, uuid, fstype, options] = section(f, "root-mount").split(/\s+/);
    assert.equal(source, vm.o.bus === Bus.Nvme ? "/dev/nvme0n1p3" : "/dev/vda3", "/ is partition 3 of the instance's disk");
    assert.equal(uuid, image.uuid, "/ is the image's root filesystem (its UUID, read from the image file)");
    assert.equal(fstype, image.fstype);
    assert.match(options, /^rw,/, "mounted read-write");
    assert.equal(section(f, "root-fstype"), image.fstype);
    const disk = Number(section(f, "disk-bytes"));
    const part = Number(section(f, "root-part-bytes"));
    const root = Number(section(f, "root-bytes"));
    assert.equal(disk, DISK_BYTES, "the instance's disk is the enlarged volume");
    // BIOS boot (1 MiB) + ESP (300 MiB) precede the root partition: growpart extended it to the disk's end.
    assert.ok(part > disk - 310 * 1024 ** 2, `root partition ${part} bytes fills the ${disk}-byte disk (growpart)`);
    // The filesystem was resized into it; ext4/btrfs metadata takes the rest.
    assert.ok(root > 0.95 * part, `root filesystem ${root} bytes fills the ${part}-byte partition (resize)`);
    assert.ok(root > 1.5 * image.bytes, `the guest's root filesystem (${root} bytes) grew from the image's (${image.bytes} bytes)`);
}

/** How the image was built: the ext4 image without a hostname (the default), the btrfs image with one. */
type Hostname = "metadata" | "pinned";

/** The hostname the instance must have: the metadata service's local-hostname, or the image's pinned one. */
function expectedHostname(vm: Vm, hostname: Hostname): string {
    return hostname === "metadata" ? localHostname(vm.o.instance).split(".")[0] : TEST_IMAGE_HOSTNAME;
}

function proveNetwork(f: Map<string, string>, vm: Vm, hostname: Hostname): void {
    const metadata = localHostname(vm.o.instance).split(".")[0];
    const expected = expectedHostname(vm, hostname);
    assert.notEqual(metadata, TEST_IMAGE_HOSTNAME);
    if (hostname === "metadata") {
        // Built without a hostname (no /etc/hostname, preserve_hostname false): cloud-init set the metadata
        // service's local-hostname.
        assert.equal(section(f, "hostname"), metadata, "the hostname is the metadata service's local-hostname");
        assert.match(section(f, "etc-hostname"), new RegExp(`^${metadata}(\\.|$)`), "cloud-init wrote it to /etc/hostname");
    } else {
        // An explicit hostname: cloud-init keeps it (preserve_hostname) although the metadata service offers
        // its own, which the instance still resolves.
        assert.equal(section(f, "hostname"), TEST_IMAGE_HOSTNAME, "the image's explicit hostname survived cloud-init's first boot");
    }
    assert.ok(vm.requests().some((r) => r.method === "GET" && /local-hostname/.test(r.path)), "cloud-init read the metadata hostname");
    // cloud-init rendered the metadata's network config with netplan (the image's first renderer); netplan
    // generated systemd-networkd units, networkd brought the interface up.
    assert.match(section(f, "netplan"), new RegExp(`macaddress: ['"]?${vm.o.instance.mac}`, "i"));
    assert.match(section(f, "network-config"), /Selected renderer 'netplan'/);
    const nc = section(f, "networkctl");
    assert.match(nc, /Network File: \/run\/systemd\/network\/10-netplan-\S+\.network/);
    assert.match(nc, /State: routable \(configured\)/);
    assert.match(nc, new RegExp(`Address: ${vm.o.instance.localIpv4.replace(/\./g, "\\.")} \\(DHCPv4`));
    // DNS through systemd-resolved: the stub resolver, the DHCP-provided server, a query answered by it.
    assert.equal(section(f, "resolv-conf-link"), "../run/systemd/resolve/stub-resolv.conf");
    assert.equal(section(f, "resolv-conf"), "nameserver 127.0.0.53");
    const dnsServer = vm.o.net.split("/")[0].replace(/\.0$/, ".3");
    assert.match(section(f, "resolvectl-dns"), new RegExp(dnsServer.replace(/\./g, "\\.")));
    // The own hostname is synthesized by resolved (no DNS server involved): kept as a check of the hostname.
    assert.match(section(f, "resolve-query"), new RegExp(`^${expected}: `), "resolved answers for the instance's hostname");
    assert.match(section(f, "getent"), new RegExp(vm.o.instance.localIpv4.replace(/\./g, "\\.")));
    proveDns(f, vm);
    // Amazon Time Sync, and synchronized with it; the unit that reports an unsynchronized clock passed.
    assert.match(section(f, "timesync"), new RegExp(`SystemNTPServers=${TIME_SERVERS}`));
    assert.match(section(f, "timesync"), /ServerAddress=169\.254\.169\.123/);
    assert.equal(section(f, "ntp-synchronized"), "yes");
    assert.ok(vm.requests().some((r) => r.method === "NTP"), "timesyncd asked the Amazon Time Sync address");
    // Type=exec without RemainAfterExit: inactive once it saw the clock synchronized.
    assert.match(section(f, "time-sync-check"), /^Result=success$/m, "arch-ami-time-sync-check saw the clock synchronized");
    assert.doesNotMatch(section(f, "time-sync-check"), /^ActiveState=failed$/m);
}

/**
 * A real DNS resolution: the name only the test DNS server knows (imds.ts) goes from the guest through
 * systemd-resolved to the DHCP-announced DNS server (QEMU's 10.0.x.3), which forwards to the test server in
 * the namespace (vm.ts); the answer is the server's address, the server logged the question, resolved's
 * statistics (reset just before) count the transactions and the cache hits of the repeated lookups.
 */
function proveDns(f: Map<string, string>, vm: Vm): void {
    assert.equal(section(f, "dns-reset"), "reset");
    const addr = LOCAL_DNS_ADDRESS.replace(/\./g, "\\.");
    assert.match(section(f, "dns-query"), new RegExp(`^${LOCAL_DNS_NAME}: ${addr}\\b`), "resolved's answer is the test DNS server's");
    assert.match(section(f, "dns-getent"), new RegExp(`^${addr}\\s+STREAM ${LOCAL_DNS_NAME}`, "m"), "NSS (getent, as verify.sh) gets it");
    assert.equal(section(f, "dns-stub"), `rcode 0 answers 1 last ${LOCAL_DNS_ADDRESS}`, "a plain DNS query to the stub at 127.0.0.53 gets it");
    assert.match(section(f, "dns-nxdomain"), new RegExp(`^nonexistent\\.${LOCAL_DNS_NAME.replace(/\./g, "\\.")}: Name '.*' not found$`, "m"), "a name the server does not know does not resolve");
    assert.match(section(f, "dns-nxdomain"), /^exit [1-9]/m);
    const stats = section(f, "resolved-stats");
    const total = Number(/Total Transactions:\s*(\d+)/.exec(stats)?.[1]);
    const hits = Number(/Cache Hits:\s*(\d+)/.exec(stats)?.[1]);
    assert.ok(total >= 2, `resolved made DNS transactions for the two names since the reset: ${stats}`);
    assert.ok(hits >= 1, `the repeated lookups of the name came from resolved's cache: ${stats}`);
    const dns = vm.requests().filter((r) => r.method === "DNS");
    assert.ok(dns.some((r) => r.path === `${LOCAL_DNS_NAME} 1` && r.status === 0), `the test DNS server answered the A question: ${JSON.stringify(dns)}`);
    assert.ok(dns.some((r) => r.path === `nonexistent.${LOCAL_DNS_NAME} 1` && r.status === 3), "and refused the unknown name (NXDOMAIN)");
}

function provePacmanInit(f: Map<string, string>, firstBoot: boolean): void {
    const unit = section(f, "pacman-init");
    if (firstBoot) {
        assert.match(unit, /ActiveState=active/);
        assert.match(unit, /Result=success/);
        assert.match(unit, /ConditionResult=yes/);
        // Populated from the image's keyring package: the packager keys are fully valid through the trusted main keys.
        assert.match(section(f, "keyring"), /\[\s*full\s*\] arch-ami test packager 2026 <packager-2026@arch-ami\.invalid>/, "the keyring was populated");
        assert.match(section(f, "keyring"), /pacman Keyring Master Key|Pacman Keyring Master Key/i, "the keyring was initialized (local master key)");
        assert.equal(section(f, "pacman-init-runs"), "1", "pacman-init ran exactly once on the first boot");
        // Before anyone can log in and use pacman: the keyring was ready before sshd started.
        const t = order(f);
        assert.ok(t.get("pacman-init")! > 0 && t.get("pacman-init")! < t.get("sshd")!, `pacman-init finished before sshd started: ${f.get("order")}`);
    } else {
        // Skipped by ConditionFirstBoot: with the first boot's single run, it ran once on this instance.
        assert.match(unit, /ConditionResult=no/, "pacman-init does not run again on a later boot");
        assert.match(unit, /ActiveState=inactive/);
    }
}

/**
 * cloud-init's process starts before basic.target, as Debian's and Ubuntu's units have it (the image's
 * drop-in; Arch's rendering of cloud-init's unit templates orders it after basic.target): the SSH path
 * (cloud-init local and network stages) starts as soon as the root is writable.
 */
function proveEarlyCloudInit(f: Map<string, string>): void {
    const t = order(f);
    assert.ok(t.get("cloud-init-main")! > 0 && t.get("cloud-init-main")! < t.get("basic.target")!, `cloud-init-main started before basic.target: ${f.get("order")}`);
}

function proveSshd(f: Map<string, string>): void {
    const t = section(f, "sshd-t");
    assert.match(t, /^permitrootlogin no$/m);
    assert.match(t, /^passwordauthentication no$/m);
    assert.match(t, /^kbdinteractiveauthentication no$/m);
}

function semaphores(f: Map<string, string>): Map<string, string> {
    return new Map(section(f, "sem").split("\n").map((l) => l.split(" ") as [string, string]));
}

/** The customized (ext4) image: its kernel parameter is on the command line, the AUR package's service ran. */
function proveCustomized(f: Map<string, string>): void {
    assert.ok(section(f, "cmdline").split(" ").includes(TEST_KERNEL_PARAMETER), `kernel parameter in /proc/cmdline: ${section(f, "cmdline")}`);
    const [enabled, active, ...marker] = section(f, "aur-demo").split("\n");
    assert.equal(enabled, "enabled", "the AUR package's service is enabled");
    assert.equal(active, "active", "the AUR package's service ran (oneshot, RemainAfterExit)");
    assert.equal(marker.join("\n") + "\n", TEST_SERVICE_MARKER.content, "its marker holds the pinned AUR dependency's output");
}

/** Every first-boot fact; returns what later launches and the reboot compare. */
async function proveFirstBoot(l: Launch, key: KeyPair, other: KeyPair, image: ImageRoot): Promise<Proven> {
    const customized = image.fstype === "ext4";
    const { vm } = l;
    await proveLogin(vm, key, other);
    const f = await facts(vm, key);
    proveCloudInit(f, vm);
    proveSystem(f);
    proveRoot(f, vm, image);
    proveGuestImds(f);
    proveNetwork(f, vm, customized ? "metadata" : "pinned");
    if (customized) proveCustomized(f);
    provePacmanInit(f, true);
    proveEarlyCloudInit(f);
    proveSshd(f);
    // The instance's host keys as files (read inside: ssh-keyscan under load can miss one), and what sshd
    // offers (keyscan) is among them.
    const hostKeys = section(f, "host-keys").split("\n").filter(Boolean).sort();
    assert.ok(hostKeys.length >= 2, `host keys: ${hostKeys.join(", ")}`);
    for (const k of vm.hostKeys()) assert.ok(hostKeys.includes(k), `sshd offers ${k.slice(0, 40)}…, one of the instance's keys`);
    const btime = Number(section(f, "btime"));
    for (const line of section(f, "host-keys-mtime").split("\n")) {
        assert.ok(Number(line.split(" ")[0]) >= btime, `host key generated on this boot: ${line} (boot at ${btime})`);
    }
    const machineId = section(f, "machine-id");
    assert.match(machineId, /^[0-9a-f]{32}$/);
    const ci = cloudInitSeconds(f);
    console.log(`${vm.o.name}: boot to SSH login ${l.secondsToSsh.toFixed(1)} s; cloud-init ${ci?.toFixed(1) ?? "?"} s; ${f.get("systemd-analyze")?.split("\n")[0]}\ncritical chain to sshd:\n${f.get("critical-chain")}`);
    return { hostKeys, machineId, bootId: section(f, "boot-id"), sem: semaphores(f) };
}

/**
 * provision/verify.sh, the check that gates `amiId` on AWS, run exactly as the component runs it (its own
 * command line, as the default user): it passes on this first boot, and fails naming the check when one
 * thing is broken on purpose (a failed unit). The name its DNS check resolves is the one the test DNS
 * server knows (proveDns), through systemd-resolved and the DHCP-announced server.
 */
async function proveVerifyScript(vm: Vm, key: KeyPair): Promise<void> {
    const args = ["--packages", "base linux", "--dns-name", LOCAL_DNS_NAME, "--require-time-sync"];
    // The failing case first: a failed check leaves the instance running.
    const broken = await vm.ssh("sudo systemd-run --unit=arch-ami-broken-on-purpose --wait /bin/false; true", { key: key.privateKey, timeoutSeconds: 120 });
    assert.equal(broken.status, 0, broken.stderr);
    const bad = await vm.ssh(verifyCommand(verifyScript(), args), { key: key.privateKey, timeoutSeconds: 600 });
    assert.equal(bad.status, 1, `verify.sh fails with a failed unit:\n${bad.stdout}\n${bad.stderr}`);
    assert.match(bad.stdout, /^FAILED: system running, no failed unit: .*arch-ami-broken-on-purpose/m);
    assert.match(bad.stdout, /verify: 1 check\(s\) failed: system running, no failed unit$/m);
    assert.match(bad.stderr, /verification of the new AMI failed \(verify\.sh exit 1\)/);
    assert.ok(vm.running, "a failed check leaves the instance running for inspection");
    const reset = await vm.ssh("sudo systemctl reset-failed arch-ami-broken-on-purpose.service", { key: key.privateKey, timeoutSeconds: 60 });
    assert.equal(reset.status, 0, reset.stderr);
    // Then the passing check, which powers the instance off a few seconds later (on EC2, shutdown behaviour
    // `terminate` makes that a termination): here QEMU exits. The instance is started again for the reboot proof.
    const ok = await vm.ssh(verifyCommand(verifyScript(), args), { key: key.privateKey, timeoutSeconds: 600 });
    assert.equal(ok.status, 0, `verify.sh passes on a good first boot:\n${ok.stdout}\n${ok.stderr}`);
    assert.match(ok.stdout, /verify: all checks passed/);
    assert.equal((ok.stdout.match(/^ok: /gm) ?? []).length, 8, ok.stdout);
    assert.equal(await vm.waitForExit(180), 0, "a passed check powers the instance off (QEMU exits cleanly, not killed)");
    vm.start();
    await vm.waitForSsh(key.privateKey, SSH_TIMEOUT);
    console.log(`${vm.o.name}: verify.sh passed (8 checks) and failed on purpose naming "system running"`);
}

describe("first boot as on EC2 (IMDSv2, real systemd, cloud-init, OpenSSH)", { skip }, () => {
    let work = "";
    let key: KeyPair;
    let other: KeyPair;
    let image = "";
    let ext4: ImageRoot;
    let first: Proven | undefined;
    const vms: Vm[] = [];

    before(() => {
        image = testImage().image;
        ext4 = imageRoot(image);
        work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-firstboot-"));
        key = keyPair(work, "arch-ami-test-key");
        other = keyPair(work, "not-the-key-pair");
    });
    after(async () => {
        for (const vm of vms) await vm.tearDown();
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("UEFI + NVMe: first boot proves every first-boot fact; a reboot keeps host keys and runs no per-instance module again", { timeout: (SSH_TIMEOUT * 2 + 900) * 1000 }, async () => {
        const net = "10.0.2.0/24";
        const l = await launch(image, "uefi-nvme", Firmware.Uefi, Bus.Nvme, instance("i-0a1b2c3d4e5f60001", net, key), net, work, key);
        vms.push(l.vm);
        try {
            first = await proveFirstBoot(l, key, other, ext4);
            await proveVerifyScript(l.vm, key);

            // Reboot the same instance.
            await l.vm.ssh("sudo systemctl reboot", { key: key.privateKey, timeoutSeconds: 30 });
            const rebootStart = Date.now();
            await new Promise((r) => setTimeout(r, 5000));
            let booted: Map<string, string> | undefined;
            while (Date.now() - rebootStart < SSH_TIMEOUT * 1000) {
                const r = await l.vm.ssh("cat /proc/sys/kernel/random/boot_id", { key: key.privateKey, timeoutSeconds: 30 });
                if (r.status === 0 && r.stdout.trim() !== first.bootId) {
                    booted = await facts(l.vm, key);
                    break;
                }
                await new Promise((res) => setTimeout(res, 2000));
            }
            assert.ok(booted, `the instance came back after the reboot; serial:\n${l.vm.serial().slice(-3000)}`);
            console.log(`uefi-nvme: reboot to SSH login ${((Date.now() - rebootStart) / 1000).toFixed(1)} s (first boot ${l.secondsToSsh.toFixed(1)} s)\ncritical chain to sshd:\n${booted.get("critical-chain")}`);
            // The shutdown of the reboot (and of the power-off after verify.sh) waited for no unit: systemd
            // prints "A stop job is running for …" on the console when a stop job takes longer than a few
            // seconds (src/core/manager.c, manager_status_printf / the jobs-in-progress cylon).
            // The kept log holds the earlier power cycles (the first boot and its power-off), serial() this one.
            const console_ = fs.readFileSync(l.vm.o.serialLog, "utf8") + l.vm.serial();
            assert.match(console_, /reboot: Restarting system/, "the reboot's shutdown is on the console");
            // The text with StatusUnitFormat=description (the default) and with name/combined.
            assert.doesNotMatch(console_, /A stop job is running|Job \S+\/stop running/, "no stop job held up the power-off or the reboot");
            assert.deepEqual(section(booted, "host-keys").split("\n").filter(Boolean).sort(), first.hostKeys, "host keys kept across the reboot");
            assert.equal(section(booted, "machine-id"), first.machineId, "machine-id kept across the reboot");
            const sem = semaphores(booted);
            for (const m of PER_INSTANCE) {
                assert.ok(first.sem.has(m), `per-instance module ${m} ran on first boot`);
                assert.equal(sem.get(m), first.sem.get(m), `per-instance module ${m} did not run again`);
            }
            provePacmanInit(booted, false);
            assert.equal(section(booted, "is-system-running"), "running", `failed units:\n${booted.get("failed-units")}`);
            const status = JSON.parse(section(booted, "cloud-init-status")) as { status: string; recoverable_errors: object };
            assert.equal(status.status, "done");
            assert.deepEqual(status.recoverable_errors, {});
        } finally {
            await l.vm.tearDown();
        }
    });

    it("no time server: SSH does not wait for the clock, the keyring is initialised, the console says the clock is not synchronized", { timeout: (SSH_TIMEOUT + 900) * 1000 }, async () => {
        const net = "10.0.5.0/24";
        const l = await launch(image, "no-time-server", Firmware.Uefi, Bus.Nvme, instance("i-0a1b2c3d4e5f60005", net, key), net, work, key, { timeServer: false });
        vms.push(l.vm);
        try {
            const message = /arch-ami: the system clock is NOT synchronized: no time server \(169\.254\.169\.123 fd00:ec2::123\) answered/;
            // The login came before the check gave up: it never waited for the clock.
            assert.doesNotMatch(l.vm.serial(), message, "SSH accepted the login before the time check gave up");
            console.log(`no-time-server: boot to SSH login ${l.secondsToSsh.toFixed(1)} s`);
            const deadline = Date.now() + 300_000;
            while (!message.test(l.vm.serial()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2000));
            assert.match(l.vm.serial(), message, `the serial console says the clock is not synchronized:\n${l.vm.serial().slice(-3000)}`);
            const r = await l.vm.ssh(
                [
                    "timedatectl show -p NTPSynchronized --value",
                    "systemctl show arch-ami-time-sync-check -p ActiveState -p Result -p InactiveEnterTimestampMonotonic",
                    "systemctl show sshd -p ActiveEnterTimestampMonotonic",
                    "systemctl show pacman-init -p Result -p ActiveEnterTimestampMonotonic",
                    "sudo pacman-key --list-keys 2>&1 | grep -c '^uid'",
                    "systemctl list-units --failed --no-legend --plain | awk '{print $1}'",
                ].join("; echo ---; "),
                { key: key.privateKey, timeoutSeconds: 300 },
            );
            assert.equal(r.status, 0, r.stderr);
            const [synced, check, sshd, pacmanInit, uids, failed] = r.stdout.split("---\n").map((x) => x.trim());
            const field = (text: string, name: string) => new RegExp(`^${name}=(.*)$`, "m").exec(text)?.[1];
            assert.equal(synced, "no", "timedatectl reports the clock as not synchronized");
            assert.equal(field(check, "ActiveState"), "failed");
            assert.equal(field(check, "Result"), "exit-code");
            assert.ok(Number(field(sshd, "ActiveEnterTimestampMonotonic")) < Number(field(check, "InactiveEnterTimestampMonotonic")), `sshd started before the time check failed:\n${sshd}\n${check}`);
            assert.equal(field(pacmanInit, "Result"), "success", "pacman-init ran without a synchronized clock");
            assert.ok(Number(field(pacmanInit, "ActiveEnterTimestampMonotonic")) < Number(field(sshd, "ActiveEnterTimestampMonotonic")), "the keyring was ready before sshd");
            assert.ok(Number(uids) >= 2, `the keyring holds the populated keys (uids: ${uids})`);
            assert.equal(failed, "arch-ami-time-sync-check.service", "the time check is the only failed unit: the instance shows why it is degraded");
            assert.ok(!l.vm.requests().some((r) => r.method === "NTP"), "no time server answered");
        } finally {
            await l.vm.tearDown();
        }
    });

    it("SeaBIOS + virtio: a second launch of the same image (another instance id) gets its own host keys and machine-id", { timeout: (SSH_TIMEOUT + 900) * 1000 }, async () => {
        const net = "10.0.3.0/24";
        const l = await launch(image, "bios-virtio", Firmware.Bios, Bus.Virtio, instance("i-0a1b2c3d4e5f60002", net, key), net, work, key);
        vms.push(l.vm);
        try {
            const second = await proveFirstBoot(l, key, other, ext4);
            assert.ok(first, "the first launch ran");
            assert.notEqual(second.machineId, first.machineId, "machine-id differs between launches");
            for (const k of second.hostKeys) assert.ok(!first.hostKeys.includes(k), `host key ${k.slice(0, 40)}… differs between launches`);
        } finally {
            await l.vm.tearDown();
        }
    });

    it("btrfs image, UEFI + NVMe: first boot with the root grown and SSH login", { timeout: (SSH_TIMEOUT + 900) * 1000 }, async () => {
        const net = "10.0.4.0/24";
        const btrfs = testImage("btrfs").image;
        const btrfsRoot = imageRoot(btrfs);
        assert.equal(btrfsRoot.fstype, "btrfs");
        const l = await launch(btrfs, "btrfs-uefi-nvme", Firmware.Uefi, Bus.Nvme, instance("i-0a1b2c3d4e5f60003", net, key), net, work, key);
        vms.push(l.vm);
        try {
            await proveFirstBoot(l, key, other, btrfsRoot);
        } finally {
            await l.vm.tearDown();
        }
    });
});
