// No-op `up`: identical inputs give byte-identical resource inputs, in separate processes and on another
// machine (other HOME, working directory and temp dir, the local tarball file absent).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

const repo = path.resolve(__dirname, "../..");
const config = JSON.stringify({
    "arch-ami:sshIngressCidrs": '["203.0.113.7/32"]',
    "arch-ami:packages": '["vim","htop"]',
    "arch-ami:tags": '{"team":"platform"}',
});

type Res = { type: string; name: string; inputs: Record<string, unknown> };

function runProgram(env: Record<string, string>, cwd = repo): { text: string; resources: Res[] } {
    const text = execFileSync(process.execPath, ["--import", pathToFileURL(path.join(repo, "node_modules/tsx/dist/loader.mjs")).href, path.join(repo, "test/unit/dump-program.ts")], {
        cwd,
        env: { ...process.env, PULUMI_CONFIG: config, ...env },
        encoding: "utf8",
    });
    return { text, resources: JSON.parse(text) as Res[] };
}

describe("determinism", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-det-"));
    const tarball = path.join(tmp, "archlinux-bootstrap-2026.11.01-x86_64.tar.zst");
    fs.writeFileSync(tarball, "tarball bytes");

    it("two runs with identical inputs register byte-identical resource inputs", () => {
        const a = runProgram({ ARCH_AMI_TEST_TARBALL_PATH: tarball });
        const b = runProgram({ ARCH_AMI_TEST_TARBALL_PATH: tarball });
        assert.ok(a.resources.length >= 14);
        assert.equal(a.text, b.text);
    });

    it("a later up on another machine (no local tarball, other HOME/cwd) changes nothing but the ignored upload source", () => {
        const here = runProgram({ ARCH_AMI_TEST_TARBALL_PATH: tarball });
        const otherHome = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-home-"));
        const elsewhere = runProgram(
            { ARCH_AMI_TEST_TARBALL_PATH: path.join(otherHome, "missing.tar.zst"), HOME: otherHome, TMPDIR: otherHome },
            otherHome,
        );
        assert.equal(here.resources.length, elsewhere.resources.length);
        for (let i = 0; i < here.resources.length; i++) {
            const x = here.resources[i];
            const y = elsewhere.resources[i];
            assert.equal(`${x.type} ${x.name}`, `${y.type} ${y.name}`);
            if (x.name.endsWith("-upload-tarball")) {
                // The only difference: the source, which the upload ignores (it never changes within a build).
                assert.deepEqual({ ...x.inputs, source: null }, { ...y.inputs, source: null });
                assert.notDeepEqual(x.inputs.source, y.inputs.source);
                // Here the file; there a placeholder (never the missing path: a FileAsset would be read, and fail,
                // if the upload ever had to run), whose text provision.sh refuses and which names the fix.
                const [here, there] = [x.inputs.source as Record<string, unknown>, y.inputs.source as Record<string, unknown>];
                assert.equal(here.path, tarball);
                assert.equal(there.path, undefined, `no path on another machine: ${JSON.stringify(there)}`);
                assert.match(String(there.text), /^arch-ami placeholder: the bootstrap tarball [0-9a-f]{64} is not on the machine that ran this update\.\nRun the tarball command again on this machine: pulumi up --replace 'urn:pulumi:/);
            } else {
                assert.deepEqual(x.inputs, y.inputs, `${x.name} differs on another machine`);
            }
        }
    });

    it("nothing in any input depends on the machine or the time", () => {
        const { text } = runProgram({ ARCH_AMI_TEST_TARBALL_PATH: tarball });
        assert.doesNotMatch(text.replaceAll(tarball, ""), new RegExp(os.homedir().replace(/[/.]/g, "\\$&") + "/"));
        assert.doesNotMatch(text, new RegExp(new Date().toISOString().slice(0, 10)));
    });
});
