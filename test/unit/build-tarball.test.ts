// provision/build-tarball.sh (method "official") against a local mirror and a local "authoritative host":
// latest and pinned dates, the Archive fallback, the cache, the release signature (a test key pinned through
// ARCH_AMI_TEST_TRUST_ANCHORS signs the test tarballs; wrong key, missing signature and tampered tarball are
// refused), and the clear failures (missing date, checksum mismatch, pinned sha256, unreachable mirror,
// http without allowInsecureMirror, .tar.gz releases, missing gpg).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULTS, resolveSettings } from "../../src/settings";
import { tarballEnvironment } from "../../src/render";

const repo = path.resolve(__dirname, "../..");
const script = path.join(repo, "provision/build-tarball.sh");
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("build-tarball.sh (official method)", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-mirror-"));
    const good = Buffer.from("pretend zstd tarball " + "x".repeat(1000));
    let server: ChildProcess;
    let mirror = "";
    let base = "";
    const requests: string[] = [];
    const gnupg = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-gpg-"));
    const trust = path.join(root, "trust-anchors");
    let releaseKey = "";
    let otherKey = "";

    function gpg(home: string, ...args: string[]): string {
        const r = spawnSync("gpg", ["--homedir", home, "--batch", "--quiet", ...args], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
    }
    function newKey(home: string, uid: string): string {
        fs.mkdirSync(home, { recursive: true, mode: 0o700 });
        gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never");
        return /^fpr:+([0-9A-F]{40}):/m.exec(gpg(home, "--with-colons", "--list-keys"))![1];
    }
    function sign(home: string, file: string, sig: string) {
        fs.mkdirSync(path.dirname(sig), { recursive: true });
        gpg(home, "--yes", "--detach-sign", "--output", sig, file);
    }

    /** A release on the mirror (or the Archive), signed on the authoritative host unless told otherwise. */
    function release(dir: string, date: string, content: Buffer, opts: { listed?: string; signer?: "release" | "other" | "none"; signed?: Buffer; at?: string } = {}) {
        const d = path.join(root, opts.at ?? "mirror", "iso", dir);
        const name = `archlinux-bootstrap-${date}-x86_64.tar.zst`;
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, name), content);
        fs.writeFileSync(path.join(d, "sha256sums.txt"), `${sha("iso")}  archlinux-2026.11.01-x86_64.iso\n${opts.listed ?? sha(content)}  ${name}\n`);
        const signer = opts.signer ?? "release";
        if (signer !== "none") {
            const signedFile = path.join(gnupg, name);
            fs.writeFileSync(signedFile, opts.signed ?? content);
            sign(path.join(gnupg, signer), signedFile, path.join(root, "authority", "iso", date, `${name}.sig`));
        }
    }

    before(async () => {
        releaseKey = newKey(path.join(gnupg, "release"), "arch-ami test release key <release@arch-ami.invalid>");
        otherKey = newKey(path.join(gnupg, "other"), "someone else <other@arch-ami.invalid>");
        fs.mkdirSync(path.join(root, "keys"), { recursive: true });
        fs.writeFileSync(path.join(root, "keys", "release.pgp"), gpg(path.join(gnupg, "release"), "--armor", "--export", releaseKey));
        release("2026.11.01", "2026.11.01", good);
        release("latest", "2026.11.01", good);
        release("2026.10.01", "2026.10.01", Buffer.from("corrupted in transit"), { listed: sha("the real one") });
        release("2026.09.01", "2026.09.01", good, { signer: "other" });
        release("2026.08.01", "2026.08.01", good, { signer: "none" });
        const tampered = Buffer.from("pretend zstd tarball, with a backdoor " + "x".repeat(1000));
        release("2026.07.01", "2026.07.01", tampered, { signed: good });
        release("2025.01.01", "2025.01.01", good, { at: "archive" });
        server = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root]);
        server.stderr!.on("data", (d: Buffer) => requests.push(d.toString()));
        const port = await new Promise<string>((r) =>
            server.stdout!.on("data", (d: Buffer) => {
                const m = /port (\d+)/.exec(d.toString());
                if (m) r(m[1]);
            }),
        );
        base = `http://127.0.0.1:${port}`;
        mirror = `${base}/mirror`;
        fs.writeFileSync(
            trust,
            [
                `RELEASE_KEY_FINGERPRINTS=${releaseKey}`,
                `RELEASE_KEY_URLS=${base}/keys/missing.pgp ${base}/keys/release.pgp`,
                `SIGNATURE_HOSTS=${base}/nowhere ${base}/authority`,
                `ARCHIVE=${base}/archive`,
            ].join("\n") + "\n",
        );
    });
    after(() => {
        server.kill();
        spawnSync("gpgconf", ["--homedir", path.join(gnupg, "release"), "--kill", "all"]);
        spawnSync("gpgconf", ["--homedir", path.join(gnupg, "other"), "--kill", "all"]);
    });

    /** The environment the ArchAmi component gives the script (its own function), with the test mirror. */
    function componentEnv(): Record<string, string> {
        const s = resolveSettings("tarball-test", { bootstrapMirror: mirror, allowInsecureMirror: true });
        assert.equal(s.image.bootstrapDate, DEFAULTS.bootstrapDate);
        return tarballEnvironment(s.image, s.bootstrapMethod, s.bootstrapMirror);
    }

    function run(env: Record<string, string>, cache = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-cache-"))) {
        const r = spawnSync("/bin/bash", [script], {
            env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ARCH_AMI_TEST_TRUST_ANCHORS: trust, ...componentEnv(), ARCH_AMI_CACHE: cache, ...env },
            encoding: "utf8",
        });
        return { ...r, cache };
    }
    /** Refused: non-zero exit, nothing on stdout (so nothing is uploaded), no tarball kept. */
    function refused(r: ReturnType<typeof run>, message: RegExp) {
        assert.notEqual(r.status, 0, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, "");
        assert.deepEqual(fs.readdirSync(r.cache).filter((f) => f.includes("archlinux-bootstrap")), []);
    }

    it("resolves latest, verifies the checksum and reports path, sha256 and date", () => {
        const r = run({});
        assert.equal(r.status, 0, r.stderr);
        const info = JSON.parse(r.stdout.trim().split("\n").pop()!);
        assert.equal(info.date, "2026.11.01");
        assert.equal(info.sha256, sha(good));
        assert.equal(info.path, path.join(r.cache, "archlinux-bootstrap-2026.11.01-x86_64.tar.zst"));
        assert.deepEqual(fs.readFileSync(info.path), good);
        assert.match(r.stderr, new RegExp(`release signature verified: key ${releaseKey}`));
        assert.match(r.stderr, /signature from http:\/\/127\.0\.0\.1:\d+\/authority\/iso\/2026\.11\.01\//);
        assert.match(r.stderr, /WARNING: ARCH_AMI_TEST_TRUST_ANCHORS=.* REPLACES THE PINNED ARCH RELEASE KEYS/);
    });

    it("two builds downloading the same release into one cache at once both succeed (no shared part file)", async () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-cache-"));
        const env = { PATH: process.env.PATH!, HOME: os.tmpdir(), ARCH_AMI_TEST_TRUST_ANCHORS: trust, ...componentEnv(), ARCH_AMI_CACHE: cache };
        const one = () =>
            new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
                const p = spawn("/bin/bash", [script], { env });
                let out = "";
                let err = "";
                p.stdout.on("data", (d: Buffer) => (out += d.toString()));
                p.stderr.on("data", (d: Buffer) => (err += d.toString()));
                p.on("close", (code) => resolve({ code, out, err }));
            });
        const runs = await Promise.all([one(), one(), one()]);
        for (const r of runs) {
            assert.equal(r.code, 0, r.err);
            assert.equal(JSON.parse(r.out.trim().split("\n").pop()!).sha256, sha(good));
        }
        assert.deepEqual(fs.readdirSync(cache).filter((f) => f.startsWith(".download")), [], "no download folder left behind");
    });

    it("refuses a tarball signed by a key that is not pinned", () => {
        refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.09.01" }), /signature of archlinux-bootstrap-2026\.09\.01-x86_64\.tar\.zst(\.part)? is not by a pinned Arch release signing key/);
    });

    it("refuses a tarball without a signature on the authoritative hosts", () => {
        refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.08.01" }), /no signature archlinux-bootstrap-2026\.08\.01-x86_64\.tar\.zst\.sig at .*refusing an unsigned bootstrap tarball/);
    });

    it("refuses a tampered tarball even when the mirror's checksum list matches it", () => {
        refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.07.01" }), /BAD signature: .* does not match its release signature/);
    });

    it("refuses a key file that holds none of the pinned fingerprints", () => {
        const t = path.join(root, "trust-other");
        fs.writeFileSync(t, fs.readFileSync(trust, "utf8").replace(releaseKey, otherKey));
        refused(run({ ARCH_AMI_TEST_TRUST_ANCHORS: t }), /holds none of the pinned fingerprints/);
    });

    it("re-verifies the signature of a cached tarball", () => {
        const first = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" });
        assert.equal(first.status, 0, first.stderr);
        fs.writeFileSync(path.join(first.cache, "archlinux-bootstrap-2026.11.01-x86_64.tar.zst.sig"), "garbage");
        const second = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, first.cache);
        refused(second, /signature of archlinux-bootstrap-2026\.11\.01-x86_64\.tar\.zst is not by a pinned Arch release signing key/);
        const third = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, first.cache);
        assert.equal(third.status, 0, "the dropped copy is downloaded and verified again");
        assert.doesNotMatch(third.stderr, /cache hit/);
    });

    it("fetches a pinned date the mirror lacks from the Arch Linux Archive", () => {
        const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2025.01.01" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /release 2025\.01\.01 is not on .*; trying the Arch Linux Archive/);
        assert.match(r.stderr, /downloading http:\/\/127\.0\.0\.1:\d+\/archive\/iso\/2025\.01\.01\//);
    });

    it("refuses .tar.gz releases, naming the first .tar.zst release", () => {
        refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2024.03.01" }), /2024\.03\.01 is a \.tar\.gz; .* the first is 2024\.04\.01/);
    });

    it("refuses http mirrors unless allowInsecureMirror", () => {
        refused(run({ ARCH_AMI_ALLOW_INSECURE_MIRROR: "false" }), /bootstrap mirror http:\/\/127.* is plain http: refused \(set allowInsecureMirror: true/);
        refused(
            run({ ARCH_AMI_BOOTSTRAP_MIRROR: "file:///nonexistent", ARCH_AMI_MIRROR: "http://mirror.example/$repo/os/$arch", ARCH_AMI_ALLOW_INSECURE_MIRROR: "false" }),
            /package mirror http:\/\/mirror\.example.* is plain http: refused/,
        );
    });

    it("checks for gpg up front, saying how to install it", () => {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-bin-"));
        for (const tool of ["curl", "sha256sum", "cut", "mktemp"]) fs.symlinkSync(spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), path.join(bin, tool));
        refused(run({ PATH: bin }), /gpg \(GnuPG 2\) is needed .*apt install gnupg.*brew install gnupg/);
    });

    it("refuses the pacstrap method when the host's pacman keyring is empty", (t) => {
        const gpgdir = spawnSync("pacman-conf", ["GPGDir"], { encoding: "utf8" }).stdout?.trim() || "/etc/pacman.d/gnupg";
        const keys = fs.existsSync(gpgdir) ? (spawnSync("gpg", ["--homedir", gpgdir, "--batch", "--with-colons", "--list-keys"], { encoding: "utf8" }).stdout ?? "") : "";
        if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v pacstrap"]).status !== 0 || /^pub/m.test(keys)) {
            t.skip("needs root, pacstrap and an empty host pacman keyring");
            return;
        }
        refused(run({ ARCH_AMI_BOOTSTRAP_METHOD: "pacstrap" }), /the host's pacman keyring \(.*\) holds no keys; run 'pacman-key --init && pacman-key --populate archlinux'/);
    });

    it("refuses bootstrapSha256 with the pacstrap method", () => {
        refused(run({ ARCH_AMI_BOOTSTRAP_METHOD: "pacstrap", ARCH_AMI_BOOTSTRAP_SHA256: "f".repeat(64) }), /bootstrapSha256 cannot be used with bootstrap method pacstrap/);
    });

    it("does not download again when the cache holds the verified file", () => {
        const first = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" });
        assert.equal(first.status, 0, first.stderr);
        const before = requests.join("").split("2026.11.01-x86_64.tar.zst").length;
        const second = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, first.cache);
        assert.equal(second.status, 0, second.stderr);
        assert.match(second.stderr, /cache hit/);
        assert.equal(requests.join("").split("2026.11.01-x86_64.tar.zst").length, before, "no second download");
    });

    it("accepts a matching pinned sha256 and refuses another", () => {
        assert.equal(run({ ARCH_AMI_BOOTSTRAP_SHA256: sha(good) }).status, 0);
        const r = run({ ARCH_AMI_BOOTSTRAP_SHA256: "f".repeat(64) });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /checksum mismatch: .* bootstrapSha256 pins f{64}/);
        assert.equal(r.stdout, "");
    });

    it("stops on a checksum mismatch and keeps nothing", () => {
        const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.10.01" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /checksum mismatch: downloaded tarball has sha256 [0-9a-f]{64}, the mirror publishes/);
        assert.deepEqual(fs.readdirSync(r.cache).filter((f) => f.includes("archlinux-bootstrap")), []);
        assert.equal(r.stdout, "");
    });

    it("names a missing release date", () => {
        const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.10.15" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no bootstrap release '2026\.10\.15' at .* nor at .*\/archive\/iso\//);
    });

    it("names an unreachable mirror", () => {
        const r = run({ ARCH_AMI_BOOTSTRAP_MIRROR: "http://127.0.0.1:9" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /mirror http:\/\/127\.0\.0\.1:9 unreachable/);
    });

    it("names a setting the component did not pass", () => {
        const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /ARCH_AMI_BOOTSTRAP_DATE is not set \(the ArchAmi component sets it\)/);
    });

    it("refuses a malformed date and an unknown method", () => {
        assert.match(run({ ARCH_AMI_BOOTSTRAP_DATE: "November" }).stderr, /not latest or YYYY\.MM\.DD/);
        assert.match(run({ ARCH_AMI_BOOTSTRAP_METHOD: "docker" }).stderr, /unknown bootstrap method 'docker'/);
    });
});
