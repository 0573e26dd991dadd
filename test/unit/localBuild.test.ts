// arch-ami build-local in process (src/local/build.ts): its pure parts (the volume id, the cache, the assets
// folder, the settings' refusals, where each upload lands, the command queue, the surrogate's QEMU line), its
// command line (main: every refusal's exact message) and whole builds, with fake programs on PATH
// (test/unit/fakeBin.ts) standing in for build-surrogate.sh (bash), qemu-img and the surrogate VM
// (qemu-system-x86_64, which reads the queued commands and writes their exit codes as the surrogate does).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { ArchAmiArgs } from "../../src/args";
import { buildLocal, defaultCache, landing, localAssetsDir, localVolumeId, main, queue, resolveLocalSettings, stageUploads, surrogateQemuArgs } from "../../src/local/build";
import { UsageError, kvmUsable } from "../../src/local/prerequisites";
import { provisionCommand, renderConfig } from "../../src/render";
import { resolveSettings } from "../../src/settings";
import { FakeBin } from "./fakeBin";
import { skipReason } from "../lib/skipReason";
import { isMainThread } from "node:worker_threads";

const repo = path.resolve(__dirname, "../..");
const ACCEL = kvmUsable() ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg", "-cpu", "max"];
const notRoot = skipReason(process.getuid?.() !== 0, "checkPrerequisites wants root");

/** What a Writable was given, as text. */
function sink(): Writable & { text: string } {
    const w = new Writable({
        write(chunk: Buffer, _enc, cb) {
            w.text += chunk.toString();
            cb();
        },
    }) as Writable & { text: string };
    w.text = "";
    return w;
}

/** The UsageError `f` throws (async or not), its message. */
async function usageMessage(f: () => unknown): Promise<string> {
    try {
        await f();
    } catch (e) {
        assert.ok(e instanceof UsageError, `a UsageError, not ${String(e)}`);
        return e.message;
    }
    assert.fail("no error");
}

/** Runs `f` with what it writes to stdout starting with `prefix` captured (the rest, the test reporter's, goes through). */
async function captureStdout<T>(prefix: string, f: () => Promise<T>): Promise<[T, string[]]> {
    const write = process.stdout.write;
    const seen: string[] = [];
    process.stdout.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
        if (typeof chunk === "string" && chunk.startsWith(prefix)) {
            seen.push(chunk);
            return true;
        }
        return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    } as typeof process.stdout.write;
    try {
        return [await f(), seen];
    } finally {
        process.stdout.write = write;
    }
}

const BUILDER_CLEAN = `left=0; for p in /proc/[0-9]*; do c=$(cat $p/comm 2>/dev/null) || continue
case $c in gpg-agent|dirmngr|keyboxd|scdaemon) echo "left running: $c (pid \${p#/proc/}, root $(sudo readlink $p/root))"; left=1 ;; esac; done
findmnt -rno TARGET | grep /var/tmp/arch-ami && left=1
lsblk -nrpo MOUNTPOINT /dev/nvme0n1 | grep . && left=1
exit $left
`;

describe("build-local's pure parts", () => {
    let tmp = "";
    let env: NodeJS.ProcessEnv = {};
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-build-"));
        env = { ...process.env };
    });
    after(() => {
        for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
        Object.assign(process.env, env);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("localVolumeId: vol- and 17 hex digits, a new one each time", () => {
        const a = localVolumeId();
        assert.match(a, /^vol-[0-9a-f]{17}$/);
        assert.notEqual(localVolumeId(), a);
    });

    it("defaultCache: $XDG_CACHE_HOME/arch-ami/local, else ~/.cache/arch-ami/local (an empty XDG_CACHE_HOME is unset)", () => {
        // os.homedir() follows $HOME in the main thread only (a worker thread's process.env is its own copy).
        if (isMainThread) process.env.HOME = "/home/someone";
        const home = os.homedir();
        process.env.XDG_CACHE_HOME = "/xdg";
        assert.equal(defaultCache(), "/xdg/arch-ami/local");
        process.env.XDG_CACHE_HOME = "";
        assert.equal(defaultCache(), `${home}/.cache/arch-ami/local`);
        delete process.env.XDG_CACHE_HOME;
        assert.equal(defaultCache(), `${home}/.cache/arch-ami/local`);
    });

    it("localAssetsDir: the package's local/ folder", () => {
        assert.equal(localAssetsDir(), path.join(repo, "local"));
    });

    it("resolveLocalSettings: the component's settings, or its own message as a UsageError", async () => {
        assert.deepEqual(resolveLocalSettings("arch", { volumeSize: 6 }), resolveSettings("arch", { volumeSize: 6 }));
        let expected = "";
        try {
            resolveSettings("arch", { filesystem: "zfs" } as unknown as ArchAmiArgs);
        } catch (e) {
            expected = (e as Error).message;
        }
        assert.match(expected, /filesystem/);
        assert.equal(await usageMessage(() => resolveLocalSettings("arch", { filesystem: "zfs" } as unknown as ArchAmiArgs)), expected);
    });

    it("landing: a file at its remote path, a folder under its own name inside it", () => {
        assert.equal(landing({ kind: "file", source: "/x/t.tar.zst", remotePath: "/home/admin/arch-ami-bootstrap.tar.zst" }), "/home/admin/arch-ami-bootstrap.tar.zst");
        assert.equal(landing({ kind: "folder", source: "/pkg/provision", remotePath: "/home/admin/arch-ami" }), "/home/admin/arch-ami/provision");
    });

    it("stageUploads: the tarball, the scripts folder, each package, in that order, with their bytes", () => {
        const home = path.join(tmp, "home");
        const tarball = path.join(tmp, "t.tar.zst");
        fs.writeFileSync(tarball, "tar");
        const pkg = path.join(tmp, "p-1-1-x86_64.pkg.tar.zst");
        fs.writeFileSync(pkg, "pkg");
        assert.deepEqual(stageUploads(home, tarball, [pkg]), ["/home/admin/arch-ami-bootstrap.tar.zst", "/home/admin/arch-ami/provision", "/home/admin/arch-ami-packages/p-1-1-x86_64.pkg.tar.zst"]);
        assert.equal(fs.readFileSync(path.join(home, "arch-ami-bootstrap.tar.zst"), "utf8"), "tar");
        assert.equal(fs.readFileSync(path.join(home, "arch-ami-packages/p-1-1-x86_64.pkg.tar.zst"), "utf8"), "pkg");
        assert.equal(fs.readFileSync(path.join(home, "arch-ami/provision/provision.sh"), "utf8"), fs.readFileSync(path.join(repo, "provision/provision.sh"), "utf8"));
        assert.deepEqual(stageUploads(path.join(tmp, "home2"), tarball, []), ["/home/admin/arch-ami-bootstrap.tar.zst", "/home/admin/arch-ami/provision"]);
    });

    it("queue: one file per command, NN-name, its command line and a newline; the exit code each must end with (0 unless told)", () => {
        const dir = path.join(tmp, "commands");
        fs.mkdirSync(dir);
        const commands = Array.from({ length: 11 }, (_, i) => ({ name: `c${i}`, command: `echo ${i}`, ...(i === 1 ? { expect: 3 } : {}) }));
        const expected = queue(dir, commands);
        const names = commands.map((_, i) => `${String(i).padStart(2, "0")}-c${i}`);
        assert.deepEqual([...expected], names.map((n, i) => [n, i === 1 ? 3 : 0]));
        assert.equal(names[10], "10-c10");
        assert.deepEqual(fs.readdirSync(dir).sort(), names);
        for (const [i, n] of names.entries()) assert.equal(fs.readFileSync(path.join(dir, n), "utf8"), `echo ${i}\n`);
    });

    it("surrogateQemuArgs: the surrogate's kernel and disk, the target on NVMe with the volume id as serial, the share on 9p, user networking", () => {
        assert.deepEqual(surrogateQemuArgs("/cache/s", "/w", "/w/upload", "vol-0123456789abcdef0"), [
            "-nodefaults", ...ACCEL, "-smp", "2", "-m", "2048",
            "-display", "none", "-monitor", "none", "-no-reboot", "-serial", "stdio",
            "-kernel", "/cache/s/vmlinuz", "-initrd", "/cache/s/initrd.img",
            "-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0 quiet",
            "-drive", "file=/w/surrogate.qcow2,if=virtio,format=qcow2",
            "-drive", "file=/w/target.raw,if=none,id=target,format=raw,discard=unmap",
            "-device", "nvme,drive=target,serial=vol0123456789abcdef0",
            "-virtfs", "local,path=/w/upload,mount_tag=upload,security_model=none,id=upload",
            "-nic", "user,model=virtio-net-pci",
        ]);
    });
});

describe("build-local's command line", () => {
    let usageText = "";
    before(async () => {
        const [codes, out] = await captureStdout("usage: ", async () => [await main(["--help"]), await main(["-h", "--out", "x"])]);
        assert.deepEqual(codes, [0, 0]);
        assert.equal(out.length, 2);
        assert.equal(out[0], out[1]);
        usageText = out[0];
    });

    it("--help prints the usage", () => {
        assert.match(usageText, /^usage: arch-ami build-local \(--args FILE \| --stack NAME\) --out IMAGE\.raw \[options\]\n\nBuilds the Arch image/);
        for (const option of ["--args FILE", "--stack NAME", "--project DIR", "--namespace NS", "--name NAME", "--out IMAGE.raw", "--qcow2", "--tarball FILE", "--cache DIR", "--timeout MINUTES"]) {
            assert.match(usageText, new RegExp(`\n  ${option.replace(/[.]/g, "\\.")} `), option);
        }
        assert.match(usageText, /4 tarball refused, 5 customization failed\.\n$/);
    });

    it("refuses, with the usage: an unknown option, no --out, both or neither of --args and --stack", async () => {
        const unknown = await usageMessage(() => main(["--qcow", "--out", "i.raw"]));
        assert.ok(unknown.startsWith("build-local: Unknown option '--qcow'"), unknown);
        assert.ok(unknown.endsWith(`\n${usageText}`), "and the usage");
        assert.equal(unknown.split("\n").length, usageText.split("\n").length + 1, "node:util's one line, then the usage");
        assert.equal(await usageMessage(() => main(["--args", "a.json"])), `build-local: --out IMAGE.raw is required\n${usageText}`);
        assert.equal(await usageMessage(() => main(["--args", "a.json", "--out", ""])), `build-local: --out IMAGE.raw is required\n${usageText}`);
        assert.equal(await usageMessage(() => main(["--out", "i.raw"])), `build-local: give exactly one of --args FILE and --stack NAME\n${usageText}`);
        assert.equal(await usageMessage(() => main(["--out", "i.raw", "--args", "a.json", "--stack", "dev"])), `build-local: give exactly one of --args FILE and --stack NAME\n${usageText}`);
    });

    it("refuses a --timeout that is not a positive whole number of minutes", async () => {
        for (const t of ["0", "1.5", "ten", "-3", ""]) {
            assert.equal(
                await usageMessage(() => main(["--args", "a.json", "--out", "i.raw", `--timeout=${t}`])),
                `build-local: --timeout must be a whole number of minutes, e.g. --timeout 120 (got "${t}")`,
            );
        }
    });

    it("reads --args, or --stack with --project and --namespace, before anything starts", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-build-main-"));
        try {
            const missing = await usageMessage(() => main(["--args", path.join(dir, "none.json"), "--out", "i.raw"]));
            assert.equal(missing, `--args ${path.join(dir, "none.json")}: no such file`);
            fs.writeFileSync(path.join(dir, "bad.json"), '{"filesystem": "zfs"}');
            assert.match(await usageMessage(() => main(["--args", path.join(dir, "bad.json"), "--out", path.join(dir, "i.raw"), "--timeout", "5"])), /zfs/);
            assert.equal(await usageMessage(() => main(["--stack", "dev", "--project", dir, "--out", "i.raw"])), `--project: the project file ${path.join(dir, "Pulumi.yaml")}: no such file`);
            fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: p\n");
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  ns:pakages: [vim]\n");
            assert.match(await usageMessage(() => main(["--stack", "dev", "--project", dir, "--namespace", "ns", "--out", "i.raw"])), /^--stack dev \(.*Pulumi\.dev\.yaml\): .*unknown stack config "ns:pakages"/);
            fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), "config:\n  arch-ami:pakages: [vim]\n");
            // The defaults are relative to the working folder; a worker thread (Stryker's Vitest) cannot chdir,
            // so there the run reads `--project <dir>` given explicitly and only the namespace default is checked.
            const cwd = process.cwd();
            let defaults: string;
            try {
                if (isMainThread) process.chdir(dir);
                defaults = await usageMessage(() => main(["--stack", "prod", "--out", "i.raw", ...(isMainThread ? [] : ["--project", dir])]));
            } finally {
                if (isMainThread) process.chdir(cwd);
            }
            assert.match(defaults, isMainThread ? /^--stack prod \(Pulumi\.prod\.yaml\): .*unknown stack config "arch-ami:pakages"/ : /^--stack prod \(\/.*\/Pulumi\.prod\.yaml\): .*unknown stack config "arch-ami:pakages"/, "--project . and --namespace arch-ami by default");
            assert.equal(fs.existsSync(path.join(dir, "i.raw.log")), false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("buildLocal with a fake surrogate", { skip: notRoot }, () => {
    let fake: FakeBin;
    let tmp = "";
    let capture = "";
    let tarball = "";
    before(() => {
        fake = new FakeBin(["qemu-system-x86_64", "qemu-img", "bash", "mmdebstrap", "mkfs.ext4", "curl", "gpg", "zstd"]);
        fake.install();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-buildlocal-"));
        process.env.TMPDIR = tmp;
        tarball = path.join(tmp, "bootstrap.tar.zst");
        fs.writeFileSync(tarball, "tarball");
    });
    after(() => {
        fake.uninstall();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** A fresh capture folder and fake settings; the surrogate's commands end with `results`. */
    const prepare = (results: string, extra: Record<string, string> = {}) => {
        fake.reset();
        capture = fs.mkdtempSync(path.join(tmp, "capture-"));
        fake.set({ FAKE_CAPTURE: capture, FAKE_RESULTS: results, FAKE_SURROGATE_OUT: "building the surrogate\\n/cache/surrogate-13\\n", FAKE_SERIAL: "[  OK  ] surrogate\\r\\nprovisioned\\r\\n", ...extra });
    };

    it("a build that succeeds: the queued commands, the surrogate's line, the results, the image and its record, the qcow2 copy", async () => {
        prepare("00-provision=0 01-builder-clean=0");
        const out = path.join(tmp, "out", "arch.raw");
        fs.mkdirSync(path.dirname(out));
        for (const f of [`${out}.log`, `${out}.results`, out]) fs.writeFileSync(f, "an older build's");
        const progress = sink();
        const volumeId = "vol-0123456789abcdef0";
        const r = await buildLocal({ name: "arch", args: { volumeSize: 5 }, out, qcow2: true, tarball: path.relative(process.cwd(), tarball), cache: "/cache", progress, volumeId });
        assert.deepEqual(r, { exitCode: 0, image: out, results: new Map([["00-provision", 0], ["01-builder-clean", 0]]) });

        const settings = resolveSettings("arch", { volumeSize: 5 });
        const provision = provisionCommand(renderConfig(settings.image, { volumeId, deviceName: "/dev/sdf" }), "/home/admin/arch-ami/provision");
        assert.deepEqual(fs.readdirSync(path.join(capture, "commands")).sort(), ["00-provision", "01-builder-clean"]);
        assert.equal(fs.readFileSync(path.join(capture, "commands", "00-provision"), "utf8"), `${provision}\n`);
        assert.equal(fs.readFileSync(path.join(capture, "commands", "01-builder-clean"), "utf8"), BUILDER_CLEAN);
        const home = fs.readFileSync(path.join(capture, "home"), "utf8").split("\n");
        assert.ok(home.includes("./arch-ami-bootstrap.tar.zst") && home.includes("./arch-ami/provision/provision.sh"), home.join(" "));

        const calls = fake.calls();
        assert.deepEqual(calls.map((c) => c.name), ["bash", "qemu-img", "qemu-system-x86_64", "qemu-img"]);
        assert.deepEqual(calls[0].args, [path.join(repo, "local", "build-surrogate.sh"), "/cache"]);
        const work = path.dirname(calls[1].args[calls[1].args.length - 1]);
        assert.match(work, new RegExp(`^${tmp}/arch-ami-build-local-`));
        assert.deepEqual(calls[1].args, ["create", "-q", "-f", "qcow2", "-b", "/cache/surrogate-13/disk.raw", "-F", "raw", path.join(work, "surrogate.qcow2")]);
        assert.deepEqual(calls[2].args, surrogateQemuArgs("/cache/surrogate-13", work, path.join(work, "upload"), volumeId));
        assert.deepEqual(calls[3].args, ["convert", "-O", "qcow2", out, path.join(tmp, "out", "arch.qcow2")]);
        assert.equal(fs.existsSync(work), false, "the work folder is removed");

        assert.equal(fs.statSync(out).size, 5 * 1024 ** 3, "the target disk, volumeSize GiB, is the image");
        assert.equal(fs.readFileSync(`${out}.results`, "utf8"), "00-provision 0\n01-builder-clean 0\n");
        assert.equal(fs.readFileSync(`${out}.log`, "utf8"), "[  OK  ] surrogate\r\nprovisioned\r\n");
        assert.deepEqual(JSON.parse(fs.readFileSync(`${out}.arch-ami.json`, "utf8")), { defaultUser: "arch", verifyArgs: ["--packages", "base linux", "--require-time-sync"], volumeSize: 5, bootMode: "uefi-preferred" });
        assert.equal(
            progress.text,
            [
                "==> build-local: surrogate VM: Debian 13 (cache /cache)",
                "==> build-local: upload: /home/admin/arch-ami-bootstrap.tar.zst",
                "==> build-local: upload: /home/admin/arch-ami/provision",
                `==> build-local: booting the surrogate (QEMU, ${kvmUsable() ? "KVM" : "TCG: no usable /dev/kvm, slow"}); target disk 5 GiB on NVMe, volume ${volumeId}`,
                "[  OK  ] surrogate",
                "provisioned",
                `==> build-local: qcow2: ${path.join(tmp, "out", "arch.qcow2")}`,
                `==> build-local: image: ${out} (5 GiB raw); boot it: arch-ami boot-local ${out}`,
                "",
            ].join("\n"),
        );
    });

    it("the commands run before the provisioning, with the exit codes they must end with; an unexpected one makes the exit 1", async () => {
        prepare("00-refuse=3 01-also=0 02-provision=0 03-builder-clean=1");
        const out = path.join(tmp, "before.raw");
        const progress = sink();
        const r = await buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress, before: [{ name: "refuse", command: "exit 3", expect: 3 }, { name: "also", command: "true", expect: 2 }] });
        assert.deepEqual(r, { exitCode: 1, image: out, results: new Map([["00-refuse", 3], ["01-also", 0], ["02-provision", 0], ["03-builder-clean", 1]]) });
        assert.equal(fs.readFileSync(path.join(capture, "commands", "00-refuse"), "utf8"), "exit 3\n");
        assert.equal(fs.readFileSync(path.join(capture, "commands", "01-also"), "utf8"), "true\n");
        assert.equal(fs.readFileSync(`${out}.results`, "utf8"), "00-refuse 3\n01-also 0\n02-provision 0\n03-builder-clean 1\n");
        const lines = progress.text.split("\n").filter((l) => l.startsWith("==> build-local: ") && !l.includes("upload:") && !l.includes("booting"));
        assert.deepEqual(lines, [
            "==> build-local: surrogate VM: Debian 13 (cache /c)",
            "==> build-local: surrogate command 01-also: exit 0, expected 2",
            "==> build-local: surrogate command 03-builder-clean: exit 1, expected 0",
            "==> build-local: the image was provisioned, but 2 other command(s) ended unexpectedly (see above)",
            `==> build-local: image: ${out} (4 GiB raw); boot it: arch-ami boot-local ${out}`,
        ]);
        assert.equal(fs.existsSync(out), true, "the image is kept");
        assert.equal(fs.existsSync(path.join(tmp, "before.qcow2")), false, "no qcow2 unless asked");
        assert.equal(fake.calls().filter((c) => c.name === "qemu-img").length, 1);
    });

    it("a failed or unfinished provisioning: its exit code (1 when none), no image, the results kept", async () => {
        prepare("00-provision=3 01-builder-clean=0");
        const out = path.join(tmp, "failed.raw");
        const progress = sink();
        const r = await buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress, qcow2: true });
        assert.deepEqual(r, { exitCode: 3, image: out, results: new Map([["00-provision", 3], ["01-builder-clean", 0]]) });
        assert.equal(progress.text.trimEnd().split("\n").pop(), `==> build-local: provisioning FAILED with exit code 3 (provision/README.md); console: ${out}.log`);
        assert.equal(fs.existsSync(out), false);
        assert.equal(fs.existsSync(`${out}.arch-ami.json`), false);
        assert.equal(fake.calls().filter((c) => c.name === "qemu-img").length, 1, "no qcow2 of a failed build");

        prepare("01-builder-clean=0", { FAKE_QEMU_STDERR: "qemu: warning", FAKE_SERIAL: "" });
        const progress2 = sink();
        const r2 = await buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress: progress2 });
        assert.deepEqual(r2, { exitCode: 1, image: out, results: new Map([["00-provision", undefined], ["01-builder-clean", 0]]) });
        assert.equal(fs.readFileSync(`${out}.results`, "utf8"), "00-provision missing\n01-builder-clean 0\n");
        assert.equal(progress2.text.trimEnd().split("\n").pop(), `==> build-local: the provisioning never finished; console: ${out}.log`);
        assert.equal(fs.readFileSync(`${out}.log`, "utf8"), "\n[qemu stderr] qemu: warning\n", "QEMU's stderr is kept in the log");
    });

    it("QEMU failing with a message is an error; the time-out stops the surrogate", async () => {
        prepare("", { FAKE_QEMU_EXIT: "1", FAKE_QEMU_STDERR: " qemu: no disk \n" });
        const out = path.join(tmp, "qemu.raw");
        await assert.rejects(buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress: sink() }), { message: "qemu exited with 1: qemu: no disk" });
        assert.equal(fs.readdirSync(tmp).filter((f) => f.startsWith("arch-ami-build-local-")).length, 0, "the work folder is removed");

        prepare("", { FAKE_QEMU_EXIT: "2" });
        const r0 = await buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress: sink() });
        assert.equal(r0.exitCode, 1, "a QEMU exit without a message is read through the results");

        prepare("", { FAKE_QEMU_RUN: "30", FAKE_SERIAL: "" });
        const progress = sink();
        const r = await buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress, timeoutMinutes: 0.005 });
        assert.equal(r.exitCode, 1);
        assert.ok(
            progress.text.endsWith(
                "on NVMe, volume " + /volume (vol-\w+)\n/.exec(progress.text)![1] + "\n" +
                    "\n==> build-local: the surrogate ran longer than 0.005 minutes: stopped\n" +
                    "==> build-local: surrogate command 01-builder-clean: exit missing, expected 0\n" +
                    `==> build-local: the provisioning never finished; console: ${out}.log\n`,
            ),
            progress.text,
        );
    });

    it("refuses before anything starts: the settings, a missing tarball; a failing build-surrogate.sh is an error", async () => {
        prepare("");
        const out = path.join(tmp, "refused.raw");
        assert.equal(await usageMessage(() => buildLocal({ name: "arch", args: {}, out, tarball: path.join(tmp, "none.tar.zst"), progress: sink() })), `--tarball ${path.join(tmp, "none.tar.zst")}: no such file`);
        await assert.rejects(buildLocal({ name: "arch", args: { volumeSize: 0 }, out, tarball, progress: sink() }), UsageError);
        assert.deepEqual(fake.calls(), []);
        fake.set({ FAKE_SURROGATE_STATUS: "7" });
        await assert.rejects(buildLocal({ name: "arch", args: {}, out, tarball, cache: "/c", progress: sink() }), { message: "local/build-surrogate.sh failed (exit 7); its messages are above" });
        assert.deepEqual(fake.calls().map((c) => c.name), ["bash"]);
    });

    it("without --tarball: build-tarball.sh with the component's environment; its failure is an error carrying its exit code, main's exit code", async () => {
        prepare("");
        process.env.HOME = tmp;
        const out = path.join(tmp, "tarball.raw");
        const progress = sink();
        const args = { bootstrapMirror: "https://mirror.example/arch", bootstrapDate: "2025.06.01" };
        await assert.rejects(buildLocal({ name: "arch", args, out, cache: "/c", progress }), (e: Error & { exitCode?: number }) => {
            assert.equal(e.message, "build-tarball.sh failed (exit 1); its messages are above");
            assert.equal(e.exitCode, 1);
            return true;
        });
        assert.equal(progress.text, "==> build-local: surrogate VM: Debian 13 (cache /c)\n==> build-local: bootstrap tarball: build-tarball.sh (method official, release 2025.06.01)\n");
        const curl = fake.calls().filter((x) => x.name === "curl");
        assert.deepEqual(curl[0].args.slice(-1), ["https://mirror.example/arch/iso/2025.06.01/sha256sums.txt"], "the script's environment: the component's");
        assert.deepEqual(fake.calls().map((x) => x.name).filter((n) => n !== "curl" && n !== "gpg"), ["bash"], "no surrogate booted");

        fs.writeFileSync(path.join(tmp, "latest.json"), "{}");
        prepare("");
        const errWrite = process.stderr.write;
        const errors: string[] = [];
        process.stderr.write = function (chunk: unknown, ...rest: unknown[]) {
            if (typeof chunk === "string" && chunk.startsWith("arch-ami: ")) return errors.push(chunk) > 0;
            return (errWrite as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
        } as typeof process.stderr.write;
        let code: number;
        let seen: string[];
        try {
            [code, seen] = await captureStdout("==> build-local: ", () => main(["--args", path.join(tmp, "latest.json"), "--out", out, "--cache", "/c"]));
        } finally {
            process.stderr.write = errWrite;
        }
        assert.equal(code, 1);
        assert.deepEqual(errors, ["arch-ami: build-tarball.sh failed (exit 1); its messages are above\n"]);
        assert.equal(seen[1], "==> build-local: bootstrap tarball: build-tarball.sh (method official, release latest)\n");
    });

    it("the cache defaults to defaultCache(); main runs the build and returns its exit code", async () => {
        prepare("00-provision=4 01-builder-clean=0");
        const args = path.join(tmp, "args.json");
        fs.writeFileSync(args, '{"volumeSize": 6}');
        const out = path.join(tmp, "main.raw");
        const [code, seen] = await captureStdout("==> build-local: ", () => main(["--args", args, "--out", out, "--tarball", tarball, "--name", "other", "--timeout", "3"]));
        assert.equal(code, 4);
        assert.equal(seen[0], `==> build-local: surrogate VM: Debian 13 (cache ${defaultCache()})\n`);
        assert.match(seen.join(""), /target disk 6 GiB on NVMe, volume vol-[0-9a-f]{17}\n/);
        assert.deepEqual(fake.calls()[0].args, [path.join(repo, "local", "build-surrogate.sh"), defaultCache()]);
    });
});
