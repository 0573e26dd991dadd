// arch-ami boot-local in process (src/local/boot.ts): the usage text, the options' edges, the key pair it
// launches with, verify.sh's arguments, the ssh relay, and whole runs of main() (foreground and --verify)
// against a fake `ip` (test/unit/fakeBin.ts: the namespace, the metadata service, QEMU, ssh, ssh-keyscan) on a
// small raw image; qemu-img and ssh-keygen are the real ones.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { KeyChoice, Relay, chooseKey, invokingHome, localVerifyArgs, main, parseArgs, usage } from "../../src/local/boot";
import { OVMF_CANDIDATES, UsageError, findOvmf, kvmUsable } from "../../src/local/prerequisites";
import * as verify from "../../src/image/verify";
import * as render from "../../src/render";
import * as settings from "../../src/settings";
import { FakeBin, withShortTimers } from "./fakeBin";
import { skipReason } from "../lib/skipReason";

const repo = path.resolve(__dirname, "../..");
const c = { ...verify, ...render, ...settings };
const notRoot = skipReason(process.getuid?.() !== 0, "checkPrerequisites and Vm.setUp want root");
const noTools = skipReason(spawnSync("sh", ["-c", "command -v qemu-img && command -v ssh-keygen && command -v python3"]).status !== 0, "needs qemu-img, ssh-keygen and python3");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE user@host";

function usageError(f: () => unknown, message: string): void {
    assert.throws(f, (e: unknown) => {
        assert.ok(e instanceof UsageError, `a UsageError, not ${String(e)}`);
        assert.equal(e.message, message);
        return true;
    });
}

/** Runs `f` with what it writes to stdout starting with one of `prefixes` captured; `onLine` sees each. */
async function captureStdout<T>(prefixes: string[], f: () => Promise<T>, onLine: (s: string) => void = () => undefined): Promise<[T, string[]]> {
    const write = process.stdout.write;
    const seen: string[] = [];
    process.stdout.write = function (chunk: unknown, ...rest: unknown[]) {
        const text = Buffer.isBuffer(chunk) ? chunk.toString() : chunk;
        if (typeof text === "string" && prefixes.some((p) => text.startsWith(p))) {
            seen.push(text);
            onLine(text);
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

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    return port;
}

/** What a connection to 127.0.0.1:`port` that says "hi" gets back, or "refused: CODE". */
function talk(port: number): Promise<string> {
    return new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => s.write("hi"));
        let got = "";
        s.on("data", (d) => {
            got += d.toString();
            if (got.length >= "relay 2222:hi".length) {
                s.destroy();
                resolve(got);
            }
        });
        s.on("error", (e: NodeJS.ErrnoException) => resolve(`refused: ${e.code}`));
    });
}

describe("boot-local's usage and options", () => {
    it("usage: the extra GiB of the check's volume in both places, the DNS name, every option", () => {
        const u = usage(7);
        assert.ok(u.startsWith("usage: arch-ami boot-local IMAGE [options]\n\nBoots IMAGE (raw or qcow2, e.g. what build-local made)"));
        assert.ok(u.includes("  --disk-size GIB       the instance's disk in GiB (default: the record's volumeSize + 7, as\n                        the AWS check's volume; else the image's size + 7)\n"));
        assert.ok(u.includes("one name (arch-ami-local.example)."));
        for (const o of ["--firmware uefi|bios", "--bus nvme|virtio", "--disk-size GIB", "--ssh-key PUB", "--ssh-port N", "--verify", "--timeout SECONDS", "-h, --help"]) assert.ok(u.includes(`\n  ${o}  `), o);
        assert.ok(u.endsWith("arguments, the volume size and the boot mode; without it: the component's defaults.\n"));
    });

    it("parseArgs at the edges: the bounds, empty values, '-' as the image, --help before a bad option", () => {
        assert.deepEqual(parseArgs(["--disk-size=1", "--ssh-port=1", "--timeout", "9007199254740991", "--ssh-key=", "--verify", "-"]), {
            bus: "nvme", sshPort: 1, verify: true, timeoutSeconds: 9007199254740991, diskSizeGiB: 1, sshKey: "", image: "-",
        });
        assert.equal((parseArgs(["--disk-size", "007", "i"]) as { diskSizeGiB: number }).diskSizeGiB, 7);
        assert.equal(parseArgs(["-h", "--bogus"]), "help");
        usageError(() => parseArgs(["--bogus", "-h"]), 'boot-local: unknown option "--bogus" (arch-ami boot-local --help)');
        usageError(() => parseArgs(["-x", "i"]), 'boot-local: unknown option "-x" (arch-ami boot-local --help)');
        usageError(() => parseArgs(["--verify=yes", "i"]), 'boot-local: unknown option "--verify" (arch-ami boot-local --help)');
        usageError(() => parseArgs(["i", "--firmware"]), "boot-local: --firmware needs a value (arch-ami boot-local --help)");
        usageError(() => parseArgs(["--timeout=", "i"]), 'boot-local: --timeout "": expected a whole number from 1 to 9007199254740991');
        usageError(() => parseArgs(["--timeout", "9007199254740992", "i"]), 'boot-local: --timeout "9007199254740992": expected a whole number from 1 to 9007199254740991');
        usageError(() => parseArgs(["--ssh-port", "0x10", "i"]), 'boot-local: --ssh-port "0x10": expected a whole number from 1 to 65535');
        usageError(() => parseArgs(["--ssh-port", "0", "i"]), 'boot-local: --ssh-port "0": expected a whole number from 1 to 65535');
        usageError(() => parseArgs(["--disk-size", " 5", "i"]), 'boot-local: --disk-size " 5": expected a whole number from 1 to 16384');
        usageError(() => parseArgs(["--firmware=UEFI", "i"]), 'boot-local: --firmware "UEFI": expected uefi or bios');
        usageError(() => parseArgs(["--bus=", "i"]), 'boot-local: --bus "": expected nvme or virtio');
        usageError(() => parseArgs(["--verify"]), "boot-local: no IMAGE given (arch-ami boot-local --help)");
        usageError(() => parseArgs(["a", "-", "c"]), 'boot-local: one IMAGE expected, got "a", "-", "c" (arch-ami boot-local --help)');
    });

    it("localVerifyArgs: the record's arguments, else the component defaults', then the local DNS name", () => {
        assert.deepEqual(localVerifyArgs(c, { defaultUser: "u", verifyArgs: ["--packages", "base linux-lts vim"], volumeSize: 4, bootMode: "uefi" }), ["--packages", "base linux-lts vim", "--dns-name", "arch-ami-local.example"]);
        assert.deepEqual(localVerifyArgs(c, undefined), ["--packages", "base linux", "--require-time-sync", "--dns-name", "arch-ami-local.example"]);
    });
});

describe("the key pair boot-local launches with", { skip: noTools }, () => {
    let tmp = "";
    let env: NodeJS.ProcessEnv = {};
    before(() => {
        env = { ...process.env };
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-keys-"));
        delete process.env.SUDO_USER;
        delete process.env.SUDO_UID;
        delete process.env.SUDO_GID;
    });
    after(() => {
        for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
        Object.assign(process.env, env);
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    const opts = (o: { sshKey?: string; verify?: boolean }) => ({ image: "i", bus: "nvme" as const, sshPort: 2222, timeoutSeconds: 900, verify: false, ...o });
    const noDir = () => assert.fail("no key folder wanted");
    let dirs = 0;
    const keyDir = () => {
        const d = path.join(tmp, `keydir${dirs++}`);
        fs.mkdirSync(d);
        return d;
    };

    it("invokingHome: SUDO_USER's home from the passwd database under sudo, else this process's home", () => {
        process.env.HOME = "/home/me";
        assert.equal(invokingHome(), "/home/me");
        process.env.SUDO_USER = "root";
        assert.equal(invokingHome(), "/home/me", "sudo by root: root's own");
        const entry = spawnSync("getent", ["passwd", "nobody"], { encoding: "utf8" }).stdout.trim();
        if (entry) {
            process.env.SUDO_USER = "nobody";
            assert.equal(invokingHome(), entry.split(":")[5]);
        }
        process.env.SUDO_USER = "arch-ami-no-such-user";
        assert.equal(invokingHome(), "/home/me");
        delete process.env.SUDO_USER;
    });

    it("--ssh-key: its first line, its private key when next to it; refused when unreadable, not a key, or without a private key for --verify", () => {
        const pub = path.join(tmp, "mine.pub");
        fs.writeFileSync(pub, `\n${KEY}\nsecond line\n`);
        assert.deepEqual(chooseKey(opts({ sshKey: pub }), noDir), { publicFile: pub, publicKey: KEY, privateFile: undefined, ephemeral: false });
        usageError(() => chooseKey(opts({ sshKey: pub, verify: true }), noDir), `boot-local: --verify logs in with the private key of --ssh-key: ${path.join(tmp, "mine")} not found (the public key file must end in .pub)`);
        fs.writeFileSync(path.join(tmp, "mine"), "private");
        assert.deepEqual(chooseKey(opts({ sshKey: pub, verify: true }), noDir), { publicFile: pub, publicKey: KEY, privateFile: path.join(tmp, "mine"), ephemeral: false });
        const other = path.join(tmp, "mine.key");
        fs.writeFileSync(other, `ecdsa-sha2-nistp256 AAAA c`);
        assert.deepEqual(chooseKey(opts({ sshKey: other }), noDir), { publicFile: other, publicKey: "ecdsa-sha2-nistp256 AAAA c", privateFile: undefined, ephemeral: false }, "without .pub: no private key");
        usageError(() => chooseKey(opts({ sshKey: other, verify: true }), noDir), `boot-local: --verify logs in with the private key of --ssh-key: ${other} not found (the public key file must end in .pub)`);
        fs.writeFileSync(path.join(tmp, "sk.pub"), "sk-ssh-ed25519@openssh.com AAAA");
        assert.equal(chooseKey(opts({ sshKey: path.join(tmp, "sk.pub") }), noDir).publicKey, "sk-ssh-ed25519@openssh.com AAAA");
        for (const bad of ["ssh-ed25519", "ssh-ed25519 ", "rsa AAAA", "-----BEGIN OPENSSH PRIVATE KEY-----", " x ssh-rsa AAAA"]) {
            fs.writeFileSync(path.join(tmp, "bad.pub"), bad);
            usageError(() => chooseKey(opts({ sshKey: path.join(tmp, "bad.pub") }), noDir), `boot-local: --ssh-key ${path.join(tmp, "bad.pub")}: not an OpenSSH public key (ssh-ed25519 AAAA… comment)`);
        }
        usageError(() => chooseKey(opts({ sshKey: path.join(tmp, "none.pub") }), noDir), `boot-local: --ssh-key ${path.join(tmp, "none.pub")}: ENOENT: no such file or directory, open '${path.join(tmp, "none.pub")}'`);
        // Only the final ".pub" is the suffix: a folder named with ".pub" keeps its name.
        const keys = path.join(tmp, "keys.pub.d");
        fs.mkdirSync(keys);
        fs.writeFileSync(path.join(keys, "k.pub"), KEY);
        fs.writeFileSync(path.join(keys, "k"), "private");
        assert.deepEqual(chooseKey(opts({ sshKey: path.join(keys, "k.pub"), verify: true }), noDir), { publicFile: path.join(keys, "k.pub"), publicKey: KEY, privateFile: path.join(keys, "k"), ephemeral: false });
    });

    it("without --ssh-key: the first of ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub, with its private key when there", () => {
        const home = path.join(tmp, "home");
        const ssh = path.join(home, ".ssh");
        fs.mkdirSync(ssh, { recursive: true });
        process.env.HOME = home;
        fs.writeFileSync(path.join(ssh, "id_rsa.pub"), "ssh-rsa AAAArsa r\n");
        assert.deepEqual(chooseKey(opts({}), noDir), { publicFile: path.join(ssh, "id_rsa.pub"), publicKey: "ssh-rsa AAAArsa r", privateFile: undefined, ephemeral: false });
        fs.writeFileSync(path.join(ssh, "id_ecdsa.pub"), "ecdsa-sha2-nistp256 AAAAec e\n");
        fs.writeFileSync(path.join(ssh, "id_ecdsa"), "private");
        assert.deepEqual(chooseKey(opts({}), noDir), { publicFile: path.join(ssh, "id_ecdsa.pub"), publicKey: "ecdsa-sha2-nistp256 AAAAec e", privateFile: path.join(ssh, "id_ecdsa"), ephemeral: false });
        fs.writeFileSync(path.join(ssh, "id_ed25519.pub"), `${KEY}\n`);
        assert.deepEqual(chooseKey(opts({}), noDir), { publicFile: path.join(ssh, "id_ed25519.pub"), publicKey: KEY, privateFile: undefined, ephemeral: false });
        fs.writeFileSync(path.join(ssh, "id_ed25519.pub"), "garbage");
        usageError(() => chooseKey(opts({}), noDir), `boot-local: key ${path.join(ssh, "id_ed25519.pub")}: not an OpenSSH public key (ssh-ed25519 AAAA… comment)`);
        // A home whose path has ".pub" in it: the private key is still the file next to the public one.
        const dotted = path.join(tmp, "home.pub.d", ".ssh");
        fs.mkdirSync(dotted, { recursive: true });
        fs.writeFileSync(path.join(dotted, "id_ed25519.pub"), `${KEY}\n`);
        fs.writeFileSync(path.join(dotted, "id_ed25519"), "private");
        process.env.HOME = path.dirname(dotted);
        assert.deepEqual(chooseKey(opts({}), noDir), { publicFile: path.join(dotted, "id_ed25519.pub"), publicKey: KEY, privateFile: path.join(dotted, "id_ed25519"), ephemeral: false });
    });

    it("--verify, or no key of the user's: a new ed25519 key pair in the key folder, owned by SUDO_UID:SUDO_GID under sudo", () => {
        process.env.HOME = path.join(tmp, "home");
        const check = (k: KeyChoice, dir: string) => {
            const privateFile = path.join(dir, "id_ed25519");
            assert.deepEqual(k, { publicFile: `${privateFile}.pub`, publicKey: fs.readFileSync(`${privateFile}.pub`, "utf8").trim(), privateFile, ephemeral: true });
            assert.match(k.publicKey, /^ssh-ed25519 AAAA\S+ arch-ami-boot-local$/);
            assert.match(fs.readFileSync(privateFile, "utf8"), /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
            const fp = execFileSync("ssh-keygen", ["-l", "-f", privateFile], { encoding: "utf8" });
            assert.match(fp, /\(ED25519\)\n$/);
            // Without a passphrase: boot-local logs in with it non-interactively.
            const derived = execFileSync("ssh-keygen", ["-y", "-P", "", "-f", privateFile], { encoding: "utf8" }).trim();
            assert.equal(derived.split(" ").slice(0, 2).join(" "), k.publicKey.split(" ").slice(0, 2).join(" "));
        };
        const k1 = chooseKey(opts({ verify: true }), keyDir);
        check(k1, path.join(tmp, "keydir0"));
        assert.equal(fs.statSync(k1.privateFile!).uid, process.getuid!(), "no SUDO_UID: not chowned");
        process.env.HOME = path.join(tmp, "empty-home");
        process.env.SUDO_UID = "65534";
        process.env.SUDO_GID = "65533";
        const k2 = chooseKey(opts({}), keyDir);
        check(k2, path.join(tmp, "keydir1"));
        if (process.getuid?.() === 0) {
            for (const f of [path.join(tmp, "keydir1"), k2.privateFile!, k2.publicFile]) assert.deepEqual([fs.statSync(f).uid, fs.statSync(f).gid], [65534, 65533], f);
        }
        process.env.SUDO_UID = "0";
        const k3 = chooseKey(opts({ verify: true }), keyDir);
        assert.equal(fs.statSync(k3.privateFile!).gid, process.getgid!(), "SUDO_UID 0: not chowned");
        process.env.SUDO_UID = "65534";
        process.env.SUDO_GID = "x";
        const k4 = chooseKey(opts({ verify: true }), keyDir);
        assert.equal(fs.statSync(k4.privateFile!).uid, process.getuid!(), "no whole SUDO_GID: not chowned");
    });
});

describe("the ssh relay on 127.0.0.1", () => {
    let fake: FakeBin;
    before(() => {
        fake = new FakeBin(["ip"]);
        fake.install();
    });
    after(() => fake.uninstall());

    it("joins each connection to relay.py in the namespace, the guest's port its argument; a port in use is a UsageError", async () => {
        fake.reset();
        const port = await freePort();
        const relay = await Relay.listen(port, "arch-ami-test-ns");
        try {
            const reply = await new Promise<string>((resolve, reject) => {
                const s = net.connect(port, "127.0.0.1", () => s.write("hello"));
                let got = "";
                s.on("data", (d) => {
                    got += d.toString();
                    if (got.length >= "relay 2222:hello".length) {
                        s.destroy();
                        resolve(got);
                    }
                });
                s.on("error", reject);
            });
            assert.equal(reply, "relay 2222:hello");
            assert.deepEqual(fake.calls().map((x) => [x.name, ...x.args]), [["ip", "netns", "exec", "arch-ami-test-ns", "python3", path.join(repo, "local", "relay.py"), "2222"]]);
            await assert.rejects(Relay.listen(port, "other"), (e: unknown) => {
                assert.ok(e instanceof UsageError);
                assert.equal(e.message, `boot-local: --ssh-port ${port}: 127.0.0.1:${port} is in use; choose another port with --ssh-port`);
                return true;
            });
        } finally {
            relay.close();
        }
        await new Promise((r) => setTimeout(r, 20));
        await assert.rejects(new Promise((resolve, reject) => net.connect(port, "127.0.0.1", () => resolve(undefined)).on("error", reject)), /ECONNREFUSED/, "closed");
    });
});

describe("boot-local main(), with a fake ip", { skip: notRoot || noTools }, () => {
    let fake: FakeBin;
    let tmp = "";
    let image = "";
    let env: NodeJS.ProcessEnv = {};
    before(() => {
        env = { ...process.env };
        fake = new FakeBin(["ip", "ssh", "qemu-system-x86_64"]);
        fake.install();
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-bootmain-"));
        image = path.join(tmp, "arch.raw");
        fs.writeFileSync(image, Buffer.alloc(1024 * 1024));
        process.env.HOME = path.join(tmp, "home");
        fs.mkdirSync(path.join(tmp, "home", ".ssh"), { recursive: true });
        fs.writeFileSync(path.join(tmp, "home", ".ssh", "id_ed25519.pub"), `${KEY}\n`);
        fs.writeFileSync(path.join(tmp, "home", ".ssh", "id_ed25519"), "the user's private key: ssh finds it itself");
        delete process.env.SUDO_USER;
    });
    after(() => {
        fake.uninstall();
        for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
        Object.assign(process.env, env);
        fs.rmSync(tmp, { recursive: true, force: true });
    });
    const run = (argv: string[], onLine?: (s: string) => void) => captureStdout(["boot-local: ", "\n  ssh -p ", "usage: ", "verify output"], () => main(argv), onLine);
    let offs = 0;
    /** A guest that powers itself off when the test says so: the fake QEMU runs until `file` exists (FAKE_QEMU_UNTIL); `onLine` makes it once boot-local says the instance is up. */
    const poweredOff = () => {
        const file = path.join(tmp, `power-off-${++offs}`);
        return { env: { FAKE_QEMU_UNTIL: file }, file, onLine: (l: string) => l.startsWith("boot-local: Ctrl-C") && fs.writeFileSync(file, "") };
    };
    const accel = kvmUsable() ? "KVM" : "TCG (no usable /dev/kvm: emulated, slow)";
    /** Calls the handlers main() added for SIGINT, as a Ctrl-C would (without a signal). */
    const ctrlC = (known: NodeJS.SignalsListener[], after?: string) => () => {
        const fire = (tries: number) => {
            if (after !== undefined && !fs.existsSync(after) && tries > 0) {
                setTimeout(() => fire(tries - 1), 20);
                return;
            }
            process.listeners("SIGINT").filter((l) => !known.includes(l)).forEach((l) => l("SIGINT"));
        };
        setImmediate(() => fire(250));
    };

    it("--help prints the usage with the check's extra GiB", async () => {
        const [code, out] = await run(["--help"]);
        assert.equal(code, 0);
        assert.deepEqual(out, [usage(verify.VERIFY_EXTRA_GIB)]);
    });

    it("refuses a missing image, a folder, an image neither raw nor qcow2, a disk smaller than the image", async () => {
        await assert.rejects(main([path.join(tmp, "none.raw")]), { message: `boot-local: IMAGE ${path.join(tmp, "none.raw")}: no such file` });
        await assert.rejects(main([tmp]), { message: `boot-local: IMAGE ${tmp}: no such file` });
        const vmdk = path.join(tmp, "d.vmdk");
        execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", vmdk, "1M"]);
        await assert.rejects(main(["--firmware", "bios", vmdk]), (e: unknown) => {
            assert.ok(e instanceof UsageError);
            assert.equal(e.message, `boot-local: IMAGE ${vmdk}: a vmdk image; a raw or qcow2 image is needed`);
            return true;
        });
        const big = path.join(tmp, "big.raw");
        fs.writeFileSync(big, "");
        fs.truncateSync(big, 3 * 1024 ** 3 + 1024 ** 3 / 2);
        await assert.rejects(main(["--bus", "virtio", "--disk-size", "3", big]), { message: "boot-local: --disk-size 3: smaller than the image (3.5 GiB)" });
        fs.rmSync(big);
        assert.deepEqual(fake.calls(), [], "nothing started");
    });

    it("refuses a host without what it needs, before anything starts: each program with its package, OVMF only for UEFI", async () => {
        fake.reset();
        // A PATH with everything boot-local runs but ssh-keygen (the fakes for ip, ssh and QEMU), and no OVMF.
        const bin = path.join(tmp, "bin-without-ssh-keygen");
        fs.mkdirSync(bin);
        for (const c of ["sh", "ip", "qemu-system-x86_64", "qemu-img", "python3", "ssh"]) {
            fs.symlinkSync(execFileSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" }).trim(), path.join(bin, c));
        }
        const pathBefore = process.env.PATH;
        const ovmf = OVMF_CANDIDATES.splice(0, OVMF_CANDIDATES.length, { code: path.join(tmp, "no-OVMF_CODE.fd"), vars: path.join(tmp, "no-OVMF_VARS.fd") });
        process.env.PATH = bin;
        try {
            const keygen = "ssh-keygen: install openssh-client (Debian/Ubuntu: apt install openssh-client; Arch: pacman -S openssh; Fedora: dnf install openssh-clients)";
            await assert.rejects(main(["--firmware", "bios", image]), (e: unknown) => {
                assert.ok(e instanceof UsageError);
                assert.equal(e.message, `boot-local cannot run on this host; it needs:\n  - ${keygen}`);
                return true;
            });
            await assert.rejects(main(["--firmware", "uefi", image]), {
                message: `boot-local cannot run on this host; it needs:\n  - ${keygen}\n  - UEFI firmware (OVMF): install ovmf (Debian/Ubuntu), edk2-ovmf (Arch), edk2-ovmf (Fedora)`,
            });
        } finally {
            process.env.PATH = pathBefore;
            OVMF_CANDIDATES.splice(0, OVMF_CANDIDATES.length, ...ovmf);
        }
        assert.deepEqual(fake.calls(), [], "nothing started");
    });

    it("foreground: the instance described, the ssh command printed, the guest's power-off ends it; everything removed", async () => {
        fake.reset();
        const copy = path.join(tmp, "overlay-seen.qcow2");
        const off = poweredOff();
        fake.set({ FAKE_KEYSCAN: "[127.0.0.1]:2222 ssh-ed25519 AAAA\\n", ...off.env, FAKE_QEMU_EXIT: "0", FAKE_DISK_COPY: copy });
        const port = await freePort();
        const [code, out] = await run(["--firmware", "bios", "--ssh-port", String(port), image], off.onLine);
        assert.equal(code, 0);
        const id = /instance (i-[0-9a-f]{17}):/.exec(out[1])![1];
        const work = path.dirname(/metadata requests: (\S+);/.exec(out[2])![1]);
        assert.match(work, new RegExp(`^${os.tmpdir()}/arch-ami-boot-local-`));
        const vmWork = path.dirname(/serial console: (\S+)/.exec(out[2])![1]);
        assert.match(vmWork, new RegExp(`^${os.tmpdir()}/arch-ami-local-`));
        const upAfter = /SSH is up after (\d+\.\d) s/.exec(out[4])?.[1];
        const keyFile = path.join(tmp, "home", ".ssh", "id_ed25519.pub");
        assert.deepEqual(out, [
            `boot-local: image ${image} (raw; no image record: the component's defaults), default user arch\n`,
            `boot-local: instance ${id}: BIOS (SeaBIOS), disk on nvme, 3 GiB, ${accel}; key pair id_ed25519 (${keyFile})\n`,
            `boot-local: serial console: ${out[2].split(" ")[3]} (tail -f it to watch the boot); metadata requests: ${work}/imds-requests.jsonl; both are removed at the end\n`,
            "boot-local: waiting up to 900 s for SSH (no internet in the instance; its DNS knows arch-ami-local.example only)\n",
            `boot-local: SSH is up after ${upAfter} s. Log in with:\n`,
            `\n  ssh -p ${port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR arch@127.0.0.1\n\n`,
            "boot-local: Ctrl-C (or a power-off in the guest) ends the instance and removes it\n",
            "boot-local: the guest powered off (QEMU exit 0); removing the instance\n",
        ]);
        assert.match(out[2], new RegExp(`^boot-local: serial console: ${vmWork}/serial-\\d+\\.log `));
        assert.equal(fs.existsSync(vmWork), false, "the VM's work folder is removed");
        const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", copy], { encoding: "utf8" })) as Record<string, unknown>;
        assert.deepEqual([info["virtual-size"], info["backing-filename"], info["backing-filename-format"]], [3 * 1024 ** 3, image, "raw"], "an overlay of 1 MiB rounded up + 2 GiB");
        const ns = `arch-ami-local-${process.pid}`;
        const calls = fake.calls();
        const qemu = calls.find((x) => x.args[3] === "qemu-system-x86_64")!;
        assert.ok(qemu.args.includes("-no-reboot") === false && qemu.args.includes(`file=${path.join(work, "local.qcow2")},if=none,id=disk,format=qcow2`), qemu.args.join(" "));
        assert.ok(qemu.args.includes(`type=3,manufacturer=Amazon EC2,asset=${id}`));
        const nic = qemu.args.find((a) => a.startsWith("user,model=virtio-net-pci,"));
        assert.ok(nic?.includes(",net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,dhcpstart=10.0.2.15,"), `QEMU's user network is 10.0.2.0/24: ${nic}`);
        assert.deepEqual(calls[calls.length - 1].args, ["netns", "delete", ns]);
        assert.equal(fs.existsSync(work), false, "the work folder is removed");
        await assert.rejects(new Promise((resolve, reject) => net.connect(port, "127.0.0.1", () => resolve(undefined)).on("error", reject)), /ECONNREFUSED/, "the relay is closed");
    });

    it("the image record: its user, its volume size + 2 GiB, legacy-bios boots BIOS; --disk-size and --bus win; Ctrl-C ends it", async () => {
        fake.reset();
        fs.writeFileSync(`${image}.arch-ami.json`, JSON.stringify({ defaultUser: "ec2-user", verifyArgs: [], volumeSize: 5, bootMode: "legacy-bios" }));
        try {
            await recorded();
        } finally {
            fs.rmSync(`${image}.arch-ami.json`);
        }
    });

    async function recorded() {
        const copy = path.join(tmp, "overlay-seen2.qcow2");
        fake.set({ FAKE_KEYSCAN: "[127.0.0.1]:2222 ssh-ed25519 AAAA\\n", FAKE_QEMU_RUN: "30", FAKE_DISK_COPY: copy });
        const known = process.listeners("SIGINT");
        const port = await freePort();
        let relayed: Promise<string> | undefined;
        const [code, out] = await run(["--ssh-port", String(port), image], (l) => {
            if (l.startsWith("boot-local: Ctrl-C")) relayed = talk(port).then((r) => (ctrlC(known, copy)(), r));
        });
        assert.equal(await relayed, "relay 2222:hi", "the printed port reaches the guest's sshd through the relay");
        assert.equal(code, 0);
        assert.equal(out[0], `boot-local: image ${image} (raw; record ${image}.arch-ami.json), default user ec2-user\n`);
        assert.match(out[1], / BIOS \(SeaBIOS\), disk on nvme, 7 GiB, /);
        assert.match(out[5], / ec2-user@127\.0\.0\.1\n\n$/);
        assert.equal(out[out.length - 1], "boot-local: interrupted; removing the instance\n");
        assert.deepEqual(process.listeners("SIGINT"), known, "its handlers are removed");
        assert.equal((JSON.parse(execFileSync("qemu-img", ["info", "--output=json", copy], { encoding: "utf8" })) as Record<string, unknown>)["virtual-size"], 7 * 1024 ** 3);

        fake.reset();
        fake.set({ FAKE_QEMU_RUN: "30", FAKE_KEYSCAN: "" });
        const [code2, out2] = await run(["--disk-size", "9", "--bus=virtio", "--firmware=uefi", "--ssh-port", String(await freePort()), image], (l) => l.startsWith("boot-local: waiting") && ctrlC(known)());
        assert.equal(code2, 130, "interrupted before SSH");
        assert.match(out2[1], / UEFI \(OVMF\), disk on virtio, 9 GiB, /);
        assert.equal(out2[out2.length - 1], "boot-local: interrupted; removing the instance\n");
    }

    it("--ssh-key with its private key: printed with -i; a key of its own (ephemeral) too, and said to be removed", async () => {
        fake.reset();
        // ".pub" inside the name too: only the last one is the public key's suffix.
        const pub = path.join(tmp, "k.public.pub");
        fs.writeFileSync(pub, `${KEY}\n`);
        fs.writeFileSync(path.join(tmp, "k.public"), "private");
        const off = poweredOff();
        fake.set({ FAKE_KEYSCAN: "[127.0.0.1]:2222 ecdsa-sha2-nistp256 AAAA\\n", ...off.env, FAKE_QEMU_EXIT: "3" });
        const port = await freePort();
        const uefi = findOvmf() !== undefined;
        const [code, out] = await run([...(uefi ? [] : ["--firmware", "bios"]), "--ssh-key", pub, "--ssh-port", String(port), image], off.onLine);
        assert.equal(code, 0);
        if (uefi) assert.match(out[1], /: UEFI \(OVMF\), disk on nvme, /, "no record, no --firmware: UEFI");
        assert.ok(out[1].endsWith(`; key pair k.public (${pub})\n`), out[1]);
        assert.equal(out[5], `\n  ssh -p ${port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i ${path.join(tmp, "k.public")} arch@127.0.0.1\n\n`);
        assert.equal(out[out.length - 1], "boot-local: the guest powered off (QEMU exit 3); removing the instance\n");

        fake.reset();
        const off2 = poweredOff();
        fake.set({ FAKE_KEYSCAN: "[127.0.0.1]:2222 ssh-ed25519 AAAA\\n", ...off2.env, FAKE_QEMU_EXIT: "0" });
        process.env.HOME = path.join(tmp, "no-keys");
        const qcow2 = path.join(tmp, "exact.qcow2");
        execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", qcow2, "1G"]);
        const copy = path.join(tmp, "overlay-seen3.qcow2");
        fake.set({ FAKE_DISK_COPY: copy });
        try {
            const [, out2] = await run(["--firmware", "bios", "--disk-size", "1", "--ssh-port", String(await freePort()), qcow2], off2.onLine);
            assert.equal(out2[0], `boot-local: image ${qcow2} (qcow2; no image record: the component's defaults), default user arch\n`);
            assert.match(out2[1], /, disk on nvme, 1 GiB, /, "a disk as large as the image is enough");
            const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", copy], { encoding: "utf8" })) as Record<string, unknown>;
            assert.deepEqual([info["virtual-size"], info["backing-filename"], info["backing-filename-format"]], [1024 ** 3, qcow2, "qcow2"]);
            const key = /\(([^ ]+id_ed25519)\.pub, made for this run\)\n$/.exec(out2[1])![1];
            assert.match(key, new RegExp(`^${os.tmpdir()}/arch-ami-boot-local-key-`));
            assert.ok(out2[5].endsWith(` -o LogLevel=ERROR -i ${key} arch@127.0.0.1\n\n`));
            assert.equal(out2[6], `boot-local: the key pair was made for this run and is removed at the end: ${key}\n`);
            assert.equal(fs.existsSync(path.dirname(key)), false, "removed");
        } finally {
            process.env.HOME = path.join(tmp, "home");
        }
    });

    it("--verify: verify.sh as the AWS check runs it, as the default user with a key of its own; its status, or 0 after the power-off", async () => {
        fake.reset();
        const off = poweredOff();
        fake.set({ ...off.env, FAKE_SSH_POWEROFF: off.file, FAKE_QEMU_EXIT: "0", FAKE_SSH_STATUS: "0", FAKE_SSH_STDOUT: "verify output" });
        const port = await freePort();
        let relayed: Promise<string> | undefined;
        const [code, out] = await run(["--firmware", "bios", "--verify", "--ssh-port", String(port), image], (l) => {
            if (l.startsWith("boot-local: SSH login as")) relayed = talk(port);
        });
        assert.equal(await relayed, "refused: ECONNREFUSED", "--verify: no relay");
        assert.equal(code, 0);
        const id = /instance (i-[0-9a-f]{17}):/.exec(out[1])![1];
        assert.match(out[1], /; key pair id_ed25519 \(\/\S+\/id_ed25519\.pub, made for this run\)\n$/);
        const up = /after (\d+\.\d) s;/.exec(out[4])![1];
        assert.deepEqual(out.slice(4), [
            `boot-local: SSH login as arch after ${up} s; running verify.sh --packages 'base linux' --require-time-sync --dns-name arch-ami-local.example as the AWS check does\n`,
            "verify output",
            "boot-local: verify.sh passed; the guest powered itself off (QEMU exit 0), as the AWS test instance does\n",
        ]);
        const ssh = fake.calls().filter((x) => x.args[3] === "ssh");
        const verifyCall = ssh[ssh.length - 1].args;
        const key = verifyCall[verifyCall.indexOf("-i") + 1];
        assert.equal(verifyCall[verifyCall.length - 2], "arch@127.0.0.1");
        assert.equal(verifyCall[verifyCall.length - 1], c.verifyCommand(c.verifyScript(), ["--packages", "base linux", "--require-time-sync", "--dns-name", "arch-ami-local.example"], id));
        assert.equal(fs.existsSync(key), false, "the key pair is removed");
        assert.equal(fake.calls().some((x) => x.args.includes(path.join(repo, "local", "relay.py"))), false);

        for (const [status, stderr, said] of [
            ["1", "", "verification failed (verify.sh exit 1); the instance is removed"],
            ["255", "warning\nConnection closed by 127.0.0.1\n", "the SSH session failed (exit 255): Connection closed by 127.0.0.1"],
        ]) {
            fake.reset();
            fake.set({ FAKE_QEMU_RUN: "30", FAKE_SSH_STATUS: status, FAKE_SSH_STDERR: stderr });
            const [code2, out2] = await run(["--firmware", "bios", "--verify", image]);
            assert.equal(code2, Number(status));
            assert.equal(out2[out2.length - 1], `boot-local: ${said}\n`);
        }
    });

    it("--verify interrupted: before SSH, during verify.sh, while waiting for the power-off: exit 130, the instance removed", async () => {
        const known = process.listeners("SIGINT");
        for (const [env, at] of [
            [{ FAKE_QEMU_RUN: "30", FAKE_SSH_TRUE_STATUS: "255" }, "boot-local: waiting up to"],
            [{ FAKE_QEMU_RUN: "30", FAKE_SSH_RUN: "1" }, "boot-local: SSH login as"],
            [{ FAKE_QEMU_RUN: "30", FAKE_SSH_STATUS: "0", FAKE_SSH_STDOUT: "verify output" }, "verify output"],
        ] as [Record<string, string>, string][]) {
            fake.reset();
            fake.set(env);
            const [code, out] = await run(["--firmware", "bios", "--verify", "--ssh-port", String(await freePort()), image], (l) => l.startsWith(at) && ctrlC(known)());
            assert.equal(code, 130, at);
            assert.equal(out[out.length - 1], "boot-local: interrupted; removing the instance\n", at);
            assert.deepEqual(process.listeners("SIGINT"), known);
            const calls = fake.calls();
            assert.deepEqual(calls[calls.length - 1].args, ["netns", "delete", `arch-ami-local-${process.pid}`]);
        }
    });

    it("--verify: a guest that does not power itself off, and a verify.sh that never ends, are failures (exit 1)", async () => {
        fake.reset();
        fake.set({ FAKE_QEMU_RUN: "30", FAKE_SSH_STATUS: "0" });
        const [code, out] = await withShortTimers({ 180_000: 50 }, () => run(["--firmware", "bios", "--verify", image]));
        assert.equal(code, 1);
        assert.equal(out[out.length - 1], "boot-local: verify.sh passed, but the guest did not power itself off within 180 s (on AWS the test instance would keep running)\n");
        fake.reset();
        fake.set({ FAKE_QEMU_RUN: "30", FAKE_SSH_RUN: "1" });
        const [code2, out2] = await withShortTimers({ 1_800_000: 50 }, () => run(["--firmware", "bios", "--verify", image]));
        assert.equal(code2, 1);
        assert.equal(out2[out2.length - 1], "boot-local: verification failed (verify.sh exit none: killed after 1800 s); the instance is removed\n");
    });
});
