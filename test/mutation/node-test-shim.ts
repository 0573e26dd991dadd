// `node:test` for the unit suite under Vitest, the runner `npm run mutate` uses (Stryker's vitest runner runs
// in process and, with per-test coverage, only the tests that reach a mutant). `npm run test:unit` still runs
// the same files under node:test itself. Only what the unit files use is mapped: describe/it with an optional
// options object ({ skip, timeout }) and the before/after hooks, which node:test scopes as Vitest's *All hooks.
//
// Coverage of `before` hooks and of describe bodies. Stryker's instrumented code counts a hit against `ns.currentTestId`, or against
// `static` when none is set (@stryker-mutator/instrumenter util/syntax-helpers.js, stryCov_*), and its Vitest
// setup sets the id only around each test (@stryker-mutator/vitest-runner stryker-setup.js: beforeEach/
// afterEach, dry-run mode only). What a beforeAll hook runs (here: most component programs, run once per
// describe and asserted on by its tests) would count as static, and Stryker runs every test of the suite for
// each static mutant. So during the dry run a hook's hits are recorded under a key of its own and added to each
// test of its scope as that test starts: a mutant the hook reaches runs exactly the tests that see its effect.
// A describe body (run while Vitest collects, e.g. to compute a value its tests compare with) is treated the
// same way; as a mutant so attributed is activated only in the setup's beforeAll (stryker-setup.js, runtime
// activation), the shim activates it for the describe body too, as node:test would run it with the mutant on.
import { afterAll, afterEach, beforeAll, beforeEach, describe as vDescribe, inject, it as vIt } from "vitest";

type Fn = () => unknown;
interface Options { skip?: boolean | string; timeout?: number }
type Hits = Record<string, number>;
interface StrykerNamespace { currentTestId?: string; mutantCoverage?: { static: Hits; perTest: Record<string, Hits> } }

function split(a: Options | Fn | undefined, b: Fn | undefined): [Options, Fn | undefined] {
    return typeof a === "function" ? [{}, a] : [a ?? {}, b];
}

/** Stryker's namespace during its dry run (coverage is recorded), else undefined (mutant runs, plain Vitest). */
function strykerDryRun(): StrykerNamespace | undefined {
    const get = inject as unknown as (key: string) => unknown;
    const name = get("globalNamespace");
    if (get("mode") !== "dry-run" || typeof name !== "string") return undefined;
    const g = globalThis as unknown as Record<string, StrykerNamespace | undefined>;
    return (g[name] ??= {});
}

/** Stryker's namespace in a mutant run, and the mutant under test. */
function strykerMutantRun(): [StrykerNamespace & { activeMutant?: string }, string] | undefined {
    const get = inject as unknown as (key: string) => unknown;
    const name = get("globalNamespace");
    const mutant = get("activeMutant");
    if (get("mode") !== "mutant" || typeof name !== "string" || typeof mutant !== "string") return undefined;
    const g = globalThis as unknown as Record<string, StrykerNamespace | undefined>;
    return [(g[name] ??= {}), mutant];
}

let scopes = 0;

/** Sets the attribution for `key` (dry run: hits are recorded under it; mutant run: the mutant is active)
 * and returns what undoes it. */
function enter(key: string): () => void {
    const dry = strykerDryRun();
    if (dry) {
        const saved = dry.currentTestId;
        dry.currentTestId = key;
        return () => void (dry.currentTestId = saved);
    }
    const run = strykerMutantRun();
    if (run) {
        const [ns, mutant] = run;
        const saved = ns.activeMutant;
        ns.activeMutant = mutant;
        return () => void (ns.activeMutant = saved);
    }
    return () => undefined;
}

/** Adds the hits recorded under `key` to each test of the current scope as it starts, then drops the key. */
function creditTests(key: string): void {
    beforeEach(() => {
        const ns = strykerDryRun();
        const hits = ns?.mutantCoverage?.perTest[key];
        if (!ns?.mutantCoverage || !ns.currentTestId || !hits) return;
        const into = (ns.mutantCoverage.perTest[ns.currentTestId] ??= {});
        for (const [id, n] of Object.entries(hits)) into[id] = (into[id] ?? 0) + n;
    });
    afterAll(() => {
        const ns = strykerDryRun();
        if (ns?.mutantCoverage) delete ns.mutantCoverage.perTest[key];
    });
}

export function describe(name: string, a?: Options | Fn, b?: Fn): void {
    const [o, fn] = split(a, b);
    const key = `arch-ami:describe#${scopes++}`;
    (o.skip ? vDescribe.skip : vDescribe)(name, () => {
        creditTests(key);
        const leave = enter(key);
        try {
            fn?.();
        } finally {
            leave();
        }
    }, o.timeout);
}

export function it(name: string, a?: Options | Fn, b?: Fn): void {
    const [o, fn] = split(a, b);
    (o.skip ? vIt.skip : vIt)(name, fn ?? (() => undefined), o.timeout);
}

export function before(fn: Fn): void {
    const key = `arch-ami:before#${scopes++}`;
    beforeAll(async () => {
        const leave = enter(key);
        try {
            await fn();
        } finally {
            leave();
        }
    });
    creditTests(key);
}

export const test = it;
export const after = afterAll;
export { afterEach, beforeEach };
