// The scope of test/mutation/scoped-checker.mjs: which files' diagnostics a mutant in one file can change. The
// expectations are written by hand from the rule (a file and everything that imports it, directly or through
// others); test/mutation/check-scope.mjs compares the checker with Stryker's full check on every mutant.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const load = () => import("../mutation/scoped-checker.mjs");

const sorted = (m: Map<string, string[]>, f: string) => [...(m.get(f) ?? [])].sort();

describe("the files a mutant's type check reads (scoped-checker importersOf)", () => {
    it("a file, what imports it, and what imports those; every import form; not what it imports itself", async () => {
        const { importersOf } = await load();
        const files = new Map([
            ["/p/src/a.ts", `import { b } from "./b";\nexport const a = b;`],
            ["/p/src/b.ts", `import type { T } from "./util/index";\nexport const b: T = 1;`],
            ["/p/src/util/index.ts", `export type T = number;`],
            ["/p/src/c.ts", `export * from "./a";`],
            ["/p/src/d.ts", `const m = () => import("./c");\nconst r = require('./lone');\nexport { m, r };`],
            ["/p/src/lone.ts", `export const lone = 1;`],
            ["/p/src/e.ts", `import * as fs from "node:fs";\nexport const e = fs;`],
            ["/p/tsconfig.mutate.json", `{ "from": "./nowhere" }`],
        ]);
        const scope = importersOf(files);
        assert.deepEqual(sorted(scope, "/p/src/util/index.ts"), ["/p/src/a.ts", "/p/src/b.ts", "/p/src/c.ts", "/p/src/d.ts", "/p/src/util/index.ts"]);
        assert.deepEqual(sorted(scope, "/p/src/b.ts"), ["/p/src/a.ts", "/p/src/b.ts", "/p/src/c.ts", "/p/src/d.ts"]);
        assert.deepEqual(sorted(scope, "/p/src/a.ts"), ["/p/src/a.ts", "/p/src/c.ts", "/p/src/d.ts"]);
        assert.deepEqual(sorted(scope, "/p/src/lone.ts"), ["/p/src/d.ts", "/p/src/lone.ts"]);
        assert.deepEqual(sorted(scope, "/p/src/d.ts"), ["/p/src/d.ts"]);
        assert.deepEqual(sorted(scope, "/p/src/e.ts"), ["/p/src/e.ts"]);
        assert.equal(scope.has("/p/tsconfig.mutate.json"), false, "only TypeScript files");
    });

    it("a cycle: each file of it reaches the others", async () => {
        const { importersOf } = await load();
        const scope = importersOf(
            new Map([
                ["/p/x.ts", `import { y } from "./y";`],
                ["/p/y.ts", `import { x } from "./x";`],
            ]),
        );
        assert.deepEqual(sorted(scope, "/p/x.ts"), ["/p/x.ts", "/p/y.ts"]);
        assert.deepEqual(sorted(scope, "/p/y.ts"), ["/p/x.ts", "/p/y.ts"]);
    });

    it("refuses an import it cannot resolve, and a file that declares globals (its scope would be every file)", async () => {
        const { importersOf } = await load();
        assert.throws(() => importersOf(new Map([["/p/a.ts", `import { z } from "./z";`]])), /\/p\/a\.ts imports "\.\/z", no file of the project/);
        assert.throws(() => importersOf(new Map([["/p/g.ts", `declare global {\n  var x: number;\n}\nexport {};`]])), /\/p\/g\.ts declares globals/);
    });

    it("src/ as it is: every file resolved; the settings' types reach the component, the boot-local command reaches only cli.ts", async () => {
        const { importersOf } = await load();
        const root = path.resolve(__dirname, "../..");
        const files = new Map<string, string>();
        const walk = (dir: string): void => {
            for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
                const f = path.join(dir, e.name);
                if (e.isDirectory()) walk(f);
                else if (f.endsWith(".ts")) files.set(f, fs.readFileSync(f, "utf8"));
            }
        };
        walk(path.join(root, "src"));
        const scope = importersOf(files);
        assert.equal(scope.size, files.size);
        const rel = (f: string) => sorted(scope, path.join(root, f)).map((x) => path.relative(root, x));
        assert.deepEqual(rel("src/local/boot.ts"), ["src/local/boot.ts", "src/local/cli.ts"]);
        assert.ok(rel("src/settings/types.ts").includes("src/archAmi.ts"));
        assert.ok(rel("src/settings/types.ts").includes("src/index.ts"));
    });
});
