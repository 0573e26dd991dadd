// src/local's QEMU layer in process: the serial console's text, the login prompt, the machine line (whole),
// qcow2 overlays and `qemu-img info` (the real qemu-img: skipped where it is not installed), boot() driven by a
// fake qemu-system-x86_64 (test/unit/fakeBin.ts), the image record, the instance a boot-local launch describes
// and the Vm's own derivations that need no VM (the netns name, the SMBIOS UUID, packageFile).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DISK_SERIAL, LOGIN_PROMPT, accelArgs, boot, diskInfo, machineArgs, overlay, plain } from "../../src/local/qemu";
import { findOvmf, kvmUsable } from "../../src/local/prerequisites";
import { imageInfoPath, readImageInfo, writeImageInfo } from "../../src/local/imageInfo";
import { imageFormat, localInstance } from "../../src/local/instance";
import { GUEST_SSH_PORT, IMDS_IPV4, IMDS_IPV6, Vm, packageFile } from "../../src/local/vm";
import { inst } from "../lib/imdsFixtures";
import { FakeBin } from "./fakeBin";
import { skipReason } from "../lib/skipReason";

const repo = path.resolve(__dirname, "../..");
const noQemuImg = skipReason(spawnSync("qemu-img", ["--version"]).status !== 0, "needs qemu-img");
const TCG = ["-accel", "tcg", "-cpu", "max"];
const KVM = ["-accel", "kvm", "-cpu", "host"];

describe("serial console text", () => {
    it("plain: drops CR and the terminal's colour and control sequences, keeps everything else", () => {
        assert.equal(plain("a\r\nb\r"), "a\nb");
        assert.equal(plain("\x1b[0;1;32m  OK  \x1b[0m] Started"), "  OK  ] Started");
        assert.equal(plain("x\x1b[?25ly\x1b[Kz\x1b[2J\x1b[10;20H!"), "xyz!");
        assert.equal(plain("\x1b]0;title bar\x07after"), "after");
        assert.equal(plain("\x1b]2;a\x1b[1mb\x07c"), "c", "an OSC runs to the BEL, whatever it holds");
        assert.equal(plain("[31m not an escape \x07 \x1b"), "[31m not an escape \x07 \x1b");
        assert.equal(plain("\x1b[31;\x1b[0m"), "\x1b[31;", "a CSI ends at its letter");
    });

    it("LOGIN_PROMPT: '<hostname> login: ' at the start of any line, the host name captured", () => {
        const m = LOGIN_PROMPT.exec("Arch Linux 6.12 (ttyS0)\n\nip-10-0-2-15 login: ");
        assert.equal(m?.[1], "ip-10-0-2-15");
        assert.equal(LOGIN_PROMPT.test("archlinux login:"), false, "no space after the colon: not yet the prompt");
        assert.equal(LOGIN_PROMPT.test("say archlinux login: "), false, "not at the start of the line");
        assert.equal(LOGIN_PROMPT.test(" login: "), false, "a host name is needed");
        assert.equal(LOGIN_PROMPT.test("archlinux Login: "), false);
    });

    it("the disk's NVMe serial is an EBS volume id without its dash", () => {
        assert.equal(DISK_SERIAL, "vol0a1b2c3d4e5f67890");
    });
});

describe("the QEMU machine line, whole", () => {
    let tmp = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-qemu-"));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("accelArgs: KVM with the host's CPU when /dev/kvm is usable, else TCG with every feature", () => {
        assert.deepEqual(accelArgs(), kvmUsable() ? KVM : TCG);
    });

    it("BIOS, NVMe: the defaults, every argument in order", () => {
        assert.deepEqual(machineArgs({ firmware: "bios", bus: "nvme", disk: "/d.qcow2", work: tmp, serialFile: "/s.log" }), [
            "-nodefaults", "-machine", "q35", ...accelArgs(), "-smp", "2", "-m", "1024", "-display", "none", "-no-reboot",
            "-serial", "file:/s.log", "-device", "virtio-rng-pci",
            "-drive", "file=/d.qcow2,if=none,id=disk,format=qcow2", "-device", `nvme,drive=disk,serial=${DISK_SERIAL}`,
        ]);
        assert.deepEqual(fs.readdirSync(tmp), [], "BIOS: no variable store copied");
    });

    it("UEFI, virtio, 2 GiB, reboots allowed: OVMF's code read-only, a fresh copy of its variable store in the work folder", { skip: skipReason(findOvmf() === undefined, "needs OVMF (ovmf)") }, () => {
        const ovmf = findOvmf()!;
        const vars = path.join(tmp, "OVMF_VARS.fd");
        fs.writeFileSync(vars, "stale variables");
        assert.deepEqual(machineArgs({ firmware: "uefi", bus: "virtio", disk: "/v.qcow2", work: tmp, serialFile: "/t.log", memoryMiB: 2048, reboot: true }), [
            "-nodefaults", "-machine", "q35", ...accelArgs(), "-smp", "2", "-m", "2048", "-display", "none",
            "-serial", "file:/t.log", "-device", "virtio-rng-pci",
            "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${ovmf.code}`, "-drive", `if=pflash,format=raw,unit=1,file=${vars}`,
            "-drive", "file=/v.qcow2,if=virtio,format=qcow2",
        ]);
        assert.ok(fs.readFileSync(vars).equals(fs.readFileSync(ovmf.vars)), "the template's bytes");
        assert.equal(machineArgs({ firmware: "bios", bus: "virtio", disk: "/v", work: tmp, serialFile: "/t", reboot: false }).includes("-no-reboot"), true);
    });
});

describe("disk images (qemu-img)", { skip: noQemuImg }, () => {
    let tmp = "";
    let raw = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-img-"));
        raw = path.join(tmp, "base.raw");
        fs.writeFileSync(raw, Buffer.alloc(1024 * 1024));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const info = (f: string) => JSON.parse(execFileSync("qemu-img", ["info", "--output=json", f], { encoding: "utf8" })) as Record<string, unknown>;

    it("overlay: a qcow2 file backed by the base's absolute path in the given format, the base's size unless told", () => {
        // A base given relative to the working folder (no chdir: Stryker's Vitest runs tests in worker threads).
        const o1 = path.join(tmp, "o1.qcow2");
        overlay(path.relative(process.cwd(), raw), o1);
        const i1 = info(o1);
        assert.equal(i1.format, "qcow2");
        assert.equal(i1["backing-filename"], raw);
        assert.equal(i1["backing-filename-format"], "raw");
        assert.equal(i1["virtual-size"], 1024 * 1024);
        const o2 = path.join(tmp, "o2.qcow2");
        overlay(o1, o2, "qcow2", "3M");
        const i2 = info(o2);
        assert.equal(i2["backing-filename"], o1);
        assert.equal(i2["backing-filename-format"], "qcow2");
        assert.equal(i2["virtual-size"], 3 * 1024 * 1024);
    });

    it("diskInfo: the format qemu-img probes and the virtual size in bytes; imageFormat accepts raw and qcow2 only", () => {
        const q = path.join(tmp, "d.qcow2");
        overlay(raw, q, "raw", "2M");
        assert.deepEqual(diskInfo(raw), { format: "raw", virtualSize: 1024 * 1024 });
        assert.deepEqual(diskInfo(q), { format: "qcow2", virtualSize: 2 * 1024 * 1024 });
        assert.equal(imageFormat(raw), "raw");
        assert.equal(imageFormat(q), "qcow2");
        const vmdk = path.join(tmp, "d.vmdk");
        execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", vmdk, "1M"]);
        assert.throws(() => imageFormat(vmdk), { message: `${vmdk}: a vmdk image; a raw or qcow2 image is needed` });
    });
});

describe("boot() with a fake QEMU", { skip: noQemuImg }, () => {
    let fake: FakeBin;
    let tmp = "";
    let disk = "";
    before(() => {
        fake = new FakeBin(["qemu-system-x86_64"]);
        fake.install();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-boot-"));
        disk = path.join(tmp, "disk.raw");
        fs.writeFileSync(disk, Buffer.alloc(1024 * 1024));
    });
    after(() => {
        fake.uninstall();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("stops the VM at the login prompt: the time to it, the plain serial text, the machine line with no network", async () => {
        fake.reset();
        fake.set({ FAKE_SERIAL: "\\033[32mBooting\\033[0m\\r\\narchlinux login: ", FAKE_QEMU_RUN: "30" });
        const serialLog = path.join(tmp, "logs", "bios-nvme.log");
        const t0 = Date.now();
        const r = await boot(disk, { firmware: "bios", bus: "nvme", timeoutSeconds: 20, serialLog });
        const elapsed = (Date.now() - t0) / 1000;
        assert.equal(r.serial, "Booting\narchlinux login: ");
        assert.equal(r.serialLog, serialLog);
        assert.equal(r.timedOut, false);
        assert.equal(r.firmware, "bios");
        assert.equal(r.bus, "nvme");
        assert.ok(r.secondsToLogin !== undefined && r.secondsToLogin > 0 && r.secondsToLogin <= elapsed, `${r.secondsToLogin} s of ${elapsed}`);
        const [call] = fake.calls();
        const work = path.dirname(call.args[call.args.indexOf("-drive") + 1].split(",")[0].slice("file=".length));
        assert.match(work, new RegExp(`^${os.tmpdir()}/arch-ami-boot-bios-nvme-`));
        assert.deepEqual(call.args, [...machineArgs({ firmware: "bios", bus: "nvme", disk: path.join(work, "overlay.qcow2"), work, serialFile: serialLog }), "-nic", "none"]);
        assert.equal(fs.existsSync(work), false, "the work folder (overlay) is removed");
    });

    it("QEMU's own exit: 0 without a prompt is a result, another code an error with its stderr", async () => {
        fake.reset();
        const serialLog = path.join(tmp, "virtio.log");
        fs.writeFileSync(serialLog, "an older boot's log");
        fake.set({ FAKE_SERIAL: "no prompt\\r\\n", FAKE_QEMU_EXIT: "0" });
        const r = await boot(disk, { firmware: "bios", bus: "virtio", timeoutSeconds: 20, serialLog, format: "raw" });
        assert.deepEqual(r, { firmware: "bios", bus: "virtio", serial: "no prompt\n", serialLog, secondsToLogin: undefined, timedOut: false });
        fake.set({ FAKE_SERIAL: "", FAKE_QEMU_EXIT: "1", FAKE_QEMU_STDERR: "qemu: could not open disk" });
        await assert.rejects(boot(disk, { firmware: "bios", bus: "virtio", timeoutSeconds: 20, serialLog }), { message: "qemu exited with 1: qemu: could not open disk" });
    });

    it("the timeout kills QEMU and says so", async () => {
        fake.reset();
        fake.set({ FAKE_SERIAL: "stuck", FAKE_QEMU_RUN: "30" });
        const serialLog = path.join(tmp, "stuck.log");
        const r = await boot(disk, { firmware: "bios", bus: "nvme", timeoutSeconds: 0.4, serialLog });
        assert.deepEqual(r, { firmware: "bios", bus: "nvme", serial: "stuck", serialLog, secondsToLogin: undefined, timedOut: true });
    });

    it("QEMU boots a qcow2 overlay on the image, in the image's format (raw unless told)", async () => {
        fake.reset();
        const q = path.join(tmp, "img.qcow2");
        overlay(disk, q);
        const copy = path.join(tmp, "seen.qcow2");
        const serialLog = path.join(tmp, "q.log");
        const backing = () => {
            const i = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", copy], { encoding: "utf8" })) as Record<string, unknown>;
            return [i.format, i["backing-filename"], i["backing-filename-format"]];
        };
        fake.set({ FAKE_QEMU_EXIT: "0", FAKE_DISK_COPY: copy });
        await boot(q, { firmware: "bios", bus: "nvme", timeoutSeconds: 20, serialLog, format: "qcow2" });
        assert.deepEqual(backing(), ["qcow2", q, "qcow2"]);
        await boot(disk, { firmware: "bios", bus: "nvme", timeoutSeconds: 20, serialLog });
        assert.deepEqual(backing(), ["qcow2", disk, "raw"]);
    });
});

describe("the image record (IMAGE.arch-ami.json)", () => {
    let tmp = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-record-"));
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("is kept next to the image, as indented JSON with a final newline, and read back as written", () => {
        const image = path.join(tmp, "arch.raw");
        assert.equal(imageInfoPath(image), `${image}.arch-ami.json`);
        assert.equal(readImageInfo(image), undefined, "an image build-local did not make has none");
        const info = { defaultUser: "arch", verifyArgs: ["--packages", "base linux"], volumeSize: 4, bootMode: "uefi-preferred" };
        writeImageInfo(image, info);
        assert.equal(
            fs.readFileSync(`${image}.arch-ami.json`, "utf8"),
            '{\n  "defaultUser": "arch",\n  "verifyArgs": [\n    "--packages",\n    "base linux"\n  ],\n  "volumeSize": 4,\n  "bootMode": "uefi-preferred"\n}\n',
        );
        assert.deepEqual(readImageInfo(image), info);
    });
});

describe("the instance a boot-local launch describes", () => {
    it("localInstance: a fresh instance id, the image id from the image's absolute path, the network's .15, the key", () => {
        const key = "ssh-ed25519 AAAAC3Nza user@host";
        const a = localInstance("img/arch.raw", "192.168.7.0/24", "id_ed25519", `  ${key}\n`);
        const id = a.instanceId.slice(2);
        assert.match(a.instanceId, /^i-[0-9a-f]{17}$/);
        const imageId = `ami-${createHash("sha256").update(path.resolve("img/arch.raw")).digest("hex").slice(0, 17)}`;
        assert.deepEqual(a, {
            instanceId: `i-${id}`,
            instanceType: "t3.small",
            region: "us-east-1",
            availabilityZone: "us-east-1a",
            imageId,
            accountId: "123456789012",
            mac: `52:54:00:${id.slice(0, 2)}:${id.slice(2, 4)}:${id.slice(4, 6)}`,
            localIpv4: "192.168.7.15",
            publicIpv4: "198.51.100.15",
            subnetCidr: "192.168.7.0/24",
            keyName: "id_ed25519",
            openSshKey: key,
        });
        const b = localInstance(path.resolve("img/arch.raw"), "10.0.2.0/24", "k", key);
        assert.notEqual(b.instanceId, a.instanceId, "a new instance id for every launch");
        assert.equal(b.imageId, imageId, "the same image, the same image id");
        assert.equal(b.localIpv4, "10.0.2.15");
        assert.notEqual(localInstance("other.raw", "10.0.2.0/24", "k", key).imageId, imageId);
    });
});

describe("the Vm's derivations, no VM started", () => {
    const vms: Vm[] = [];
    let tmp = "";
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-vm-"));
    });
    after(() => {
        for (const vm of vms) fs.rmSync((vm as unknown as { work: string }).work, { recursive: true, force: true });
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    const make = (instanceId: string) => {
        const vm = new Vm({ name: "unit", firmware: "bios", bus: "nvme", disk: "/d", instance: { ...inst, instanceId }, net: "10.0.2.0/24", serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl") });
        vms.push(vm);
        return vm;
    };

    it("the namespace arch-ami-<name>-<pid>, an SMBIOS UUID 'ec2…' from the instance id, nothing running yet", async () => {
        const vm = make("i-0a1b2c3d4e5f60001");
        assert.equal(vm.netns, `arch-ami-unit-${process.pid}`);
        assert.equal(vm.uuid(), "ec20a1b2-c3d4-e5f6-0001-0123456789ab");
        assert.equal(make("i-abc").uuid(), "ec2abc00-0000-0000-0000-0123456789ab", "a short id is padded with zeros");
        assert.equal(vm.running, false);
        assert.equal(vm.serialFile, "");
        assert.equal(vm.serial(), "");
        assert.equal(await vm.exited, null);
        assert.equal(await vm.waitForExit(1), null);
        const work = (vm as unknown as { work: string }).work;
        assert.match(work, new RegExp(`^${os.tmpdir()}/arch-ami-unit-`));
        assert.ok(fs.statSync(work).isDirectory());
    });

    it("requests(): the request log's JSON lines, blank lines skipped", () => {
        const vm = make("i-0a1b2c3d4e5f60002");
        fs.writeFileSync(vm.o.requestLog, '{"method":"GET","path":"/latest","status":401,"token":false}\n\n{"method":"NTP","path":"","status":0,"token":false}\n');
        assert.deepEqual(vm.requests(), [
            { method: "GET", path: "/latest", status: 401, token: false },
            { method: "NTP", path: "", status: 0, token: false },
        ]);
    });

    it("the endpoints and ports", () => {
        assert.equal(GUEST_SSH_PORT, 2222);
        assert.equal(IMDS_IPV4, "169.254.169.254");
        assert.equal(IMDS_IPV6, "fd00:ec2::254");
    });

    it("packageFile: the package's local/<name>, or an error naming what is missing", () => {
        assert.equal(packageFile("relay.py"), path.join(repo, "local", "relay.py"));
        assert.equal(packageFile("listen.py"), path.join(repo, "local", "listen.py"));
        assert.throws(() => packageFile("no-such.py"), { message: `arch-ami: local/no-such.py not found above ${path.join(repo, "src", "local")}; the package is incomplete` });
    });
});
