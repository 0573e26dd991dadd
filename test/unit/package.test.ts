// The package as others get it. From a fresh git clone, `npm ci` alone builds it (`prepare`) so
// `require("arch-ami")` works, as `pulumi package add <checkout>` needs (it runs only `npm install`, then
// requires the package's main). From `npm pack` output, installed like any dependency, the component
// provider host (what `pulumi package add` runs for Python/Go/C#/YAML users) infers the schema from the
// files it reads: tsconfig.json and src/ (pulumi/pulumi sdk/nodejs/provider/experimental/analyzer.ts).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const repo = path.resolve(__dirname, "../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-pkg-"));
const clone = path.join(work, "clone");
const npm = (args: string[], cwd: string) =>
    execFileSync("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
const node = (code: string, cwd: string) => execFileSync(process.execPath, ["-e", code], { cwd, encoding: "utf8" });

describe("package from a git checkout and from npm pack", { timeout: 600_000 }, () => {
    let tgz: string;
    before(() => {
        execFileSync("git", ["clone", "-q", repo, clone]);
        npm(["ci"], clone);
        tgz = path.join(work, npm(["pack", "--pack-destination", work, "--silent"], clone).trim().split("\n").pop()!);
    });

    it("npm ci alone builds the checkout: require(\"arch-ami\") gives the component", () => {
        const consumer = path.join(work, "consumer");
        fs.mkdirSync(path.join(consumer, "node_modules"), { recursive: true });
        fs.symlinkSync(clone, path.join(consumer, "node_modules/arch-ami"));
        const out = node('const m = require("arch-ami"); console.log(typeof m.ArchAmi, Object.keys(m).sort().join(","))', consumer);
        assert.equal(out.trim(), "function ARGUMENT_KINDS,ArchAmi,BootMode,BootstrapMethod,DEFAULTS,Filesystem,Kernel,argsFromStackConfig");
    });

    it("the packed tarball carries the built entry, provision/ and what schema inference reads", () => {
        const files = execFileSync("tar", ["tzf", tgz], { encoding: "utf8" }).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
        for (const f of ["package.json", "PulumiPlugin.yaml", "tsconfig.json", "src/index.ts", "src/archAmi.ts", "src/args.ts", "src/build/archAmiBuild.ts", "bin/src/index.js", "bin/src/index.d.ts", "provision/provision.sh", "provision/build-tarball.sh", "bin/src/local/cli.js", "bin/src/local/imds-server.js", "local/listen.py", "local/relay.py", "local/build-surrogate.sh", "local/surrogate-run", "local/lib.sh"]) {
            assert.ok(files.includes(f), `${f} is packed`);
        }
        assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("node_modules/")), "no tests or dependencies packed");
    });

    it("installed from the tarball, the component provider host infers the full schema offline", () => {
        const app = path.join(work, "app");
        fs.mkdirSync(app);
        fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
        npm(["install", tgz], app);
        const installed = path.join(app, "node_modules/arch-ami");
        assert.ok(fs.existsSync(path.join(installed, "bin/src/index.js")));
        // The built code finds provision/ from its own location inside node_modules.
        assert.equal(node(`process.stdout.write(require(${JSON.stringify(path.join(installed, "bin/src/render.js"))}).provisionDir())`, app), path.join(installed, "provision"));
        // The command line is linked as a bin; build-local finds its scripts (local/) from the installed copy.
        const help = execFileSync(path.join(app, "node_modules/.bin/arch-ami"), ["--help"], { cwd: app, encoding: "utf8" });
        assert.match(help, /build-local/);
        assert.match(help, /boot-local/);
        assert.equal(node(`process.stdout.write(require(${JSON.stringify(path.join(installed, "bin/src/local/build.js"))}).localAssetsDir())`, app), path.join(installed, "local"));
        // boot-local finds its Python helpers (local/) from the compiled code's location too.
        assert.equal(node(`process.stdout.write(require(${JSON.stringify(path.join(installed, "bin/src/local/vm.js"))}).packageFile("relay.py"))`, app), path.join(installed, "local/relay.py"));
        // What cmd/run-plugin does: require the package, find its components, host them with dirname = package.
        const schema = JSON.parse(
            node(
                `const { ComponentProvider, getPulumiComponents } = require("@pulumi/pulumi/provider/experimental/provider");
                 const components = getPulumiComponents(require(${JSON.stringify(installed)}));
                 new ComponentProvider({ name: "arch-ami", version: "0.1.0", dirname: ${JSON.stringify(installed)}, components })
                   .getSchema().then((s) => process.stdout.write(s));`,
                app,
            ),
        ) as { resources: Record<string, { inputProperties: Record<string, unknown>; properties: Record<string, unknown> }> };
        assert.deepEqual(Object.keys(schema.resources), ["arch-ami:index:ArchAmi"]);
        const r = schema.resources["arch-ami:index:ArchAmi"];
        for (const k of ["volumeSize", "packages", "bootMode", "retainImages", "sshIngressCidrs"]) assert.ok(r.inputProperties[k], k);
        for (const k of ["amiId", "amiName", "buildHash"]) assert.ok(r.properties[k], k);
    });

    it("pins Node 22 for version managers and the Pulumi language host's fnm (.nvmrc, .node-version)", () => {
        for (const f of [".nvmrc", ".node-version"]) assert.equal(fs.readFileSync(path.join(repo, f), "utf8").trim(), "22");
        const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8"));
        assert.equal(pkg.scripts.prepare, "tsc -p .");
        assert.equal(pkg.main, "bin/src/index.js");
    });
});
