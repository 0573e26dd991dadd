// Where the uploads land on the builder, computed from the component's own CopyToRemote inputs with a
// model of the provider's copy rule (test/lib/copyToRemote.ts), and what the provisioning command expects
// to find there. A folder given without a trailing slash lands in <remotePath>/<its name>: the first
// version of the component uploaded provision/ that way and then ran <remotePath>/provision.sh (exit 127).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { copyToRemote, freshBuilder } from "../lib/copyToRemote";

const repo = path.resolve(__dirname, "../..");

describe("CopyToRemote model (copyController.go sftpCopy)", () => {
    const local = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-copy-"));
    fs.mkdirSync(path.join(local, "dir/sub"), { recursive: true });
    fs.writeFileSync(path.join(local, "dir/a.sh"), "a");
    fs.writeFileSync(path.join(local, "dir/sub/b"), "b");
    fs.writeFileSync(path.join(local, "file.tar"), "t");
    const files = (t: ReturnType<typeof freshBuilder>) => [...t.files.keys()].sort();

    it("a folder without a trailing slash lands under its own name, whether the destination exists or not", () => {
        for (const pre of [false, true]) {
            const t = freshBuilder();
            if (pre) t.dirs.add("/home/admin/up");
            copyToRemote(t, path.join(local, "dir"), "/home/admin/up");
            assert.deepEqual(files(t), ["/home/admin/up/dir/a.sh", "/home/admin/up/dir/sub/b"]);
        }
    });
    it("a folder with a trailing slash puts its content into the destination", () => {
        const t = freshBuilder();
        copyToRemote(t, path.join(local, "dir") + "/", "/home/admin/up");
        assert.deepEqual(files(t), ["/home/admin/up/a.sh", "/home/admin/up/sub/b"]);
    });
    it("a file lands at the destination path (parents created), or inside an existing folder", () => {
        const t = freshBuilder();
        copyToRemote(t, path.join(local, "file.tar"), "/home/admin/new/x.tar");
        t.dirs.add("/home/admin/box");
        copyToRemote(t, path.join(local, "file.tar"), "/home/admin/box");
        assert.deepEqual(files(t), ["/home/admin/box/file.tar", "/home/admin/new/x.tar"]);
    });
    it("a folder onto an existing file is an error", () => {
        const t = freshBuilder();
        t.files.set("/home/admin/up", "x");
        assert.throws(() => copyToRemote(t, path.join(local, "dir"), "/home/admin/up"), /not a directory/);
    });
});

type Res = { type: string; name: string; inputs: Record<string, unknown> };

describe("the component's uploads and its provisioning command", () => {
    const tarballDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-layout-"));
    const resources = JSON.parse(
        execFileSync(process.execPath, ["--import", pathToFileURL(path.join(repo, "node_modules/tsx/dist/loader.mjs")).href, path.join(repo, "test/unit/dump-program.ts")], {
            cwd: repo,
            encoding: "utf8",
            env: { ...process.env, PULUMI_CONFIG: JSON.stringify({ "arch-ami:sshIngressCidrs": '["203.0.113.7/32"]' }), ARCH_AMI_TEST_TARBALL_DIR: tarballDir },
        }),
    ) as Res[];
    const uploads = resources.filter((r) => r.type === "command:remote:CopyToRemote");
    const command = String(resources.find((r) => r.type === "command:remote:Command")!.inputs.create);

    const builder = freshBuilder();
    for (const u of uploads) copyToRemote(builder, String((u.inputs.source as { path: string }).path), String(u.inputs.remotePath));

    it("uploads the tarball and the scripts folder", () => {
        assert.equal(uploads.length, 2);
        assert.ok([...builder.files.keys()].some((f) => f.endsWith(".tar.zst")));
    });
    it("runs provision.sh from where the scripts folder lands, with the config file it writes", () => {
        const m = /\nsudo bash (\S+) (\S+)$/.exec(command);
        assert.ok(m, command);
        const [, script, config] = m;
        assert.ok(builder.files.has(script), `${script} is not among the uploaded files: ${[...builder.files.keys()].join(" ")}`);
        assert.equal(builder.files.get(script), path.join(repo, "provision/provision.sh"));
        assert.match(command, new RegExp(`base64 -d > ${config.replace(/[.]/g, "\\.")}\n`), "the command writes the config it passes");
        assert.ok(builder.dirs.has(path.posix.dirname(config)), `the config's folder ${path.posix.dirname(config)} exists`);
    });
    it("passes the uploaded tarball's path in the config", () => {
        const b64 = /echo (\S+) \| base64 -d/.exec(command)![1];
        const tarball = /^BOOTSTRAP_TARBALL=(.*)$/m.exec(Buffer.from(b64, "base64").toString())![1];
        assert.ok(builder.files.has(tarball), `${tarball} is uploaded`);
    });
    it("would have caught the first layout (folder uploaded to <remotePath>, script run from <remotePath>)", () => {
        const t = freshBuilder();
        copyToRemote(t, path.join(repo, "provision"), "/home/admin/arch-ami-provision");
        assert.ok(!t.files.has("/home/admin/arch-ami-provision/provision.sh"));
        assert.ok(t.files.has("/home/admin/arch-ami-provision/provision/provision.sh"));
    });
});
