// Runs before each test file (vitest.config.ts: setupFiles). The mutation run reuses one worker for every test
// file (isolate: false: Node's own module cache keeps @pulumi/aws and the other packages loaded, about 1 s per
// file and per mutant saved), so what node:test gives each file by running it in a process of its own is
// restored here: our modules evaluated afresh (vi.resetModules: every module but the externals), the Pulumi
// SDK's runtime state dropped (it lives on globalThis: @pulumi/pulumi runtime/state.ts, getStore() creates
// `global.globalStore` when absent, and setStackResource also sets `globalThis.stackResource`), and
// the environment as it was when the worker started.
//
// Under Stryker it also makes coverage per test where Stryker would call it static. What Stryker's rules are
// (read in @stryker-mutator/instrumenter util/syntax-helpers.js, stryCov_9fa48: a hit while
// `__stryker__.currentTestId` is unset counts in `mutantCoverage.static`; vitest-runner stryker-setup.js: the
// id is set in a beforeEach, and in a mutant run the mutant is activated in a beforeAll unless the run is
// "static"; core mutants/mutant-test-planner.js planMutant: a mutant with any static hit runs every test of the
// suite): a hit while a file's modules load, in a describe body or in a before/after hook is static. Here each
// file loads our modules afresh, so such a hit can only change that file's tests. So:
//  - dry run: the static hits made while this file ran are moved to every test of this file (an afterAll, which
//    runs after the file's own after hooks);
//  - mutant run: the mutant is active from here on, before the file imports anything, so module-level code
//    (a constant, a table) sees it in the tests that then run.
// The objects are changed in place: each instrumented module keeps the `mutantCoverage` it first saw.
import * as fs from "node:fs";
import Module from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, expect, inject, vi } from "vitest";

deferPulumiClosureDependencies();
reportResourceErrorsPlainly();

type Hits = Record<string, number>;
interface StrykerNamespace {
    activeMutant?: string;
    currentTestId?: string;
    mutantCoverage?: { static: Hits; perTest: Record<string, Hits> };
}
const provided = inject as unknown as (key: string) => unknown;
const namespace = provided("globalNamespace") as string | undefined;
if (namespace !== undefined) {
    const ns = ((globalThis as unknown as Record<string, StrykerNamespace>)[namespace] ??= {});
    if (provided("mode") === "mutant") {
        ns.activeMutant = provided("activeMutant") as string;
    } else {
        const cov = (ns.mutantCoverage ??= { static: {}, perTest: {} });
        const before: Hits = { ...cov.static };
        const tests = new Set<string>();
        beforeEach(() => {
            if (ns.currentTestId !== undefined) tests.add(ns.currentTestId);
        });
        afterAll(() => {
            for (const [id, hits] of Object.entries(cov.static)) {
                const added = hits - (before[id] ?? 0);
                if (added <= 0 || tests.size === 0) continue;
                for (const t of tests) {
                    const perTest = (cov.perTest[t] ??= {});
                    perTest[id] = (perTest[id] ?? 0) + added;
                }
                if (before[id] === undefined) delete cov.static[id];
                else cov.static[id] = before[id];
            }
        });
    }
}

const g = globalThis as unknown as { globalStore?: unknown; stackResource?: unknown; archAmiInitialEnv?: NodeJS.ProcessEnv };
g.archAmiInitialEnv ??= { ...process.env };
for (const k of Object.keys(process.env)) if (!(k in g.archAmiInitialEnv)) delete process.env[k];
Object.assign(process.env, g.archAmiInitialEnv);
delete g.globalStore;
delete g.stackResource;
vi.resetModules();
beforeAll(loadImportedSources);

/**
 * Evaluates, before the file's tests (its first beforeAll), each module of src/ (or the default program) that the
 * test file imports, as a file that imports them at its top does: many test files import the component inside
 * their first test (after installMocks), and a module-level hit made there would be credited to that one test
 * only, so a mutated constant would never meet the file's other tests. Only what the file itself names is loaded
 * (its `from "…"` and `import("…")` specifiers), so a module's constants are not credited to files that never
 * use it. The two entry scripts (cli.ts, imds-server.ts) run their main() when loaded and are left to the tests
 * that spawn them.
 */
async function loadImportedSources(): Promise<void> {
    const testFile = expect.getState().testPath;
    if (testFile === undefined) throw new Error("test/mutation/vitest-setup.ts: Vitest gave no testPath; the file's imports cannot be loaded before its tests");
    const root = path.resolve(__dirname, "../..");
    const entries = new Set(["src/local/cli.ts", "src/local/imds-server.ts"]);
    const text = fs.readFileSync(testFile, "utf8");
    for (const [, spec] of text.matchAll(/(?:\bfrom|\bimport\()\s*"(\.{1,2}\/[^"]+)"/g)) {
        const target = path.relative(root, path.resolve(path.dirname(testFile), spec));
        if (!/^(src|program)(\/|$)/.test(target) || entries.has(`${target}.ts`) || entries.has(target)) continue;
        await import(path.join(root, target));
    }
}

/**
 * Gives Pulumi's ResourceError a toJSON: its name, message and stack. Vitest sends every error it reports (a
 * failed test's or hook's, an unhandled rejection) to the main process as a copy made by walking all of the
 * error's properties, getters and prototypes included (@vitest/utils serialize.js serializeValue), unless the
 * error has a toJSON, whose result it copies instead. A ResourceError holds its resource (@pulumi/pulumi
 * errors.js), and through it the component's whole tree of resources and Outputs: a mutant that made the
 * preflight refuse in copies.test.ts kept the worker at 150 % CPU and 2.3 GB for as long as it was let run
 * (node:test reports the same failure at once), so Stryker's timeout ended the run and restarted the runner.
 */
function reportResourceErrorsPlainly(): void {
    const { ResourceError } = Module.createRequire(__filename)("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const proto = ResourceError.prototype as unknown as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(proto, "toJSON")) return;
    Object.defineProperty(proto, "toJSON", {
        writable: true,
        configurable: true,
        value(this: Error & { hideStack?: boolean }) {
            return { name: this.name, message: this.message, stack: this.stack, hideStack: this.hideStack };
        },
    });
}

/**
 * Vitest starts a new worker thread for each mutant's run (vitest cli-api Pool.run: a runner is kept only for a
 * task already queued), so every run loads @pulumi/pulumi afresh, and with it TypeScript and npm's arborist
 * (0.4 s and 0.2 s of the about 1 s it takes: runtime/closure/parseFunction.js through typescript-shim.js,
 * runtime/closure/codePaths.js), which it needs only to serialize a function, something the component never
 * asks. Those two are loaded on first use instead: the module @pulumi/pulumi gets is a proxy that loads the
 * real one when a property is read. `__esModule` reads as true so TypeScript's __importStar keeps the proxy
 * instead of copying (and so loading) every property. Installed once per thread, before anything loads them.
 * typescript-shim.js's fallback to its bundled TypeScript (taken when `require("typescript")` throws) is not
 * reached through the proxy; TypeScript is a dev dependency here, so it never was.
 */
function deferPulumiClosureDependencies(): void {
    type Load = (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;
    const mod = Module as unknown as { _load: Load & { archAmiDeferred?: true } };
    if (mod._load.archAmiDeferred) return;
    const load = mod._load;
    const deferred = new Set(["typescript", "@npmcli/arborist"]);
    const patched: Load & { archAmiDeferred?: true } = function (this: unknown, request, parent, isMain) {
        if (!deferred.has(request) || !parent?.filename?.includes("/node_modules/@pulumi/pulumi/")) return load.call(this, request, parent, isMain);
        let real: Record<string | symbol, unknown> | undefined;
        const get = () => (real ??= load.call(this, request, parent, isMain) as Record<string | symbol, unknown>);
        return new Proxy(
            {},
            {
                get: (_, k) => (k === "__esModule" ? true : get()[k]),
                has: (_, k) => k === "__esModule" || k in get(),
                ownKeys: () => Reflect.ownKeys(get()),
                // Reported configurable: the target is an empty object, and a proxy may not report a property
                // the target lacks as non-configurable (so Object.keys or a spread would throw).
                getOwnPropertyDescriptor: (_, k) => {
                    const d = Reflect.getOwnPropertyDescriptor(get(), k);
                    return d && { ...d, configurable: true };
                },
            },
        );
    };
    patched.archAmiDeferred = true;
    mod._load = patched;
}
