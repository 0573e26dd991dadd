// provision/build-tarball.sh (method "official") against a local mirror: latest and pinned dates, the
// cache, and the clear failures (missing date, checksum mismatch, pinned sha256, unreachable mirror).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULTS } from "../../src/settings";

const repo = path.resolve(__dirname, "../..");
const script = path.join(repo, "provision/build-tarball.sh");
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("build-tarball.sh (official method)", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-mirror-"));
    const good = Buffer.from("pretend zstd tarball " + "x".repeat(1000));
    let server: ChildProcess;
    let mirror = "";
    const requests: string[] = [];

    function release(dir: string, date: string, content: Buffer, listed = sha(content)) {
        const d = path.join(root, "iso", dir);
        fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, `archlinux-bootstrap-${date}-x86_64.tar.zst`), content);
        fs.writeFileSync(path.join(d, "sha256sums.txt"), `${sha("iso")}  archlinux-2026.11.01-x86_64.iso\n${listed}  archlinux-bootstrap-${date}-x86_64.tar.zst\n`);
    }

    before(async () => {
        release("2026.11.01", "2026.11.01", good);
        release("latest", "2026.11.01", good);
        release("2026.10.01", "2026.10.01", Buffer.from("corrupted in transit"), sha("the real one"));
        server = spawn("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", root]);
        server.stderr!.on("data", (d: Buffer) => requests.push(d.toString()));
        const port = await new Promise<string>((r) =>
            server.stdout!.on("data", (d: Buffer) => {
                const m = /port (\d+)/.exec(d.toString());
                if (m) r(m[1]);
            }),
        );
        mirror = `http://127.0.0.1:${port}`;
    });
    after(() => server.kill());

    /** The environment the ArchAmi component gives the script with default arguments. */
    function componentEnv(): Record<string, string> {
        return {
            ARCH_AMI_BOOTSTRAP_METHOD: DEFAULTS.bootstrapMethod,
            ARCH_AMI_BOOTSTRAP_DATE: DEFAULTS.bootstrapDate,
            ARCH_AMI_BOOTSTRAP_SHA256: "",
            ARCH_AMI_BOOTSTRAP_MIRROR: mirror, // the local test mirror instead of DEFAULTS.bootstrapMirror
            ARCH_AMI_MIRROR: DEFAULTS.mirror,
        };
    }

    function run(env: Record<string, string>, cache = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-cache-"))) {
        const r = spawnSync("bash", [script], {
            env: { PATH: process.env.PATH!, HOME: os.tmpdir(), ...componentEnv(), ARCH_AMI_CACHE: cache, ...env },
            encoding: "utf8",
        });
        return { ...r, cache };
    }

    it("resolves latest, verifies the checksum and reports path, sha256 and date", () => {
        const r = run({});
        assert.equal(r.status, 0, r.stderr);
        const info = JSON.parse(r.stdout.trim().split("\n").pop()!);
        assert.equal(info.date, "2026.11.01");
        assert.equal(info.sha256, sha(good));
        assert.equal(info.path, path.join(r.cache, "archlinux-bootstrap-2026.11.01-x86_64.tar.zst"));
        assert.deepEqual(fs.readFileSync(info.path), good);
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
        assert.deepEqual(fs.readdirSync(r.cache), []);
        assert.equal(r.stdout, "");
    });

    it("names a missing release date", () => {
        const r = run({ ARCH_AMI_BOOTSTRAP_DATE: "2026.10.15" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no bootstrap release '2026\.10\.15'/);
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
