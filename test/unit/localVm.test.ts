// A boot-local instance's VM in process (src/local/vm.ts, instance.ts): every command it runs, whole, with a
// fake `ip` first on PATH (test/unit/fakeBin.ts) playing the namespace commands and what `ip netns exec` runs
// in the namespace (listen.py and the metadata service, QEMU, ssh, ssh-keyscan). Vm.setUp writes the
// namespace's resolv.conf under /etc/netns as on a real host, so these run as root only.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Vm, VmOptions } from "../../src/local/vm";
import { launchInstance, startInstance } from "../../src/local/instance";
import { machineArgs } from "../../src/local/qemu";
import { inst } from "../lib/imdsFixtures";
import { Call, FakeBin, withShortTimers } from "./fakeBin";
import { skipReason } from "../lib/skipReason";

const repo = path.resolve(__dirname, "../..");
const notRoot = skipReason(process.getuid?.() !== 0, "Vm.setUp writes /etc/netns");
const SSH_OPTIONS = [
    "-F", "/dev/null", "-p", "2222",
    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
];
const SSH_OPTIONS_2 = ["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "IdentitiesOnly=yes", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6"];

/**
 * Removes /etc/netns when empty, as `ip netns` leaves it. Another test process (node:test runs two files at a
 * time, the mutation run three runners) may add a namespace or remove the folder meanwhile: then it is theirs.
 */
function removeEtcNetnsIfEmpty(): void {
    try {
        fs.rmdirSync("/etc/netns");
    } catch (e) {
        if (!["ENOENT", "ENOTEMPTY", "EEXIST"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
    }
}

describe("the instance's VM, with a fake ip", { skip: notRoot }, () => {
    let fake: FakeBin;
    let tmp = "";
    let etcNetnsExisted = true;
    const vms: Vm[] = [];
    before(() => {
        etcNetnsExisted = fs.existsSync("/etc/netns");
        fake = new FakeBin(["ip"]);
        fake.install();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-vmfake-"));
    });
    after(async () => {
        for (const vm of vms) await vm.tearDown();
        fake.uninstall();
        fs.rmSync(tmp, { recursive: true, force: true });
        if (!etcNetnsExisted) removeEtcNetnsIfEmpty();
    });

    let n = 0;
    const options = (over: Partial<VmOptions> = {}): VmOptions => {
        n++;
        return { name: `u${n}`, firmware: "bios", bus: "nvme", disk: path.join(tmp, "disk.qcow2"), instance: inst, net: "10.0.2.0/24", serialLog: path.join(tmp, `serial${n}.log`), requestLog: path.join(tmp, `requests${n}.jsonl`), ...over };
    };
    const make = (over: Partial<VmOptions> = {}) => {
        const vm = new Vm(options(over));
        vms.push(vm);
        return vm;
    };
    const workOf = (vm: Vm) => (vm as unknown as { work: string }).work;
    const inNs = (vm: Vm, c: Call) => {
        assert.equal(c.name, "ip");
        assert.deepEqual(c.args.slice(0, 3), ["netns", "exec", vm.netns]);
        return c.args.slice(3);
    };

    it("setUp: the namespace, its loopback addresses, resolv.conf, the instance file, the metadata service (listen.py, then imds-server)", async () => {
        fake.reset();
        const vm = make();
        fs.writeFileSync(vm.o.requestLog, "an older run's requests\n");
        fs.writeFileSync(vm.o.serialLog, "an older run's console\n");
        await vm.setUp();
        const ns = vm.netns;
        const calls = fake.calls();
        assert.deepEqual(calls.slice(0, 5).map((c) => [c.name, ...c.args]), [
            ["ip", "netns", "add", ns],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", ns, "addr", "add", "169.254.169.254/32", "dev", "lo"],
            ["ip", "-n", ns, "addr", "add", "169.254.169.123/32", "dev", "lo"],
            ["ip", "-n", ns, "-6", "addr", "add", "fd00:ec2::254/128", "dev", "lo", "nodad"],
        ]);
        const work = workOf(vm);
        assert.deepEqual(inNs(vm, calls[5]), [
            "python3", path.join(repo, "local", "listen.py"), "1", "169.254.169.254", "80", "fd00:ec2::254", "80", "--",
            process.execPath, "--import", "tsx", path.join(repo, "src", "local", "imds-server.ts"), path.join(work, "instance.json"), vm.o.requestLog,
        ]);
        assert.equal(calls[5].cwd, repo, "tsx is found from the repository");
        assert.equal(calls.length, 6);
        assert.equal(fs.readFileSync(path.join("/etc/netns", ns, "resolv.conf"), "utf8"), "nameserver 127.0.0.1\n");
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(work, "instance.json"), "utf8")), inst);
        assert.equal(fs.readFileSync(vm.o.requestLog, "utf8"), "");
        assert.equal(fs.existsSync(vm.o.serialLog), false);

        fake.reset();
        await vm.tearDown();
        assert.deepEqual(fake.calls().map((c) => [c.name, ...c.args]), [["ip", "netns", "delete", ns]]);
        assert.equal(fs.existsSync(path.join("/etc/netns", ns)), false);
        assert.equal(fs.existsSync(work), false);
    });

    it("setUp without the time server: no 169.254.169.123, the service told so", async () => {
        fake.reset();
        const vm = make({ timeServer: false });
        await vm.setUp();
        const calls = fake.calls();
        const ns = vm.netns;
        assert.deepEqual(calls.slice(0, 4).map((c) => [c.name, ...c.args]), [
            ["ip", "netns", "add", ns],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", ns, "addr", "add", "169.254.169.254/32", "dev", "lo"],
            ["ip", "-n", ns, "-6", "addr", "add", "fd00:ec2::254/128", "dev", "lo", "nodad"],
        ]);
        assert.equal(calls.length, 5);
        assert.deepEqual(calls[calls.length - 1].args.slice(-3), [path.join(workOf(vm), "instance.json"), vm.o.requestLog, "--no-time-server"]);
        await vm.tearDown();
    });

    it("setUp fails with the command and its message, or when the metadata service exits", async () => {
        fake.reset();
        fake.set({ FAKE_IP_STATUS: "2" });
        const vm = make();
        await assert.rejects(vm.setUp(), { message: `ip netns add ${vm.netns}: exit 2: fake ip: refused\n` });
        fake.reset();
        fake.set({ FAKE_IMDS_EXIT: "3" });
        const vm2 = make();
        await assert.rejects(vm2.setUp(), { message: "metadata service exited with 3" });
    });

    it("start: QEMU in the namespace, as an EC2 instance (SMBIOS, MAC, the user network's addresses, SSH forwarded); the serial log kept across power cycles", async () => {
        fake.reset();
        const vm = make();
        fs.writeFileSync(vm.o.serialLog, "");
        fake.set({ FAKE_SERIAL: "\\033[1mfirst\\033[0m boot\\r\\n", FAKE_QEMU_SLEEP: "0.3", FAKE_QEMU_EXIT: "0", FAKE_QEMU_STDERR: "qemu: warning" });
        const before = Date.now();
        vm.start();
        assert.ok(vm.startedAt >= before && vm.startedAt <= Date.now());
        const work = workOf(vm);
        assert.match(vm.serialFile, new RegExp(`^${work}/serial-\\d+\\.log$`));
        assert.equal(vm.running, true);
        assert.equal(await vm.exited, 0);
        assert.equal(vm.running, false);
        const [call] = fake.calls();
        assert.deepEqual(inNs(vm, call), [
            "qemu-system-x86_64",
            ...machineArgs({ firmware: "bios", bus: "nvme", disk: vm.o.disk, work, serialFile: vm.serialFile, memoryMiB: 2048, reboot: true }),
            "-smbios", "type=1,manufacturer=Amazon EC2,product=t3.small,version=1.0,serial=ec20a1b2c3d4e5f60001,uuid=ec20a1b2-c3d4-e5f6-0001-0123456789ab",
            "-smbios", "type=3,manufacturer=Amazon EC2,asset=i-0a1b2c3d4e5f60001",
            "-nic", "user,model=virtio-net-pci,mac=52:54:00:12:34:56,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15,hostfwd=tcp:127.0.0.1:2222-:22",
        ]);
        assert.equal(vm.serial(), "first boot\n");
        assert.equal(fs.readFileSync(vm.o.serialLog, "utf8"), "\x1b[1mfirst\x1b[0m boot\r\n\n[qemu stderr] qemu: warning\n");
        await new Promise((r) => setTimeout(r, 5));
        fake.set({ FAKE_SERIAL: "second\\n", FAKE_QEMU_STDERR: undefined, FAKE_QEMU_EXIT: "1" });
        vm.start();
        assert.equal(await vm.waitForExit(20), 1);
        assert.equal(fs.readFileSync(vm.o.serialLog, "utf8"), "\x1b[1mfirst\x1b[0m boot\r\n\n[qemu stderr] qemu: warning\nsecond\n");
        assert.equal(vm.serial(), "second\n");
    });

    it("a 10.1.2.0/24 network: its .2, .3 and .15", async () => {
        fake.reset();
        const vm = make({ net: "10.1.2.0/24", instance: { ...inst, mac: "52:54:00:aa:bb:cc" } });
        fake.set({ FAKE_QEMU_EXIT: "0" });
        vm.start();
        await vm.exited;
        const args = fake.calls()[0].args;
        assert.equal(args[args.length - 1], "user,model=virtio-net-pci,mac=52:54:00:aa:bb:cc,net=10.1.2.0/24,host=10.1.2.2,dns=10.1.2.3,dhcpstart=10.1.2.15,hostfwd=tcp:127.0.0.1:2222-:22");
    });

    it("waitForExit kills QEMU after its time-out; tearDown kills a running QEMU", async () => {
        fake.reset();
        const vm = make();
        fake.set({ FAKE_QEMU_RUN: "30" });
        vm.start();
        assert.equal(await vm.waitForExit(0.2), null);
        vm.start();
        assert.equal(vm.running, true);
        await vm.tearDown();
        assert.equal(vm.running, false);
    });

    it("ssh: in the namespace, batch mode, the known-hosts file in the work folder, key, extra options, user@127.0.0.1 and the command", async () => {
        fake.reset();
        const vm = make();
        fake.set({ FAKE_SSH_STDOUT: "out", FAKE_SSH_STDERR: "err", FAKE_SSH_STATUS: "4" });
        const seen: string[] = [];
        const r = await vm.ssh("uname -a", { user: "root", key: "/k", extra: ["-o", "X=1"], onOutput: (s, d) => seen.push(`${s}:${d.toString()}`) });
        assert.deepEqual(r, { status: 4, stdout: "out", stderr: "err" });
        assert.deepEqual(seen.sort(), ["stderr:err", "stdout:out"]);
        const known = `UserKnownHostsFile=${path.join(workOf(vm), "known_hosts")}`;
        assert.deepEqual(inNs(vm, fake.calls()[0]), ["ssh", ...SSH_OPTIONS, "-o", known, ...SSH_OPTIONS_2, "-i", "/k", "-o", "X=1", "root@127.0.0.1", "uname -a"]);
        fake.reset();
        fake.set({ FAKE_SSH_STATUS: "0" });
        assert.deepEqual(await vm.ssh("id"), { status: 0, stdout: "", stderr: "" });
        assert.deepEqual(inNs(vm, fake.calls()[0]), ["ssh", ...SSH_OPTIONS, "-o", known, ...SSH_OPTIONS_2, "arch@127.0.0.1", "id"]);
        fake.set({ FAKE_SSH_RUN: "30" });
        const t0 = Date.now();
        assert.equal((await vm.ssh("hang", { timeoutSeconds: 0.2 })).status, null, "killed at its time-out");
        assert.ok(Date.now() - t0 < 5000);
    });

    it("hostKeys: the keys ssh-keyscan reports, 'type base64', sorted, comments dropped", () => {
        fake.reset();
        const vm = make();
        fake.set({ FAKE_KEYSCAN: "# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.9\\n[127.0.0.1]:2222 ssh-rsa BBBB\\n\\n[127.0.0.1]:2222 ssh-ed25519 AAAA\\n" });
        assert.deepEqual(vm.hostKeys(), ["ssh-ed25519 AAAA", "ssh-rsa BBBB"]);
        assert.deepEqual(inNs(vm, fake.calls()[0]), ["ssh-keyscan", "-p", "2222", "-T", "20", "127.0.0.1"]);
    });

    it("waitForSsh and waitForSshd try again (every 2 s) until the login or the host key comes", async () => {
        fake.reset();
        const vm = make();
        const fails = path.join(tmp, "fails");
        fake.set({ FAKE_QEMU_RUN: "30", FAKE_FAILS: fails, FAKE_KEYSCAN: "[127.0.0.1]:2222 ssh-ed25519 AAAA\\n" });
        vm.start();
        try {
            fs.writeFileSync(fails, "2");
            await withShortTimers({ 2000: 5 }, () => vm.waitForSsh("/k", 30));
            assert.equal(fake.calls().filter((c) => c.args[3] === "ssh").length, 3, "two refusals, then the login");
            fs.writeFileSync(fails, "2");
            await withShortTimers({ 2000: 5 }, () => vm.waitForSshd(30));
            assert.equal(fake.calls().filter((c) => c.args[3] === "ssh-keyscan").length, 3, "two scans without a key, then one");
        } finally {
            await vm.tearDown();
        }
    });

    it("waitForSsh and waitForSshd: the seconds since QEMU started; an error with the console's tail when QEMU is gone or time is up", async () => {
        fake.reset();
        const vm = make();
        await assert.rejects(vm.waitForSsh("/k", 10), { message: "the VM stopped before SSH answered; serial:\n" });
        await assert.rejects(vm.waitForSshd(10), { message: "the VM stopped before SSH answered; serial:\n" });
        fake.set({ FAKE_QEMU_RUN: "30", FAKE_SERIAL: `${"x".repeat(4000)}tail\\r\\n`, FAKE_KEYSCAN: "[127.0.0.1]:2222 ssh-ed25519 AAAA\\n" });
        vm.start();
        await new Promise((r) => setTimeout(r, 200));
        const seconds = await vm.waitForSsh("/k", 10, "root");
        assert.ok(seconds > 0 && seconds < 10, String(seconds));
        const ssh = fake.calls().filter((c) => c.args[3] === "ssh");
        assert.deepEqual(ssh[0].args.slice(-4), ["-i", "/k", "root@127.0.0.1", "true"]);
        const sshd = await vm.waitForSshd(10);
        assert.ok(sshd >= seconds && sshd < 10);
        assert.deepEqual(fake.calls().filter((c) => c.args[3] === "ssh-keyscan")[0].args.slice(3), ["ssh-keyscan", "-p", "2222", "-T", "10", "127.0.0.1"]);

        const tail = `${"x".repeat(3995)}tail\n`;
        fake.set({ FAKE_SSH_TRUE_STATUS: "255", FAKE_SSH_STDERR: " refused\n" });
        await assert.rejects(vm.waitForSsh("/k", 0), (e: Error) => {
            assert.equal(e.message, `no SSH login within 0s (last: refused); serial:\n${tail}`);
            return true;
        });
        fake.set({ FAKE_KEYSCAN: "# 127.0.0.1:2222 SSH-2.0\\n" });
        await assert.rejects(vm.waitForSshd(0), { message: `no SSH server answered within 0s; serial:\n${tail}` });
        await vm.tearDown();
        await assert.rejects(vm.waitForSsh("/k", 10), { message: `the VM stopped before SSH answered; serial:\n` });

        // QEMU gone, its console still there: the error ends with the console's last 4000 characters.
        const gone = make();
        fake.set({ FAKE_QEMU_RUN: "0" });
        gone.start();
        await gone.exited;
        await assert.rejects(gone.waitForSsh("/k", 10), { message: `the VM stopped before SSH answered; serial:\n${tail}` });
        await assert.rejects(gone.waitForSshd(10), { message: `the VM stopped before SSH answered; serial:\n${tail}` });
        await gone.tearDown();
    });
});

describe("startInstance and launchInstance, with a fake ip", { skip: notRoot }, () => {
    let fake: FakeBin;
    let tmp = "";
    let image = "";
    let etcNetnsExisted = true;
    before(() => {
        etcNetnsExisted = fs.existsSync("/etc/netns");
        fake = new FakeBin(["ip"]);
        fake.install();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-instance-"));
        image = path.join(tmp, "image.raw");
        fs.writeFileSync(image, Buffer.alloc(1024 * 1024));
    });
    after(() => {
        fake.uninstall();
        fs.rmSync(tmp, { recursive: true, force: true });
        if (!etcNetnsExisted) removeEtcNetnsIfEmpty();
    });
    const start = { firmware: "bios", bus: "virtio", instance: inst, net: "10.0.2.0/24" } as const;

    it("startInstance: an overlay <name>.qcow2 of the instance's size in the work folder, the VM set up and started", async () => {
        fake.reset();
        fake.set({ FAKE_QEMU_RUN: "30" });
        const vm = await startInstance(image, { ...start, name: "si", work: tmp, diskSize: "3M", serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl"), timeServer: false, ownProcessGroup: true });
        try {
            assert.deepEqual(vm.o, { name: "si", firmware: "bios", bus: "virtio", disk: path.join(tmp, "si.qcow2"), instance: inst, net: "10.0.2.0/24", serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl"), timeServer: false, ownProcessGroup: true });
            assert.equal(vm.running, true);
            for (let i = 0; i < 100 && !fake.calls().some((c) => c.args[3] === "qemu-system-x86_64"); i++) await new Promise((r) => setTimeout(r, 20));
            const calls = fake.calls();
            assert.deepEqual(calls[calls.length - 1].args.slice(3, 4), ["qemu-system-x86_64"], "the VM started");
            assert.ok(calls[calls.length - 1].args.includes("file=" + path.join(tmp, "si.qcow2") + ",if=virtio,format=qcow2"));
            assert.equal(calls.filter((c) => c.args.includes("169.254.169.123/32")).length, 0);
            const { execFileSync } = await import("node:child_process");
            const i = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", path.join(tmp, "si.qcow2")], { encoding: "utf8" })) as Record<string, unknown>;
            assert.deepEqual([i["virtual-size"], i["backing-filename"], i["backing-filename-format"]], [3 * 1024 * 1024, image, "raw"]);
        } finally {
            await vm.tearDown();
        }
    });

    it("ownProcessGroup: QEMU and the metadata service in a process group of their own, else in the caller's", async () => {
        const pgids = path.join(tmp, "pgids");
        const own = (process as unknown as { getpgrp?: () => number }).getpgrp?.() ?? Number(fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[2]);
        for (const ownProcessGroup of [true, false, undefined]) {
            fake.reset();
            fs.rmSync(pgids, { force: true });
            fake.set({ FAKE_QEMU_RUN: "30", FAKE_PGIDS: pgids });
            const vm = await startInstance(image, { ...start, name: "pg", work: tmp, format: "raw", serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl"), ...(ownProcessGroup === undefined ? {} : { ownProcessGroup }) });
            try {
                for (let i = 0; i < 100 && !fs.readFileSync(pgids, "utf8").includes("qemu-system-x86_64"); i++) await new Promise((r) => setTimeout(r, 20));
                const lines = fs.readFileSync(pgids, "utf8").trim().split("\n").map((l) => l.split(" "));
                const of = (name: string) => lines.find((l) => l[0] === name)!;
                for (const name of ["python3", "qemu-system-x86_64"]) {
                    const [, pid, pgid] = of(name);
                    if (ownProcessGroup) assert.equal(pgid, pid, `${name}: a group of its own`);
                    else assert.equal(Number(pgid), own, `${name}: the caller's group`);
                }
            } finally {
                await vm.tearDown();
            }
        }
    });

    it("startInstance tears down what it made when the set-up fails", async () => {
        fake.reset();
        fake.set({ FAKE_IMDS_EXIT: "1" });
        await assert.rejects(startInstance(image, { ...start, name: "sf", work: tmp, format: "raw", serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl") }), { message: "metadata service exited with 1" });
        const calls = fake.calls();
        assert.deepEqual(calls[calls.length - 1].args, ["netns", "delete", `arch-ami-sf-${process.pid}`]);
        assert.equal(calls.some((c) => c.args[3] === "qemu-system-x86_64"), false);
    });

    it("launchInstance: the seconds to the first SSH login, as the user with the key; torn down when it never comes", async () => {
        fake.reset();
        fake.set({ FAKE_QEMU_RUN: "30" });
        const l = await launchInstance(image, { ...start, name: "li", work: tmp, serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl"), privateKey: "/key", user: "ec2-user", sshTimeoutSeconds: 10 });
        try {
            assert.ok(l.secondsToSsh > 0 && l.secondsToSsh < 10);
            assert.equal(l.vm.running, true);
            const ssh = fake.calls().find((c) => c.args[3] === "ssh")!;
            assert.deepEqual(ssh.args.slice(-4), ["-i", "/key", "ec2-user@127.0.0.1", "true"]);
        } finally {
            await l.vm.tearDown();
        }
        fake.reset();
        fake.set({ FAKE_QEMU_RUN: "30", FAKE_SSH_TRUE_STATUS: "255" });
        await assert.rejects(launchInstance(image, { ...start, name: "lf", work: tmp, serialLog: path.join(tmp, "s.log"), requestLog: path.join(tmp, "r.jsonl"), privateKey: "/key", sshTimeoutSeconds: 0 }), /^Error: no SSH login within 0s/);
        const calls = fake.calls();
        assert.deepEqual(calls[calls.length - 1].args, ["netns", "delete", `arch-ami-lf-${process.pid}`]);
    });
});
