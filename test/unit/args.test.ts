// src/args.ts is the one place an argument is written (type, TSDoc, default): the defaults the component
// applies, the default program's stack-config reading and README.md's argument tables all come from it.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readArgs, renderReadme, renderSpec } from "../../scripts/gen-args";
import { ARGUMENT_KINDS, DEFAULTS } from "../../src/argSpec";

const repo = path.resolve(__dirname, "../..");
const read = (f: string) => fs.readFileSync(path.join(repo, f), "utf8");

describe("arguments: one source", () => {
    const ifaces = readArgs();
    const main = ifaces.find((i) => i.name === "ArchAmiArgs")!;

    it("src/argSpec.ts and README.md's argument tables are generated from src/args.ts (run npm run gen:args when this fails)", () => {
        assert.equal(read("src/argSpec.ts"), renderSpec(ifaces), "src/argSpec.ts is stale");
        assert.equal(read("README.md"), renderReadme(read("README.md"), ifaces), "README.md's argument tables are stale");
    });

    it("notices a changed TSDoc default (the staleness check can fail)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-args-"));
        const copy = path.join(dir, "args.ts");
        fs.writeFileSync(copy, read("src/args.ts").replace("Default: `t3.small`", "Default: `t3.medium`"));
        const changed = readArgs(copy);
        assert.notEqual(renderSpec(changed), read("src/argSpec.ts"));
        assert.match(renderSpec(changed), /instanceType: "t3\.medium"/);
        assert.notEqual(renderReadme(read("README.md"), changed), read("README.md"));
        fs.rmSync(dir, { recursive: true });
    });

    it("refuses an argument without a documented default", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-args-"));
        const copy = path.join(dir, "args.ts");
        fs.writeFileSync(copy, read("src/args.ts").replace(/ Default: `t3\.small` \(Nitro, cheap\)\./, ""));
        assert.throws(() => readArgs(copy), /ArchAmiArgs\.instanceType: its TSDoc must end with "Default: …\." or "Required\."/);
        fs.rmSync(dir, { recursive: true });
    });

    it("lists every argument of ArchAmiArgs, with the kind its type calls for", () => {
        assert.deepEqual(Object.keys(ARGUMENT_KINDS), main.properties.map((p) => p.name));
        assert.equal(ARGUMENT_KINDS.volumeSize, "number");
        assert.equal(ARGUMENT_KINDS.verify, "boolean");
        assert.equal(ARGUMENT_KINDS.filesystem, "string");
        assert.equal(ARGUMENT_KINDS.subnetId, "string", "pulumi.Input<string> is text in config");
        for (const k of ["files", "scripts", "packages", "tags", "sharing", "regions"] as const) assert.equal(ARGUMENT_KINDS[k], "json", k);
    });

    it("writes no constant default anywhere else in src/ (no setting defined twice)", () => {
        const others = fs
            .readdirSync(path.join(repo, "src"), { recursive: true, encoding: "utf8" })
            .filter((f) => f.endsWith(".ts") && !["args.ts", "argSpec.ts"].includes(f))
            .map((f) => [f, read(path.join("src", f))] as const);
        // A second definition has the shape `?? <literal>`: only "" and [] (meaning "none") may stand there, and
        // a template computed from other arguments (documented in prose, e.g. description).
        // src/local/ (the build-local/boot-local command line) has defaults of its own options (time-outs, ports,
        // memory, flags): there, an argument's default text or number after `??` is a second definition.
        const argumentDefaults = new Set(Object.values(DEFAULTS).filter((v) => typeof v === "string" || typeof v === "number").map((v) => JSON.stringify(v)));
        for (const [f, text] of others) {
            const second = [...text.matchAll(/\?\?\s*(true|false|-?\d[\d.]*|"[^"]+"|'[^']+'|`[^`$]+`)/g)]
                .filter((m) => !f.startsWith(`local${path.sep}`) || argumentDefaults.has(m[1].replace(/^'(.*)'$/, '"$1"')))
                .map((m) => m[0]);
            assert.deepEqual(second, [], `${f} defines a default again; use DEFAULTS / NESTED_DEFAULTS`);
        }
        for (const [k, v] of Object.entries(DEFAULTS)) {
            if (k === "mirror" || k === "imageMirror") {
                for (const [f, text] of others) assert.ok(!text.includes(JSON.stringify(v)), `${f} repeats the default of ${k} (${String(v)})`);
            }
        }
        for (const [f, text] of [["program/index.ts", read("program/index.ts")] as const, ...others]) {
            assert.doesNotMatch(text, /cfg\.get\w*\(["']volumeSize["']\)/, `${f} lists arguments again`);
        }
    });
});

describe("default program: stack config", () => {
    // Runs argsFromStackConfig in a fresh process with the config the Pulumi CLI would pass.
    const run = (config: Record<string, string>, secretKeys: string[] = []) =>
        spawnSync(process.execPath, ["--import", "tsx", "-e", 'const { argsFromStackConfig } = require("./src/stackConfig"); process.stdout.write(JSON.stringify(argsFromStackConfig("arch-ami")));'], {
            cwd: repo,
            env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config), PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secretKeys) },
            encoding: "utf8",
        });

    it("reads every argument by its own name, parsing numbers, booleans and JSON", () => {
        const sample: Record<string, [string, unknown]> = {
            string: ["some-text", "some-text"],
            number: ["8", 8],
            boolean: ["true", true],
            json: ['[{"path":"/etc/a","content":"x"}]', [{ path: "/etc/a", content: "x" }]],
        };
        const config = Object.fromEntries(Object.entries(ARGUMENT_KINDS).map(([k, kind]) => [`arch-ami:${k}`, sample[kind][0]]));
        const r = run({ ...config, "aws:region": "us-east-1" });
        assert.equal(r.status, 0, r.stderr);
        const args = JSON.parse(r.stdout) as Record<string, unknown>;
        assert.deepEqual(Object.keys(args).sort(), Object.keys(ARGUMENT_KINDS).sort());
        for (const [k, kind] of Object.entries(ARGUMENT_KINDS)) assert.deepEqual(args[k], sample[kind][1], k);
    });

    it("refuses a key that is no argument, naming it and the known ones", () => {
        const r = run({ "arch-ami:volumeSzie": "8", "arch-ami:volumeSize": "8" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /unknown stack config "arch-ami:volumeSzie": ArchAmi has no such argument\. Known: name, description, .*volumeSize/);
    });

    it("refuses a secret, which would be baked into the image, without printing it", () => {
        const r = run({ "arch-ami:files": '[{"path":"/etc/token","content":"hunter2"}]' }, ["arch-ami:files"]);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /stack config "arch-ami:files" is a secret: .*everyone who can launch the AMI can read every file in it/);
        assert.doesNotMatch(r.stderr, /hunter2/);
    });

    it("refuses a number with trailing text instead of reading its first digits", () => {
        const r = run({ "arch-ami:volumeSize": "8GiB" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /stack config "arch-ami:volumeSize" must be a number/);
    });
});
