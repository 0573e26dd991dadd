// provision/build-tarball.sh (method "official") against a local mirror and a local "authoritative host":
// latest and pinned dates, the Archive fallback, the cache, the release signature (a test key pinned through
// ARCH_AMI_TEST_TRUST_ANCHORS signs the test tarballs; wrong key, missing signature and tampered tarball are
// refused), the acceptance rule (GOODSIG from a pinned key only: a revoked pinned key is refused, an expired
// one after the key file is fetched again), the key cache (refreshed when stale or dated in the future,
// merged so a revocation is kept, a withdrawn key refused, at most 7 days old when Arch is unreachable, an
// unwritable cache named), and the clear failures (missing date, checksum mismatch, pinned sha256,
// unreachable mirror, http without allowInsecureMirror, .tar.gz releases, missing gpg, the test anchors
// without ARCH_AMI_TEST_MODE=1).
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
    /** Temporary folders, removed after the suite. */
    const temps: string[] = [];
    const tmp = (prefix: string) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        temps.push(dir);
        return dir;
    };
    const root = tmp("arch-ami-mirror-");
    const good = Buffer.from("pretend zstd tarball " + "x".repeat(1000));
    let server: ChildProcess;
    let mirror = "";
    let base = "";
    // The server's request log goes to a file, read synchronously: spawnSync blocks the event loop, so a
    // piped log would not have arrived yet when a test counts requests.
    const requestLog = path.join(root, "requests.log");
    const requests = () => fs.readFileSync(requestLog, "utf8");
    const gnupg = tmp("arch-ami-gpg-");
    const trust = path.join(root, "trust-anchors");
    let releaseKey = "";
    let otherKey = "";

    const homes: string[] = [];
    function gpg(home: string, ...args: string[]): string {
        const r = spawnSync("gpg", ["--homedir", home, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
    }
    /** A test key; `at` (gpg --faked-system-time, e.g. "20200101T000000!") creates it in the past, `expire` as gpg reads it. */
    function newKey(home: string, uid: string, opts: { expire?: string; at?: string } = {}): string {
        fs.mkdirSync(home, { recursive: true, mode: 0o700 });
        homes.push(home);
        gpg(home, ...(opts.at ? ["--faked-system-time", opts.at] : []), "--quick-gen-key", uid, "ed25519", "sign", opts.expire ?? "never");
        return /^fpr:+([0-9A-F]{40}):/m.exec(gpg(home, "--with-colons", "--list-keys"))![1];
    }
    /** A detached signature; `at` signs in the past (gpg --faked-system-time), `by` names the (sub)key ("<fpr>!"). */
    function sign(home: string, file: string, sig: string, at?: string, by?: string) {
        fs.mkdirSync(path.dirname(sig), { recursive: true });
        gpg(home, ...(at ? ["--faked-system-time", at] : []), ...(by ? ["--local-user", by] : []), "--yes", "--detach-sign", "--output", sig, file);
    }
    /** Publishes a key's current state (as its own keyring has it) on the local authoritative host. */
    function publishKey(home: string, fpr: string, name: string) {
        fs.writeFileSync(path.join(root, "keys", `${name}.pgp`), gpg(home, "--armor", "--export", fpr));
    }
    /** Revokes a key with the revocation certificate gpg made along with it (openpgp-revocs.d/<fpr>.rev, whose
     * own text says: "a colon has been inserted before the 5 dashes below. Remove this colon ... before importing"). */
    function revoke(home: string, fpr: string) {
        const cert = fs.readFileSync(path.join(home, "openpgp-revocs.d", `${fpr}.rev`), "utf8").replace(/^:-----BEGIN/m, "-----BEGIN");
        const certFile = path.join(home, "revoke.asc");
        fs.writeFileSync(certFile, cert);
        gpg(home, "--import", certFile);
    }
    /** Anchors pinning one key, fetched from keys/<name>.pgp on the local authoritative host. */
    function anchors(fpr: string, name: string): string {
        const file = path.join(root, `trust-${name}`);
        fs.writeFileSync(
            file,
            [`RELEASE_KEY_FINGERPRINTS=${fpr}`, `RELEASE_KEY_URLS=${base}/keys/${name}.pgp`, `SIGNATURE_HOSTS=${base}/authority`, `ARCHIVE=${base}/archive`].join("\n") + "\n",
        );
        return file;
    }
    /** How often the authoritative host served keys/<name>.pgp so far. */
    const keyFetches = (name: string) => requests().split(`GET /keys/${name}.pgp `).length - 1;

    /** A release on the mirror (or the Archive), signed on the authoritative host unless told otherwise. */
    function release(dir: string, date: string, content: Buffer, opts: { listed?: string; signer?: string; signedAt?: string; signed?: Buffer; at?: string } = {}) {
        const d = path.join(root, opts.at ?? "mirror", "iso", dir);
        const name = `archlinux-bootstrap-${date}-x86_64.tar.zst`;
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, name), content);
        fs.writeFileSync(path.join(d, "sha256sums.txt"), `${sha("iso")}  archlinux-2026.11.01-x86_64.iso\n${opts.listed ?? sha(content)}  ${name}\n`);
        const signer = opts.signer ?? "release";
        if (signer !== "none") {
            const signedFile = path.join(gnupg, name);
            fs.writeFileSync(signedFile, opts.signed ?? content);
            sign(path.join(gnupg, signer), signedFile, path.join(root, "authority", "iso", date, `${name}.sig`), opts.signedAt);
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
        release("2024.05.01", "2024.05.01", good, { at: "archive" });
        server = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root], {
            stdio: ["ignore", "pipe", fs.openSync(requestLog, "a")],
        });
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
        for (const home of homes) spawnSync("gpgconf", ["--homedir", home, "--kill", "all"]);
        for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** The environment the ArchAmi component gives the script (its own function), with the test mirror. */
    function componentEnv(): Record<string, string> {
        const s = resolveSettings("tarball-test", { bootstrapMirror: mirror, allowInsecureMirror: true });
        assert.equal(s.image.bootstrapDate, DEFAULTS.bootstrapDate);
        return tarballEnvironment(s.image, s.bootstrapMethod, s.bootstrapMirror);
    }

    /** The test anchors, and the marker without which the script refuses them. */
    const testAnchors = { ARCH_AMI_TEST_TRUST_ANCHORS: trust, ARCH_AMI_TEST_MODE: "1" };

    /** Runs the script (through `prefix`, a command that ends by running its last argument with bash). */
    function run(env: Record<string, string>, cache = tmp("arch-ami-cache-"), prefix: string[] = ["/bin/bash"]) {
        const r = spawnSync(prefix[0], [...prefix.slice(1), script], {
            env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...componentEnv(), ...testAnchors, ARCH_AMI_CACHE: cache, ...env },
            encoding: "utf8",
        });
        return { ...r, cache };
    }
    /** Stopped: non-zero exit, nothing on stdout (so nothing is uploaded). */
    function stopped(r: ReturnType<typeof run>, message: RegExp) {
        assert.notEqual(r.status, 0, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, "");
    }
    /** Refused: stopped, and no tarball kept. */
    function refused(r: ReturnType<typeof run>, message: RegExp) {
        stopped(r, message);
        assert.deepEqual(fs.readdirSync(r.cache).filter((f) => f.includes("archlinux-bootstrap")), []);
    }

    it("ignores test anchors left in the deployer's shell: the component's environment comes last and empties them", () => {
        // pulumi-command local command: cmd.Env = os.Environ() followed by the command's environment
        // (provider/pkg/provider/local/commandOutputs.go); Go's os/exec uses the last value of a duplicate key.
        // So the shell's values come first and the component's after them: the pinned Arch keys stay in force,
        // so the script turns to Arch's own key host, not the test's.
        const cache = tmp("arch-ami-cache-");
        const r = spawnSync("/bin/bash", [script], {
            env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...testAnchors, ARCH_AMI_CACHE: cache, ...componentEnv() },
            encoding: "utf8",
        });
        assert.notEqual(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /ARCH_AMI_TEST_TRUST_ANCHORS/);
        // The real anchors are in force: the script turns to Arch's own key host (unreachable here), not the test's.
        assert.match(r.stderr, /Arch release signing key from https:\/\/openpgpkey\.archlinux\.org\//);
        assert.equal(r.stdout, "");
    });

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
        const cache = tmp("arch-ami-cache-");
        const env = { PATH: process.env.PATH!, HOME: os.tmpdir(), ...componentEnv(), ...testAnchors, ARCH_AMI_CACHE: cache };
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

    it("refuses ARCH_AMI_TEST_TRUST_ANCHORS without ARCH_AMI_TEST_MODE=1 (a variable left in the deployer's shell), before any request", () => {
        const before = requests().length;
        refused(
            run({ ARCH_AMI_TEST_MODE: "" }),
            /ARCH_AMI_TEST_TRUST_ANCHORS=.* is set in the environment, but it is for arch-ami's own tests only .*unset ARCH_AMI_TEST_TRUST_ANCHORS/,
        );
        assert.equal(requests().slice(before), "", "nothing was requested");
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

    // archlinux/archiso CHANGELOG.rst: [76] (2024-03-30) "releng remains with gzip for now" (2024.04.01 is a
    // .tar.gz); the next version changed releng's bootstrap tarball "from gzip to zstd": 2024.05.01 is the first.
    it("refuses 2024.04.01 (.tar.gz) before any download, naming 2024.05.01; accepts 2024.05.01", () => {
        const before = requests().length;
        refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2024.04.01" }), /2024\.04\.01 is a \.tar\.gz; .* the first is 2024\.05\.01/);
        assert.equal(requests().slice(before), "", "nothing was requested");
        const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2024.05.01" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout.trim().split("\n").pop()!).date, "2024.05.01");
    });

    it("the component refuses 2024.04.01 (bootstrapDate and a repositorySnapshot of that month) and accepts 2024.05.01", () => {
        assert.throws(() => resolveSettings("zstd-test", { bootstrapDate: "2024.04.01" }), /bootstrapDate.*2024\.05\.01/s);
        assert.throws(() => resolveSettings("zstd-test", { repositorySnapshot: "2024.04.20" }), /repositorySnapshot.*2024\.05\.01/s);
        assert.equal(resolveSettings("zstd-test", { bootstrapDate: "2024.05.01" }).image.bootstrapDate, "2024.05.01");
        assert.equal(resolveSettings("zstd-test", { repositorySnapshot: "2024.05.20" }).image.bootstrapDate, "2024.05.01");
    });

    // The acceptance rule (gpg/gnupg doc/DETAILS, "General status codes"): one of GOODSIG, BADSIG, EXPSIG,
    // EXPKEYSIG, REVKEYSIG or ERRSIG per signature; VALIDSIG also comes with EXPKEYSIG and REVKEYSIG, so only
    // GOODSIG from a pinned key is accepted.
    describe("the acceptance rule: GOODSIG from a pinned key only", () => {
        const keys: Record<string, string> = {};
        /** The cached key file of a cache folder (its name is derived from the pin list). */
        const cachedKeyFile = (cache: string) => path.join(cache, fs.readdirSync(cache).find((f) => /^release-keys-\d+\.pgp$/.test(f))!);
        const setAge = (file: string, seconds: number) => {
            const t = new Date(Date.now() - seconds * 1000);
            fs.utimesSync(file, t, t);
        };

        before(() => {
            // A pinned key that is revoked at the authoritative host (and so in every fresh copy).
            keys.revoked = newKey(path.join(gnupg, "revoked"), "revoked release key <revoked@arch-ami.invalid>");
            release("2026.06.01", "2026.06.01", good, { signer: "revoked" });
            revoke(path.join(gnupg, "revoked"), keys.revoked);
            publishKey(path.join(gnupg, "revoked"), keys.revoked, "revoked");
            // A pinned key that expired (made and used in 2020, valid for a year).
            keys.expired = newKey(path.join(gnupg, "expired"), "expired release key <expired@arch-ami.invalid>", { at: "20200101T000000!", expire: "1y" });
            release("2026.05.01", "2026.05.01", good, { signer: "expired", signedAt: "20200601T000000!" });
            publishKey(path.join(gnupg, "expired"), keys.expired, "expired");
            // Expired too, but its owner extends it later (a new copy at the authoritative host).
            keys.extended = newKey(path.join(gnupg, "extended"), "extended release key <extended@arch-ami.invalid>", { at: "20200101T000000!", expire: "1y" });
            release("2026.04.01", "2026.04.01", good, { signer: "extended", signedAt: "20200601T000000!" });
            publishKey(path.join(gnupg, "extended"), keys.extended, "extended");
            // Valid now, revoked later.
            keys.later = newKey(path.join(gnupg, "later"), "later revoked key <later@arch-ami.invalid>");
            release("2026.03.01", "2026.03.01", good, { signer: "later" });
            publishKey(path.join(gnupg, "later"), keys.later, "later");
        });

        it("refuses a release signed by a revoked pinned key, without fetching the key again (a revocation is permanent)", () => {
            const before = keyFetches("revoked");
            const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.06.01", ARCH_AMI_TEST_TRUST_ANCHORS: anchors(keys.revoked, "revoked") });
            refused(r, new RegExp(`signature of archlinux-bootstrap-2026\\.06\\.01-x86_64\\.tar\\.zst is by pinned key ${keys.revoked}, which is REVOKED .*refused; if Arch has moved to a new release signing key, pin it \\(README "Chain of trust"`));
            assert.doesNotMatch(r.stderr, /fetching the key again/);
            assert.equal(keyFetches("revoked") - before, 1, "fetched once");
            assert.doesNotMatch(r.stderr, /release signature verified/);
        });

        it("keeps a revocation once seen: a later copy of the key without it does not make the key good again", () => {
            const home = path.join(gnupg, "flipflop");
            const fpr = newKey(home, "revoked then served unrevoked <flipflop@arch-ami.invalid>");
            release("2026.01.01", "2026.01.01", good, { signer: "flipflop" });
            const unrevoked = gpg(home, "--armor", "--export", fpr);
            revoke(home, fpr);
            publishKey(home, fpr, "flipflop");
            const trustFile = anchors(fpr, "flipflop");
            const env = { ARCH_AMI_BOOTSTRAP_DATE: "2026.01.01", ARCH_AMI_TEST_TRUST_ANCHORS: trustFile };
            const first = run(env);
            refused(first, new RegExp(`by pinned key ${fpr}, which is REVOKED`));
            // The server now serves the copy from before the revocation (a rollback, a stale replica).
            fs.writeFileSync(path.join(root, "keys", "flipflop.pgp"), unrevoked);
            setAge(cachedKeyFile(first.cache), 86400 + 60);
            const before = keyFetches("flipflop");
            const second = run(env, first.cache);
            assert.equal(keyFetches("flipflop") - before, 1, "the stale copy was refreshed");
            refused(second, new RegExp(`by pinned key ${fpr}, which is REVOKED`));
        });

        it("refuses a release signed by an expired pinned key, after fetching the key again", () => {
            const before = keyFetches("expired");
            // The script's temporary files (mktemp) go to TMPDIR: a folder of its own shows what is left behind.
            const tmpdir = tmp("arch-ami-tmpdir-");
            const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.05.01", ARCH_AMI_TEST_TRUST_ANCHORS: anchors(keys.expired, "expired"), TMPDIR: tmpdir });
            refused(r, new RegExp(`signature of archlinux-bootstrap-2026\\.05\\.01-x86_64\\.tar\\.zst is by pinned key ${keys.expired}, which has EXPIRED \\(also in the copy fetched again\\): refused`));
            assert.equal(keyFetches("expired") - before, 2);
            // Two keyrings were made (before and after the second fetch) and two merges: none is left.
            assert.deepEqual(fs.readdirSync(tmpdir), [], "no temporary gpg home left behind");
            assert.deepEqual(fs.readdirSync(r.cache).filter((f) => f.startsWith(".")), [], "no temporary key file left in the cache");
        });

        it("removes a damaged cached key file, so the next build fetches it afresh", () => {
            const cache = tmp("arch-ami-cache-");
            const first = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, cache);
            assert.equal(first.status, 0, first.stderr);
            fs.writeFileSync(cachedKeyFile(cache), gpg(path.join(gnupg, "other"), "--armor", "--export", otherKey));
            for (const f of fs.readdirSync(cache).filter((f) => f.startsWith("archlinux-bootstrap"))) fs.rmSync(path.join(cache, f));
            refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, cache), /the cached release key file .* holds none of the pinned fingerprints .*: removed, the next build fetches it again/);
            assert.deepEqual(fs.readdirSync(cache).filter((f) => f.startsWith("release-keys")), [], "the damaged key file is not kept");
            const before = keyFetches("release");
            const third = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, cache);
            assert.equal(third.status, 0, third.stderr);
            assert.equal(keyFetches("release") - before, 1, "fetched afresh");
        });

        it("a stale cached key file is not refreshed by an answer without the pinned key (refused, the cache left as it was)", () => {
            const trustFile = anchors(releaseKey, "release");
            const cache = staleCache(trustFile, 3, `${base}/keys/portal.pgp`);
            fs.writeFileSync(path.join(root, "keys", "portal.pgp"), "<html>captive portal</html>\n");
            const keyFile = cachedKeyFile(cache);
            const before = fs.readFileSync(keyFile);
            const r = run({ ARCH_AMI_TEST_TRUST_ANCHORS: trustFile }, cache);
            stopped(r, /the release key file fetched from .*\/keys\/portal\.pgp holds none of the pinned fingerprints/);
            assert.deepEqual(fs.readFileSync(keyFile), before, "the cached copy is unchanged");
            assert.ok(Date.now() - fs.statSync(keyFile).mtimeMs > 2 * 86400 * 1000, "and as old as before");
        });

        it("takes the key from the next URL when one answers 200 with an empty body", () => {
            fs.writeFileSync(path.join(root, "keys", "empty.pgp"), "");
            const trustFile = anchors(releaseKey, "empty");
            fs.writeFileSync(trustFile, fs.readFileSync(trustFile, "utf8").replace(/RELEASE_KEY_URLS=.*/, `RELEASE_KEY_URLS=${base}/keys/empty.pgp ${base}/keys/release.pgp`));
            const r = run({ ARCH_AMI_TEST_TRUST_ANCHORS: trustFile });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, /release keys fetched from http:\/\/127\.0\.0\.1:\d+\/keys\/release\.pgp/);
            assert.equal(keyFetches("empty"), 1, "the empty answer was asked for");
        });

        it("accepts an expired pinned key once the fetched-again copy is extended (the cached copy is replaced)", () => {
            const trustFile = anchors(keys.extended, "extended");
            const first = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.04.01", ARCH_AMI_TEST_TRUST_ANCHORS: trustFile });
            refused(first, /which has EXPIRED/);
            gpg(path.join(gnupg, "extended"), "--quick-set-expire", keys.extended, "0");
            publishKey(path.join(gnupg, "extended"), keys.extended, "extended");
            const second = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.04.01", ARCH_AMI_TEST_TRUST_ANCHORS: trustFile }, first.cache);
            assert.equal(second.status, 0, second.stderr);
            assert.match(second.stderr, /key file \(cached or just fetched\) shows as expired: fetching the key again/);
            assert.match(second.stderr, new RegExp(`release signature verified: key ${keys.extended} \\(GOODSIG\\)`));
        });

        it("sees a revocation published after the key was cached once the cached copy is older than a day", () => {
            const trustFile = anchors(keys.later, "later");
            const env = { ARCH_AMI_BOOTSTRAP_DATE: "2026.03.01", ARCH_AMI_TEST_TRUST_ANCHORS: trustFile };
            const first = run(env);
            assert.equal(first.status, 0, first.stderr);
            assert.match(first.stderr, new RegExp(`release signature verified: key ${keys.later} \\(GOODSIG\\)`));
            revoke(path.join(gnupg, "later"), keys.later);
            publishKey(path.join(gnupg, "later"), keys.later, "later");
            const keyFile = fs.readdirSync(first.cache).find((f) => /^release-keys-\d+\.pgp$/.test(f))!;
            // Within a day the cached copy is used as is (documented: README "Chain of trust").
            const fetches = keyFetches("later");
            const cached = run(env, first.cache);
            assert.equal(cached.status, 0, cached.stderr);
            assert.equal(keyFetches("later"), fetches, "a fresh cached key file is not fetched again");
            // A day and a minute later it is fetched again, and the revocation refuses the (cached) tarball.
            const old = new Date(Date.now() - (86400 + 60) * 1000);
            fs.utimesSync(path.join(first.cache, keyFile), old, old);
            const stale = run(env, first.cache);
            assert.notEqual(stale.status, 0, stale.stderr);
            assert.equal(stale.stdout, "");
            assert.match(stale.stderr, /release keys fetched from .*\/keys\/later\.pgp/);
            assert.match(stale.stderr, new RegExp(`by pinned key ${keys.later}, which is REVOKED`));
        });

        /** A cache holding the release key file, fetched with `trustFile`, then `days` old; then the anchors
         * point the key at `url`. */
        function staleCache(trustFile: string, days: number, url: string): string {
            const first = run({ ARCH_AMI_TEST_TRUST_ANCHORS: trustFile });
            assert.equal(first.status, 0, first.stderr);
            setAge(cachedKeyFile(first.cache), days * 86400);
            fs.writeFileSync(trustFile, fs.readFileSync(trustFile, "utf8").replace(/RELEASE_KEY_URLS=.*/, `RELEASE_KEY_URLS=${url}`));
            return first.cache;
        }
        // Port 9 (discard) on the loopback: nothing listens there, the connection is refused.
        const unreachable = "http://127.0.0.1:9/keys/release.pgp";

        it("keeps using a stale cached key file when the authoritative host cannot be reached, saying so", () => {
            const trustFile = anchors(releaseKey, "release");
            const r = run({ ARCH_AMI_TEST_TRUST_ANCHORS: trustFile }, staleCache(trustFile, 3, unreachable));
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, /WARNING: could not refresh the release keys from http:\/\/127\.0\.0\.1:9\/keys\/release\.pgp; using the copy fetched 72 hours ago .*refused after 7 days/);
        });

        it("refuses a cached key file older than 7 days when the authoritative host cannot be reached", () => {
            const trustFile = anchors(releaseKey, "release");
            const cache = staleCache(trustFile, 8, unreachable);
            stopped(run({ ARCH_AMI_TEST_TRUST_ANCHORS: trustFile }, cache), /could not refresh the release keys from .*, and the cached copy is 8 days old \(at most 7 days are accepted without a refresh\): refused/);
        });

        it("refuses a withdrawn key (HTTP 404 at the authoritative host), even with a fresh-enough cached copy", () => {
            const trustFile = anchors(releaseKey, "release");
            const cache = staleCache(trustFile, 2, `${base}/keys/gone.pgp`);
            const r = run({ ARCH_AMI_TEST_TRUST_ANCHORS: trustFile }, cache);
            stopped(r, /the Arch release signing key is no longer published: http:\/\/127\.0\.0\.1:\d+\/keys\/gone\.pgp \(HTTP 404\) answers that it is not there; the key was withdrawn, so it is refused/);
            assert.doesNotMatch(r.stderr, /WARNING: could not refresh/);
        });

        it("refreshes a cached key file whose modification time is in the future", () => {
            const first = run({});
            assert.equal(first.status, 0, first.stderr);
            setAge(cachedKeyFile(first.cache), -86400);
            const before = keyFetches("release");
            const r = run({}, first.cache);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(keyFetches("release") - before, 1, "a key file dated tomorrow is fetched again");
        });

        it("refuses, naming the cache folder, when a stale key file cannot be refreshed because the cache is not writable", () => {
            const first = run({});
            assert.equal(first.status, 0, first.stderr);
            setAge(cachedKeyFile(first.cache), 3 * 86400);
            // Root ignores directory permissions; an immutable directory (ext4/xfs/btrfs) stops root too.
            const root = process.getuid?.() === 0;
            const lock = root ? spawnSync("chattr", ["+i", first.cache], { encoding: "utf8" }) : (fs.chmodSync(first.cache, 0o555), { status: 0, stderr: "" });
            assert.equal(lock.status, 0, `cannot make the cache folder read-only: ${lock.stderr}`);
            try {
                const r = run({}, first.cache);
                assert.notEqual(r.status, 0, r.stderr);
                assert.equal(r.stdout, "");
                assert.match(r.stderr, new RegExp(`cannot write to ${first.cache.replace(/[.]/g, "\\.")} \\(the cache folder, ARCH_AMI_CACHE\\)`));
                assert.doesNotMatch(r.stderr, /could not refresh/, "not blamed on the network");
            } finally {
                if (root) spawnSync("chattr", ["-i", first.cache]);
                else fs.chmodSync(first.cache, 0o755);
            }
        });

        it("refuses an expired signature (EXPSIG) by a valid pinned key, without fetching the key again", () => {
            const home = path.join(gnupg, "sigexpiry");
            const fpr = newKey(home, "signature expiry <sigexpiry@arch-ami.invalid>", { at: "20200101T000000!" });
            publishKey(home, fpr, "sigexpiry");
            const name = "archlinux-bootstrap-2025.10.01-x86_64.tar.zst";
            release("2025.10.01", "2025.10.01", good, { signer: "none" });
            const signed = path.join(gnupg, name);
            fs.writeFileSync(signed, good);
            // A signature made in 2020 that expired a day later (gpg --default-sig-expire).
            const sig = path.join(root, "authority", "iso", "2025.10.01", `${name}.sig`);
            fs.mkdirSync(path.dirname(sig), { recursive: true });
            gpg(home, "--faked-system-time", "20200601T000000!", "--default-sig-expire", "1d", "--yes", "--detach-sign", "--output", sig, signed);
            const before = keyFetches("sigexpiry");
            const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2025.10.01", ARCH_AMI_TEST_TRUST_ANCHORS: anchors(fpr, "sigexpiry") });
            refused(r, new RegExp(`signature of ${name.replace(/\./g, "\\.")} by pinned key ${fpr} has EXPIRED: refused`));
            assert.equal(keyFetches("sigexpiry") - before, 1, "fetched once: an expired signature cannot be mended by a new copy of the key");
        });

        it("refuses GOODSIG from a key in the key file that is not pinned (WKD serves more than the pinned key)", () => {
            // keys/two.pgp holds the pinned release key and "other"; only the release key is pinned.
            fs.writeFileSync(
                path.join(root, "keys", "two.pgp"),
                gpg(path.join(gnupg, "release"), "--armor", "--export", releaseKey) + gpg(path.join(gnupg, "other"), "--armor", "--export", otherKey),
            );
            release("2025.12.01", "2025.12.01", good, { signer: "other" });
            const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2025.12.01", ARCH_AMI_TEST_TRUST_ANCHORS: anchors(releaseKey, "two") });
            refused(r, new RegExp(`signature of archlinux-bootstrap-2025\\.12\\.01-x86_64\\.tar\\.zst is by key ${otherKey}, not a pinned Arch release signing key`));
        });

        it("accepts GOODSIG from a signing subkey of a pinned key (VALIDSIG's primary-key fingerprint is what is pinned)", () => {
            const home = path.join(gnupg, "subkey");
            fs.mkdirSync(home, { recursive: true, mode: 0o700 });
            homes.push(home);
            gpg(home, "--quick-gen-key", "subkey signer <subkey@arch-ami.invalid>", "ed25519", "cert", "never");
            const primary = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(home, "--with-colons", "--list-keys"))![1];
            gpg(home, "--quick-add-key", primary, "ed25519", "sign", "never");
            const sub = [...gpg(home, "--with-colons", "--list-keys").matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1])[1];
            assert.ok(sub && sub !== primary);
            const name = "archlinux-bootstrap-2025.11.01-x86_64.tar.zst";
            release("2025.11.01", "2025.11.01", good, { signer: "none" });
            const signed = path.join(gnupg, name);
            fs.writeFileSync(signed, good);
            sign(home, signed, path.join(root, "authority", "iso", "2025.11.01", `${name}.sig`), undefined, `${sub}!`);
            publishKey(home, primary, "subkey");
            const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2025.11.01", ARCH_AMI_TEST_TRUST_ANCHORS: anchors(primary, "subkey") });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`release signature verified: key ${primary} \\(GOODSIG\\)`));
        });

        it("refuses a signature file that holds two signatures, even when one is GOODSIG from the pinned key", () => {
            const dir = path.join(root, "authority", "iso", "2026.02.01");
            release("2026.02.01", "2026.02.01", good);
            const name = "archlinux-bootstrap-2026.02.01-x86_64.tar.zst";
            const extra = path.join(gnupg, "extra.sig");
            sign(path.join(gnupg, "other"), path.join(root, "mirror", "iso", "2026.02.01", name), extra);
            fs.appendFileSync(path.join(dir, `${name}.sig`), fs.readFileSync(extra));
            refused(run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.02.01" }), /is not by a pinned Arch release signing key .*: 2 signatures \(exactly one expected\)/);
        });
    });

    it("refuses http mirrors unless allowInsecureMirror", () => {
        refused(run({ ARCH_AMI_ALLOW_INSECURE_MIRROR: "false" }), /bootstrap mirror http:\/\/127.* is plain http: refused \(set allowInsecureMirror: true/);
        refused(
            run({ ARCH_AMI_BOOTSTRAP_MIRROR: "file:///nonexistent", ARCH_AMI_MIRROR: "http://mirror.example/$repo/os/$arch", ARCH_AMI_ALLOW_INSECURE_MIRROR: "false" }),
            /package mirror http:\/\/mirror\.example.* is plain http: refused/,
        );
    });

    it("checks for gpg up front, saying how to install it", () => {
        const bin = tmp("arch-ami-bin-");
        for (const tool of ["curl", "sha256sum", "cut", "mktemp"]) fs.symlinkSync(spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), path.join(bin, tool));
        refused(run({ PATH: bin }), /gpg \(GnuPG 2\) is needed .*apt install gnupg.*brew install gnupg/);
    });

    /** What a test needs and this machine lacks (root, tools as [command, apt package]); like
     * release-pins.test.ts, a missing prerequisite skips outside CI and fails in CI (CI=true). */
    function lacking(what: string, tools: string[][]): string | undefined {
        const missing: string[] = [];
        if (process.getuid?.() !== 0) missing.push("root");
        for (const [tool, pkg] of tools) {
            if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) missing.push(`${tool} (apt package ${pkg})`);
        }
        if (missing.length === 0) return undefined;
        const msg = `${what} needs: ${missing.join(", ")} (run scripts/setup as root)`;
        if (process.env.CI === "true") throw new Error(`CI cannot skip: ${msg}`);
        return msg;
    }

    it("warns when GnuPG's global gpg.conf exists (GnuPG >= 2.3 reads it despite --homedir)", (t) => {
        const skip = lacking("a global gpg.conf in a mount namespace", [["unshare", "util-linux"], ["gpgconf", "gpgconf"]]);
        if (skip) return t.skip(skip);
        const sysconfdir = spawnSync("gpgconf", ["--list-dirs", "sysconfdir"], { encoding: "utf8" }).stdout.trim();
        assert.ok(path.isAbsolute(sysconfdir), `gpgconf --list-dirs sysconfdir: ${sysconfdir}`);
        // The host's folder is left alone: in a mount namespace of its own an overlay (writes go to a temporary
        // folder) covers the sysconfdir's parent, and gpg.conf is created there.
        const layer = tmp("arch-ami-overlay-");
        for (const d of ["up", "work"]) fs.mkdirSync(path.join(layer, d));
        const prefix = [
            ...["unshare", "--mount", "--propagation", "private", "sh", "-c"],
            'mount -t overlay overlay -o lowerdir="$1",upperdir="$2/up",workdir="$2/work" "$1" && mkdir -p "$3" && echo "# arch-ami test" >"$3/gpg.conf" && exec /bin/bash "$4"',
            ...["-", path.dirname(sysconfdir), layer, sysconfdir],
        ];
        const r = run({}, undefined, prefix);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`WARNING: ${sysconfdir.replace(/[.]/g, "\\.")}/gpg\\.conf exists: GnuPG 2\\.3 and later read it even with --homedir`));
        if (!fs.existsSync(path.join(sysconfdir, "gpg.conf"))) assert.doesNotMatch(run({}).stderr, /gpg\.conf exists/, "no warning without it");
    });

    it("refuses the pacstrap method when the host's pacman keyring is empty", (t) => {
        const skip = lacking("the pacstrap method", [["pacstrap", "arch-install-scripts"], ["unshare", "util-linux"]]);
        if (skip) return t.skip(skip);
        // The folder the script reads (check_host_keyring: pacman-conf GPGDir, else /etc/pacman.d/gnupg). An
        // empty keyring whatever the host holds: in a mount namespace of its own (unshare --mount, private
        // propagation) an empty folder is bind-mounted over it; a missing folder is empty already.
        const gpgdir = spawnSync("pacman-conf", ["GPGDir"], { encoding: "utf8" }).stdout?.trim() || "/etc/pacman.d/gnupg";
        const prefix = fs.existsSync(gpgdir)
            ? ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$1" "$2" && exec /bin/bash "$3"', "-", tmp("arch-ami-empty-gnupg-"), gpgdir]
            : ["/bin/bash"];
        refused(
            run({ ARCH_AMI_BOOTSTRAP_METHOD: "pacstrap" }, undefined, prefix),
            /the host's pacman keyring \(.*\) holds no keys; run 'pacman-key --init && pacman-key --populate archlinux'/,
        );
    });

    it("refuses bootstrapSha256 with the pacstrap method", () => {
        refused(run({ ARCH_AMI_BOOTSTRAP_METHOD: "pacstrap", ARCH_AMI_BOOTSTRAP_SHA256: "f".repeat(64) }), /bootstrapSha256 cannot be used with bootstrap method pacstrap/);
    });

    it("does not download again when the cache holds the verified file", () => {
        const first = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" });
        assert.equal(first.status, 0, first.stderr);
        const before = requests().split("2026.11.01-x86_64.tar.zst").length;
        const second = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.11.01" }, first.cache);
        assert.equal(second.status, 0, second.stderr);
        assert.match(second.stderr, /cache hit/);
        assert.equal(requests().split("2026.11.01-x86_64.tar.zst").length, before, "no second download");
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
