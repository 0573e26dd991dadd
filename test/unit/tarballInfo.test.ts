// The tarball stage's two pure parts: reading build-tarball.sh's report, and what the upload sends when the
// tarball is not on this machine (a text provision.sh recognizes and refuses, with the way to recover).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, value } from "./harness";

installMocks();

const repo = path.resolve(__dirname, "../..");
const SHA = "0123456789abcdef".repeat(4);
const line = (o: Record<string, unknown>) => JSON.stringify(o);

describe("parseTarballInfo (build-tarball.sh's last line)", () => {
    let parse: typeof import("../../src/build/tarball").parseTarballInfo;
    before(async () => {
        ({ parseTarballInfo: parse } = await import("../../src/build/tarball"));
    });

    it("reads the last line after the progress output, with the script's trailing newline", () => {
        const info = { path: "/c/archlinux-bootstrap-2026.11.01-x86_64.tar.zst", sha256: SHA, date: "2026.11.01" };
        assert.deepEqual(parse(`downloading...\nverifying\n${line(info)}\n`), info);
        assert.deepEqual(parse(`  ${line(info)}  \n\n`), info);
    });

    for (const [what, bad] of [
        ["a path that is not a string", { path: 7, sha256: SHA, date: "2026.11.01" }],
        ["no path", { sha256: SHA, date: "2026.11.01" }],
        ["a sha256 one digit short", { path: "/t", sha256: SHA.slice(1), date: "2026.11.01" }],
        ["a sha256 with a character before it", { path: "/t", sha256: `x${SHA}`, date: "2026.11.01" }],
        ["a sha256 with a character after it", { path: "/t", sha256: `${SHA}x`, date: "2026.11.01" }],
        ["an upper-case sha256", { path: "/t", sha256: SHA.toUpperCase(), date: "2026.11.01" }],
        ["a date that is not a string", { path: "/t", sha256: SHA, date: 20261101 }],
        ["no date", { path: "/t", sha256: SHA }],
    ] as const) {
        it(`refuses ${what}, quoting the line`, () => {
            const last = line(bad);
            assert.throws(() => parse(`progress\n${last}\n`), (e: Error) => e.message === `arch-ami: build-tarball.sh printed an unexpected last line: ${last}`);
        });
    }
});

describe("tarballAsset (the upload's source)", () => {
    let mod: typeof import("../../src/build/tarball");
    before(async () => {
        mod = await import("../../src/build/tarball");
    });
    const urn = "urn:pulumi:dev::p::arch-ami:index:ArchAmi$arch-ami:index:ArchAmiBuild$command:local:Command::arch-0123456789ab-tarball";

    it("is the file itself when this machine holds it", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-tarball-"));
        const file = path.join(dir, "t.tar.zst");
        fs.writeFileSync(file, "x");
        const a = await value(mod.tarballAsset(pulumi.output({ path: file, sha256: SHA, date: "2026.11.01" }), pulumi.output(urn)));
        assert.ok(a instanceof pulumi.asset.FileAsset);
        assert.equal(await a.path, file);
        fs.rmSync(dir, { recursive: true });
    });

    it("is a text provision.sh refuses, naming the tarball and the command to re-run, when it does not", async () => {
        const a = await value(mod.tarballAsset(pulumi.output({ path: "/nonexistent/t.tar.zst", sha256: SHA, date: "2026.11.01" }), pulumi.output(urn)));
        assert.ok(a instanceof pulumi.asset.StringAsset);
        assert.equal(
            await a.text,
            `arch-ami placeholder: the bootstrap tarball ${SHA} is not on the machine that ran this update.\n` +
                `Run the tarball command again on this machine: pulumi up --replace '${urn}'\n`,
        );
        // The oracle is provision.sh's own test (check_inputs): the first 64 bytes match grep's pattern.
        const pattern = /head -c (\d+) "\$tarball" \| grep -q '\^([^']+)'/.exec(fs.readFileSync(path.join(repo, "provision/provision.sh"), "utf8"));
        assert.ok(pattern, "provision.sh still recognizes the placeholder");
        assert.ok((await a.text).slice(0, Number(pattern[1])).startsWith(pattern[2]));
        assert.equal(mod.PLACEHOLDER_MARKER, pattern[2]);
    });
});
