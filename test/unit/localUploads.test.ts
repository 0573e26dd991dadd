// build-local stages exactly what the component uploads. Oracle: the component itself, run under the mocks,
// gives its CopyToRemote inputs; the model of pulumi-command's copy rule (test/lib/copyToRemote.ts, written
// from copyController.go sftpCopy) says which files land where on a fresh builder. build-local's staging
// (stageUploads) must produce the same files, with the same content, under the admin user's home.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { installMocks, registered, settle } from "./harness";
import { copyToRemote, freshBuilder } from "../lib/copyToRemote";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-local-uploads-"));
const tarball = path.join(work, "bootstrap.tar.zst");
fs.writeFileSync(tarball, "tarball bytes");
const pkg = path.join(work, "pkgs", "hello-1.0-1-x86_64.pkg.tar.zst");
fs.mkdirSync(path.dirname(pkg));
fs.writeFileSync(pkg, "package bytes");
installMocks({ tarballPath: tarball });

function filesBelow(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesBelow(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("build-local's uploads are the component's", () => {
    it("every file the component's CopyToRemotes put on a fresh builder, at the same path with the same bytes, and nothing else", async () => {
        const { ArchAmi } = await import("../../src");
        new ArchAmi("arch", { sshIngressCidrs: ["127.0.0.1/32"], localPackages: [pkg] });
        await settle();
        const uploads = registered.filter((r) => r.type === "command:remote:CopyToRemote");
        assert.equal(uploads.length, 3, "tarball, scripts, one package");
        const builder = freshBuilder("/home/admin");
        for (const u of uploads) {
            const source = u.inputs.source as { path: Promise<string> | string };
            copyToRemote(builder, await source.path, String(u.inputs.remotePath));
        }
        const expected = new Map([...builder.files].map(([remote, local]) => [remote, fs.readFileSync(local, "utf8")]));

        const { stageUploads } = await import("../../src/local/build");
        const home = path.join(work, "home");
        fs.mkdirSync(home);
        const written = stageUploads(home, tarball, [pkg]);
        const staged = new Map(filesBelow(home).map((f) => [`/home/admin/${path.relative(home, f)}`, fs.readFileSync(f, "utf8")]));
        assert.deepEqual([...staged.keys()].sort(), [...expected.keys()].sort());
        for (const [f, content] of expected) assert.equal(staged.get(f), content, f);
        assert.ok(staged.has("/home/admin/arch-ami/provision/provision.sh"), "the scripts folder lands under its own name");
        assert.deepEqual(written.sort(), ["/home/admin/arch-ami-bootstrap.tar.zst", "/home/admin/arch-ami-packages/hello-1.0-1-x86_64.pkg.tar.zst", "/home/admin/arch-ami/provision"].sort());
    });
});
