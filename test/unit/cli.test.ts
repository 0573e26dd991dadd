// arch-ami build-local's refusals, before anything starts: each exits 2 (provision/README.md "usage or
// config error") with a message naming the option or argument and how to fix it. Runs the CLI's source
// with tsx, as `arch-ami build-local` runs its compiled form.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const repo = path.resolve(__dirname, "../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-cli-"));

function cli(...args: string[]): { status: number | null; stderr: string; stdout: string } {
    const r = spawnSync(process.execPath, ["--import", pathToFileURL(path.join(repo, "node_modules/tsx/dist/loader.mjs")).href, path.join(repo, "src/local/cli.ts"), ...args], { cwd: work, encoding: "utf8" });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe("arch-ami build-local: bad input exits 2 naming it, before any VM", () => {
    it("an unknown command", () => {
        const r = cli("bulid-local");
        assert.equal(r.status, 2);
        assert.match(r.stderr, /unknown command "bulid-local"/);
    });
    it("an unknown option, and a missing --out", () => {
        const a = cli("build-local", "--args", "x.json", "--out", "i.raw", "--qcow");
        assert.equal(a.status, 2);
        assert.match(a.stderr, /Unknown option '--qcow'/);
        const b = cli("build-local", "--args", "x.json");
        assert.equal(b.status, 2);
        assert.match(b.stderr, /--out IMAGE\.raw is required/);
    });
    it("an argument the component refuses, with the component's message naming it", () => {
        fs.writeFileSync(path.join(work, "bad.json"), JSON.stringify({ filesystem: "zfs" }));
        const r = cli("build-local", "--args", "bad.json", "--out", path.join(work, "i.raw"));
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /filesystem/);
        assert.match(r.stderr, /zfs/);
        assert.ok(!fs.existsSync(path.join(work, "i.raw.log")), "nothing started");
    });
    it("an args file that is not an object, and a stack config key that is no argument", () => {
        fs.writeFileSync(path.join(work, "list.yaml"), "- vim\n");
        const a = cli("build-local", "--args", "list.yaml", "--out", "i.raw");
        assert.equal(a.status, 2);
        assert.match(a.stderr, /--args list\.yaml: must hold one object of ArchAmi arguments/);
        fs.writeFileSync(path.join(work, "Pulumi.yaml"), "name: p\nruntime: nodejs\n");
        fs.writeFileSync(path.join(work, "Pulumi.dev.yaml"), "config:\n  arch-ami:pakages: [vim]\n");
        const b = cli("build-local", "--stack", "dev", "--out", "i.raw");
        assert.equal(b.status, 2);
        assert.match(b.stderr, /unknown stack config "arch-ami:pakages"/);
    });
});
