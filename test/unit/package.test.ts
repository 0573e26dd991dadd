// The package entry: `npm run build` (tsc) emits bin/src/index.js, which package.json's main/exports name,
// and it exports the component and its enums.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const repo = path.resolve(__dirname, "../..");

describe("package entry", () => {
    it("is built by tsc at the path package.json names, and exports ArchAmi and the enums", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
        assert.equal(pkg.main, "bin/src/index.js");
        assert.equal(pkg.exports["."].default, "./bin/src/index.js");
        assert.equal(pkg.types, "bin/src/index.d.ts");
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-build-"));
        execFileSync(process.execPath, [path.join(repo, "node_modules/typescript/bin/tsc"), "-p", repo, "--outDir", out], { stdio: "inherit" });
        fs.symlinkSync(path.join(repo, "node_modules"), path.join(out, "node_modules"));
        const entry = path.join(out, "src/index.js");
        assert.ok(fs.existsSync(path.join(out, "src/index.d.ts")));
        // The built entry must find provision/ from its own location, as it will inside node_modules.
        fs.cpSync(path.join(repo, "provision"), path.join(out, "provision"), { recursive: true });
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the built JavaScript itself
        const mod = require(entry);
        assert.equal(typeof mod.ArchAmi, "function");
        assert.deepEqual(mod.Filesystem, { Ext4: "ext4", Btrfs: "btrfs" });
        assert.deepEqual(mod.BootMode, { UefiPreferred: "uefi-preferred", Uefi: "uefi", LegacyBios: "legacy-bios" });
        assert.deepEqual(Object.values(mod.Kernel), ["linux", "linux-lts"]);
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the built JavaScript itself
        const { provisionDir } = require(path.join(out, "src/buildConfig.js"));
        assert.equal(provisionDir(), path.join(out, "provision"));
    });

    it("ships provision/ and PulumiPlugin.yaml with the package", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
        assert.deepEqual(pkg.files.sort(), ["PulumiPlugin.yaml", "bin/src", "provision"]);
    });
});
