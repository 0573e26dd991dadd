// Every example type-checks against the package's public API.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const repo = path.resolve(__dirname, "../..");
const tsc = path.join(repo, "node_modules/typescript/bin/tsc");

describe("examples", () => {
    const dirs = fs.readdirSync(path.join(repo, "examples"), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

    it("are basic, consumer, compose, customize and multi-region", () => assert.deepEqual(dirs.sort(), ["basic", "compose", "consumer", "customize", "multi-region"]));

    it("type-check, every one of them", () => {
        const list = spawnSync(process.execPath, [tsc, "-p", "examples/tsconfig.typecheck.json", "--listFilesOnly"], { cwd: repo, encoding: "utf8" });
        for (const d of dirs) {
            assert.match(list.stdout, new RegExp(`examples/${d}/index\\.ts`), `${d} is compiled`);
        }
        const r = spawnSync(process.execPath, [tsc, "-p", "examples/tsconfig.typecheck.json"], { cwd: repo, encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });
});
