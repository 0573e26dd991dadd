// What src/local asks of the host, in process, on any host: the prerequisite check's every problem (another
// platform, not root, a missing program, no OVMF: process.platform/arch/getuid and node:fs stubbed for the
// call), which OVMF pair is found, KVM's test and what it changes (the QEMU lines), and the `arch-ami`
// command (src/local/cli.ts, run on import: loaded afresh for each command line, its output and exit code
// caught).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import {
    CURL, GPG, IP, MKFS_EXT4, MMDEBSTRAP, OVMF_CANDIDATES, PYTHON3, QEMU, QEMU_IMG, SSH, SSH_KEYGEN, UsageError, ZSTD,
    checkPrerequisites, findOvmf, kvmUsable,
} from "../../src/local/prerequisites";
import { accelArgs, machineArgs } from "../../src/local/qemu";
import { FakeBin } from "./fakeBin";
import { skipReason } from "../lib/skipReason";

const realFs = createRequire(__filename)("node:fs") as typeof fs;
const SH = { command: "sh", debian: "dash", arch: "bash", fedora: "bash" };

/** Runs `f` with node:fs's `name` replaced (for the modules under test too), then puts it back. */
function withFs<K extends "existsSync" | "accessSync", T>(name: K, fake: (typeof fs)[K], f: () => T): T {
    const real = realFs[name];
    (realFs as unknown as Record<string, unknown>)[name] = fake;
    syncBuiltinESMExports();
    try {
        return f();
    } finally {
        (realFs as unknown as Record<string, unknown>)[name] = real;
        syncBuiltinESMExports();
    }
}

/** Runs `f` as if on `platform`/`arch` with uid `uid`. */
function asHost<T>(platform: string, arch: string, uid: number | undefined, f: () => T): T {
    const p = Object.getOwnPropertyDescriptor(process, "platform")!;
    const a = Object.getOwnPropertyDescriptor(process, "arch")!;
    const getuid = process.getuid;
    Object.defineProperty(process, "platform", { ...p, value: platform });
    Object.defineProperty(process, "arch", { ...a, value: arch });
    process.getuid = uid === undefined ? undefined : () => uid;
    try {
        return f();
    } finally {
        Object.defineProperty(process, "platform", p);
        Object.defineProperty(process, "arch", a);
        process.getuid = getuid;
    }
}

function usageMessage(f: () => unknown): string {
    try {
        f();
    } catch (e) {
        assert.ok(e instanceof UsageError, `a UsageError, not ${String(e)}`);
        return e.message;
    }
    return assert.fail("no error");
}

describe("the host's prerequisites", () => {
    it("each program with its package on Debian/Ubuntu, Arch and Fedora", () => {
        const r = (command: string, debian: string, arch: string, fedora: string) => ({ command, debian, arch, fedora });
        assert.deepEqual(
            [QEMU, QEMU_IMG, MMDEBSTRAP, MKFS_EXT4, IP, PYTHON3, SSH, SSH_KEYGEN, CURL, GPG, ZSTD],
            [
                r("qemu-system-x86_64", "qemu-system-x86", "qemu-system-x86", "qemu-system-x86-core"), r("qemu-img", "qemu-utils", "qemu-img", "qemu-img"),
                r("mmdebstrap", "mmdebstrap", "mmdebstrap", "mmdebstrap"), r("mkfs.ext4", "e2fsprogs", "e2fsprogs", "e2fsprogs"), r("ip", "iproute2", "iproute2", "iproute"),
                r("python3", "python3", "python", "python3"), r("ssh", "openssh-client", "openssh", "openssh-clients"), r("ssh-keygen", "openssh-client", "openssh", "openssh-clients"),
                r("curl", "curl", "curl", "curl"), r("gpg", "gnupg", "gnupg", "gnupg2"), r("zstd", "zstd", "zstd", "zstd"),
            ],
        );
    });

    it("every problem at once, in order: the platform, root, each missing program once, OVMF", () => {
        const missing = { command: "arch-ami-none", debian: "d", arch: "a", fedora: "f" };
        const quoted = { command: "sh' x", debian: "q", arch: "q", fedora: "q" };
        const message = withFs("existsSync", () => false, () => asHost("darwin", "arm64", 501, () => usageMessage(() => checkPrerequisites("build-local", [SH, missing, quoted, missing], { ovmf: true }))));
        assert.equal(
            message,
            "build-local cannot run on this host; it needs:\n" +
                "  - a Linux x86_64 host (this is darwin/arm64; the image is x86_64 and the tools are Linux's)\n" +
                "  - root (run it with sudo)\n" +
                "  - arch-ami-none: install d (Debian/Ubuntu: apt install d; Arch: pacman -S a; Fedora: dnf install f)\n" +
                "  - sh' x: install q (Debian/Ubuntu: apt install q; Arch: pacman -S q; Fedora: dnf install q)\n" +
                "  - UEFI firmware (OVMF): install ovmf (Debian/Ubuntu), edk2-ovmf (Arch), edk2-ovmf (Fedora)",
        );
        assert.equal(asHost("linux", "arm64", 0, () => usageMessage(() => checkPrerequisites("x", []))), "x cannot run on this host; it needs:\n  - a Linux x86_64 host (this is linux/arm64; the image is x86_64 and the tools are Linux's)");
        assert.equal(asHost("freebsd", "x64", 0, () => usageMessage(() => checkPrerequisites("x", []))), "x cannot run on this host; it needs:\n  - a Linux x86_64 host (this is freebsd/x64; the image is x86_64 and the tools are Linux's)");
        assert.equal(asHost("linux", "x64", undefined, () => usageMessage(() => checkPrerequisites("x", []))), "x cannot run on this host; it needs:\n  - root (run it with sudo)", "no getuid (Windows): not root");
        asHost("linux", "x64", 0, () => checkPrerequisites("x", [SH], { ovmf: false }));
        withFs("existsSync", () => true, () => asHost("linux", "x64", 0, () => checkPrerequisites("x", [SH], { ovmf: true })));
        withFs("existsSync", () => false, () => asHost("linux", "x64", 0, () => checkPrerequisites("x", [SH])));
    });

    it("OVMF: the first candidate whose code and variables both exist (Debian, Arch, Fedora)", () => {
        assert.deepEqual(OVMF_CANDIDATES, [
            { code: "/usr/share/OVMF/OVMF_CODE_4M.fd", vars: "/usr/share/OVMF/OVMF_VARS_4M.fd" },
            { code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd", vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd" },
            { code: "/usr/share/edk2/ovmf/OVMF_CODE.fd", vars: "/usr/share/edk2/ovmf/OVMF_VARS.fd" },
        ]);
        const only = (...present: string[]) => withFs("existsSync", ((p: fs.PathLike) => present.includes(String(p))) as typeof fs.existsSync, findOvmf);
        const [deb, arch, fed] = OVMF_CANDIDATES;
        assert.equal(only(), undefined);
        assert.deepEqual(only(fed.code, fed.vars, arch.code, deb.vars), fed, "a pair, not two halves");
        assert.deepEqual(only(fed.code, fed.vars, arch.code, arch.vars), arch);
        assert.deepEqual(only(fed.code, fed.vars, arch.code, arch.vars, deb.code, deb.vars), deb);
        assert.equal(only(deb.code, arch.vars, fed.code), undefined);
    });

    it("no OVMF: a UEFI machine line is refused, naming where firmware is looked for", () => {
        assert.throws(
            () => withFs("existsSync", () => false, () => machineArgs({ firmware: "uefi", bus: "nvme", disk: "/d", work: os.tmpdir(), serialFile: "/s" })),
            { message: "no UEFI firmware (OVMF) found on this host (see src/local/prerequisites.ts OVMF_CANDIDATES)" },
        );
    });

    it("KVM: /dev/kvm opened read-write, or not; the accelerator follows", () => {
        const asked: unknown[] = [];
        const yes = ((p: fs.PathLike, mode?: number) => void asked.push([p, mode])) as typeof fs.accessSync;
        assert.equal(withFs("accessSync", yes, kvmUsable), true);
        assert.deepEqual(asked, [["/dev/kvm", fs.constants.R_OK | fs.constants.W_OK]]);
        assert.deepEqual(withFs("accessSync", yes, accelArgs), ["-accel", "kvm", "-cpu", "host"]);
        const no = (() => {
            throw new Error("EACCES");
        }) as typeof fs.accessSync;
        assert.equal(withFs("accessSync", no, kvmUsable), false);
        assert.deepEqual(withFs("accessSync", no, accelArgs), ["-accel", "tcg", "-cpu", "max"]);
        assert.deepEqual(withFs("accessSync", yes, () => machineArgs({ firmware: "bios", bus: "nvme", disk: "/d", work: "/w", serialFile: "/s" }).slice(3, 7)), ["-accel", "kvm", "-cpu", "host"]);
    });

    it("the surrogate's QEMU line under KVM", async () => {
        const { surrogateQemuArgs } = await import("../../src/local/build");
        const yes = (() => undefined) as typeof fs.accessSync;
        assert.deepEqual(withFs("accessSync", yes, () => surrogateQemuArgs("/s", "/w", "/u", "vol-1").slice(0, 5)), ["-nodefaults", "-accel", "kvm", "-cpu", "host"]);
    });
});

const CLI_USAGE = `usage: arch-ami <command> [options]

commands:
  build-local   build the image on this machine, through the same steps as on AWS (arch-ami build-local --help)
  boot-local    boot an image as an EC2 instance would see it (arch-ami boot-local --help)
`;

describe("the arch-ami command", () => {
    let runs = 0;
    let savedExitCode: typeof process.exitCode;
    before(() => {
        savedExitCode = process.exitCode;
        process.exitCode = undefined;
    });
    after(() => {
        process.exitCode = savedExitCode;
    });

    /** Loads src/local/cli.ts afresh with `args` as its command line; its exit code and what it wrote. */
    async function cli(...args: string[]): Promise<{ code: number | string | undefined; stdout: string; stderr: string }> {
        const argv = process.argv;
        const out = process.stdout.write;
        const err = process.stderr.write;
        let stdout = "";
        let stderr = "";
        const catcher = (into: (s: string) => void, real: typeof out) =>
            function (chunk: unknown, ...rest: unknown[]) {
                if (typeof chunk === "string" && /^(usage: |arch-ami: |==> build-local: )/.test(chunk)) {
                    into(chunk);
                    return true;
                }
                return (real as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
            } as typeof out;
        process.argv = [argv[0], "arch-ami", ...args];
        process.stdout.write = catcher((s) => (stdout += s), out);
        process.stderr.write = catcher((s) => (stderr += s), err);
        process.exitCode = undefined;
        try {
            if (!process.env.VITEST) {
                const load = createRequire(__filename);
                const file = load.resolve("../../src/local/cli");
                delete load.cache[file];
                load(file);
            } else {
                const spec = `../../src/local/cli?run=${runs++}`;
                await import(spec);
            }
            for (let i = 0; i < 1000 && process.exitCode === undefined; i++) await new Promise((r) => setTimeout(r, 10));
        } finally {
            process.argv = argv;
            process.stdout.write = out;
            process.stderr.write = err;
        }
        const code = process.exitCode;
        process.exitCode = undefined;
        return { code, stdout, stderr };
    }

    it("help, -h, --help: the usage, exit 0", async () => {
        for (const h of ["help", "-h", "--help"]) assert.deepEqual(await cli(h), { code: 0, stdout: CLI_USAGE, stderr: "" }, h);
    });

    it("no command or an unknown one: named, the usage, exit 2", async () => {
        assert.deepEqual(await cli(), { code: 2, stdout: "", stderr: `arch-ami: no command given\n${CLI_USAGE}` });
        assert.deepEqual(await cli("bulid-local", "--help"), { code: 2, stdout: "", stderr: `arch-ami: unknown command "bulid-local"\n${CLI_USAGE}` });
    });

    it("build-local and boot-local run their own main: their usage, exit 0; a usage error exit 2 with its message", async () => {
        const build = await cli("build-local", "--help");
        assert.equal(build.code, 0);
        assert.match(build.stdout, /^usage: arch-ami build-local /);
        const boot = await cli("boot-local", "-h");
        assert.equal(boot.code, 0);
        const { usage } = await import("../../src/local/boot");
        assert.equal(boot.stdout, usage(2));
        const bad = await cli("build-local", "--out", "x.raw");
        assert.equal(bad.code, 2);
        assert.ok(bad.stderr.startsWith("arch-ami: build-local: give exactly one of --args FILE and --stack NAME\nusage: arch-ami build-local "), bad.stderr);
        assert.deepEqual(await cli("boot-local"), { code: 2, stdout: "", stderr: "arch-ami: boot-local: no IMAGE given (arch-ami boot-local --help)\n" });
    });

    describe("a build's own exit code, and a failure that is not a usage error (exit 1)", { skip: skipReason(process.getuid?.() !== 0, "checkPrerequisites wants root") }, () => {
        let fake: FakeBin;
        let tmp = "";
        before(() => {
            fake = new FakeBin(["qemu-system-x86_64", "qemu-img", "bash", "mmdebstrap", "mkfs.ext4"]);
            fake.install();
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-cli-"));
            process.env.TMPDIR = tmp;
            fs.writeFileSync(path.join(tmp, "t.tar.zst"), "t");
            fs.writeFileSync(path.join(tmp, "a.json"), "{}");
        });
        after(() => {
            fake.uninstall();
            fs.rmSync(tmp, { recursive: true, force: true });
        });

        it("exit 4 from the provisioning is arch-ami's; build-surrogate.sh failing is exit 1 with its message", async () => {
            const args = ["build-local", "--args", path.join(tmp, "a.json"), "--out", path.join(tmp, "i.raw"), "--tarball", path.join(tmp, "t.tar.zst"), "--cache", "/c"];
            fake.reset();
            fake.set({ FAKE_CAPTURE: tmp, FAKE_RESULTS: "00-provision=4 01-builder-clean=0", FAKE_SURROGATE_OUT: "/s\\n", FAKE_SERIAL: "" });
            const r = await cli(...args);
            assert.equal(r.code, 4);
            assert.equal(r.stderr, "");
            fake.reset();
            fake.set({ FAKE_SURROGATE_STATUS: "9" });
            assert.deepEqual(await cli(...args), { code: 1, stdout: "==> build-local: surrogate VM: Debian 13 (cache /c)\n", stderr: "arch-ami: local/build-surrogate.sh failed (exit 9); its messages are above\n" });
        });
    });
});
