// Stryker's Vitest runner (@stryker-mutator/vitest-runner 10) with four changes that make a mutant's run cheap.
// The tests a run executes, and how Stryker judges the result, are unchanged.
//
// 1. One worker thread for every run. Stryker calls Vitest's `start` once per mutant, and Vitest stops the run's
//    worker thread when nothing else is queued (vitest chunks/cli-api.js `Pool.schedule`: a runner is kept only
//    for a task already in the queue), so every mutant paid a new thread, Vitest's runtime and @pulumi/pulumi and
//    @pulumi/aws loaded again: about 0.5 s of a run, and about 0.3 s more for the first test file. Here the
//    thread is parked when Vitest stops it after a clean "stop"/"stopped" exchange, and the next run's worker
//    takes it (KeptThreadsWorker below; the thread side is test/mutation/kept-thread-entry.mjs). Each run still
//    gets the runtime's full start and stop (its config, with this mutant's test name pattern; its RPC; its
//    environment), and test/mutation/vitest-setup.ts still gives each test file our modules afresh and the
//    Pulumi runtime state and the environment as they were. A thread that exited, or a run stopped by force
//    (Vitest skips "stop" then), is terminated as before. Stryker's timeout still kills the whole process.
// 2. The test files of a run ordered cheapest first for that mutant. A mutant run stops at its first failing
//    test (the runner's `bail: 1`), and Vitest runs whole files one after another, each narrowed to the mutant's
//    covering tests by a name pattern (vitest-test-runner.js `run`). So what a file costs in one mutant's run
//    is what its covering tests took in the dry run plus what the file takes around them (imports, hooks).
//    Both are recorded in the dry run; the sequencer (vitest.config.ts, CheapestFirst) reads the order.
// 3. Vitest's per-test and per-hook timeouts lowered in mutant runs, so a test a mutant makes hang fails as a
//    test (Killed) instead of running into Stryker's timeout, which kills and restarts the test runner process.
//    The per-test limit follows the dry-run time of the mutant's slowest covering test (testTimeout below), the
//    per-hook limit the dry-run time its covering test files spent outside their tests (hookTimeout below).
// 4. A mutant run stops at its first failed suite (a `before` hook that threw), as Vitest's bail stops it at its
//    first failed test (stopAtFailedSuite below): Stryker already counts such a run as a kill.
//
// The Vitest runner's class is not in its package's exports; it is loaded from its file (the import fails loudly
// if a later version moves it). ARCH_AMI_MUTANT_FRESH_THREADS=1 turns 1 off (to compare results: a thread per
// run, as Stryker's own runner). ARCH_AMI_MUTANT_PROFILE=<file> appends one line per mutant run: its time and,
// per test file, the file's time, the tests run and their time, and the cost the order used.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { INSTRUMENTER_CONSTANTS } from "@stryker-mutator/api/core";
import { MutantRunStatus, TestStatus } from "@stryker-mutator/api/test-runner";
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from "@stryker-mutator/api/plugin";
import { ThreadsPoolWorker } from "vitest/node";

const require = createRequire(import.meta.url);
const runnerDir = path.dirname(require.resolve("@stryker-mutator/vitest-runner/package.json"));
const { VitestTestRunner } = await import(pathToFileURL(path.join(runnerDir, "dist/src/vitest-test-runner.js")).href);
const { collectTestsFromSuite, convertTestToTestResult } = await import(pathToFileURL(path.join(runnerDir, "dist/src/vitest-helpers.js")).href);

/** The key on globalThis the sequencer reads: a Map from a test file's absolute path to its rank (lowest first). */
const FILE_RANK_KEY = "archAmiMutantFileRank";
/** A mutant run's per-test timeout: MUTANT_TEST_TIMEOUT_BASE + MUTANT_TEST_TIMEOUT_FACTOR × the slowest covering
 * test's dry-run time, at least MUTANT_TEST_TIMEOUT_MIN (testTimeout, below). */
const MUTANT_TEST_TIMEOUT_MIN = 3_000;
const MUTANT_TEST_TIMEOUT_BASE = 2_000;
const MUTANT_TEST_TIMEOUT_FACTOR = 3;
/** A mutant run's per-hook timeout: the same rule over the time its test files spent outside their tests in the dry
 * run (hookTimeout, below), at most MUTANT_HOOK_TIMEOUT_MAX. */
const MUTANT_HOOK_TIMEOUT_MAX = 15_000;
const POOL = "arch-ami-kept-threads";
const ENTRY = fileURLToPath(new URL("./kept-thread-entry.mjs", import.meta.url));

/** Threads whose last run was stopped cleanly, ready for the next run. */
const parked = [];
/** Settles when the last worker sent "stop" has been parked or terminated (Vitest does not wait for it:
 * chunks/cli-api.js Pool.schedule puts `runner.stop()` in `exitPromises`), so the next run can take its thread. */
let pendingStop = Promise.resolve();
/** A thread runs at most this many runs (Vitest's runtime keeps a little per run: rpc.js onCancelCallbacks,
 * init.js cleanupListeners), then a new one starts. */
const MAX_RUNS_PER_THREAD = 200;

/** The states a Vitest task ends in; a test in any other state (running, queued) has no verdict yet. */
const SETTLED = new Set(["pass", "fail", "skip", "todo"]);

/**
 * Whether Stryker already judges this run a kill: a settled test of these files that its Vitest runner reads as
 * failed, by its own conversion (vitest-helpers.js convertTestToTestResult: a failed test, or a test skipped
 * under a suite that failed, e.g. in its beforeAll; vitest-test-runner.js `run` reads every test with a result
 * and calls the run a kill when one is failed). A failed test stays failed and a failed suite stays failed, so
 * what is failed now is failed at the end of the run.
 */
function strykerSeesFailure(files) {
    return files
        .flatMap((file) => collectTestsFromSuite(file))
        .some((test) => SETTLED.has(test.result?.state) && convertTestToTestResult(test).status === TestStatus.Failed);
}

/**
 * The first suite (or file) that failed by itself, not through a test: a hook threw (an `after` hook, or a `before`
 * hook), or undefined. node:test, which runs the unit suite (`npm run test:unit`), reports such a suite "not ok"
 * and fails the run (an `after` hook that throws included); Stryker's Vitest runner reads only tests, and a
 * failed afterAll leaves every test passed (vitest-helpers.js convertTestToTestResult looks at a suite's failure
 * only for a skipped test), so a mutant whose only effect is that failure "survived" under Stryker while the
 * unit suite fails on it (local/vm.ts tearDown's `recursive: false`). "No test found in suite" is Vitest's own
 * verdict on an empty suite, not a hook's; "Hook timed out" is the limit of hookTimeout, which node:test does not
 * have (an after hook that is slow under load but ends is no failure there; a `before` hook's timeout already
 * fails its tests for Stryker).
 */
function failedSuite(files) {
    const walk = (suite) => {
        const error = suite.result?.state === "fail" ? suite.result.errors?.[0] : undefined;
        if (error && !/^(No test found in suite|Hook timed out in)/.test(error.message ?? "")) return suite;
        for (const t of suite.tasks ?? []) {
            const found = t.type === "test" ? undefined : walk(t);
            if (found) return found;
        }
        return undefined;
    };
    for (const file of files) {
        const found = walk(file);
        if (found) return found;
    }
    return undefined;
}

function takeParkedThread() {
    while (parked.length > 0) {
        const { thread, onExit } = parked.pop();
        thread.off("exit", onExit);
        if (thread.threadId !== -1) return thread;
    }
    return undefined;
}

/** Terminates the parked threads: the next run starts a new one. */
async function discardParkedThreads() {
    await pendingStop;
    await Promise.all(parked.splice(0).map(({ thread, onExit }) => (thread.off("exit", onExit), thread.terminate())));
}

/** Vitest's thread worker, except that a cleanly stopped thread is parked for the next run, not terminated. */
class KeptThreadsWorker extends ThreadsPoolWorker {
    name = POOL;
    /** Listeners added to the thread while this worker has it, removed when it is parked. */
    added = [];
    /** "stop" sent and "stopped" (without an error) received since the last "start": the runtime tore its run down. */
    stoppedCleanly = false;
    exited = false;
    settleStop = () => undefined;

    constructor(options) {
        super(options);
        this.entrypoint = ENTRY;
    }

    async start() {
        await pendingStop;
        if (!this._thread) {
            this._thread = takeParkedThread();
            this._thread?.ref();
        }
        await super.start();
        this.thread.archAmiRuns = (this.thread.archAmiRuns ?? 0) + 1;
        this.watch("message", (m) => {
            if (m?.__vitest_worker_response__ && m.type === "stopped" && !m.error) this.stoppedCleanly = true;
        });
        this.watch("exit", () => void (this.exited = true));
    }

    watch(event, listener) {
        this.thread.on(event, listener);
        this.added.push([event, listener]);
    }

    on(event, listener) {
        super.on(event, listener);
        this.added.push([event, listener]);
    }

    off(event, listener) {
        super.off(event, listener);
        this.added = this.added.filter(([e, l]) => e !== event || l !== listener);
    }

    send(message) {
        if (message?.type === "start") this.stoppedCleanly = false;
        if (message?.type === "stop") pendingStop = new Promise((resolve) => (this.settleStop = resolve));
        super.send(message);
    }

    async stop() {
        try {
            const thread = this._thread;
            if (!thread || this.exited || !this.stoppedCleanly || thread.archAmiRuns >= MAX_RUNS_PER_THREAD) return await super.stop();
            for (const [event, listener] of this.added) thread.off(event, listener);
            this.added = [];
            thread.stdout?.unpipe(this.stdout);
            this.stdout.setMaxListeners(this.stdout.getMaxListeners() - 1);
            thread.stderr?.unpipe(this.stderr);
            this.stderr.setMaxListeners(this.stderr.getMaxListeners() - 1);
            this._thread = undefined;
            thread.unref();
            const entry = { thread, onExit: () => parked.splice(parked.indexOf(entry) >>> 0, 1) };
            thread.on("exit", entry.onExit);
            parked.push(entry);
        } finally {
            this.settleStop();
        }
    }
}

/** The test file of a Stryker test id (`file#full name`), as an absolute path. */
const fileOf = (id) => path.resolve(id.slice(0, id.indexOf("#")));

/** The durations (ms) of the tests of a Vitest file task that ran in this run. */
function testsRun(file) {
    const ran = [];
    const walk = (suite) => {
        for (const t of suite.tasks ?? []) {
            if (t.type !== "test") walk(t);
            else if (t.result && t.mode === "run") ran.push(t.result.duration ?? 0);
        }
    };
    walk(file);
    return ran;
}

class MutantRunner extends VitestTestRunner {
    /** Dry-run time of each test, by Stryker test id. */
    testTime = new Map();
    /** Dry-run time of each file outside its tests (imports, hooks), by absolute path. */
    fileOverhead = new Map();
    /** Per mutated source file, per test file: how often the file ran tests for one of its mutants, and killed it. */
    record = new Map();

    /** In a mutant run (not the dry run). */
    inMutantRun = false;
    /** This mutant run was stopped by stopAtFailedSuite. */
    stoppedAtSuite = false;

    async init() {
        await super.init();
        this.ctx.reporters.push({ onTaskUpdate: (packs) => this.stopAtFailedSuite(packs) });
        // One cancel per run. The worker's bail asks for one (rpc onCancel -> Vitest.cancelCurrentRun) even when
        // stopAtFailedSuite already did, if a test fails before our cancel reaches the worker; a second
        // Pool.cancel while the first is under way is a forced one (cli-api.js: force = this._isCancelling),
        // which terminates the thread without its after hooks. The worker has stopped itself either way
        // (its runner's cancel() sets cancelRun before it asks).
        const cancel = this.ctx.cancelCurrentRun.bind(this.ctx);
        this.ctx.cancelCurrentRun = (reason) => (this.ctx.isCancelling ? Promise.resolve() : cancel(reason));
        // An error outside the tests (an unhandled rejection in the worker) reaches Vitest's state as the worker's
        // copy, an object without a prototype (@vitest/utils serializeValue: Object.create(null)); Stryker's runner
        // turns each into a string when no test failed (vitest-test-runner.js `run`, @stryker-mutator/util
        // errorToString: String(error)), which throws for such an object and crashed the runner process
        // (local/vm.ts:303 in a full run, twice, then a RuntimeError). Kept as an Error with the same fields.
        const errors = this.ctx.state.errorsSet;
        const add = errors.add.bind(errors);
        errors.add = (e) => add(e !== null && typeof e === "object" && Object.getPrototypeOf(e) === null ? Object.assign(new Error(String(e.message ?? "")), e) : e);
        if (process.env.ARCH_AMI_MUTANT_FRESH_THREADS === "1") return;
        for (const project of this.ctx.projects) {
            project.config.pool = POOL;
            project.config.poolRunner = { name: POOL, createPoolWorker: (options) => new KeptThreadsWorker(options) };
        }
    }

    /**
     * Stops a mutant run at a failed suite, as Vitest's bail stops it at a failed test. Stryker counts the tests a
     * failed `before` hook left unrun as failed (strykerSeesFailure), so such a run is already a kill; but Vitest
     * counts only failed tests for its bail (vitest index.*.js resolveTestRunner, onAfterRunTask: a test whose state
     * is "fail"; @vitest/runner runSuite marks the tests of a suite whose beforeAll threw as "skip"), so it went on
     * to the next files: one run of a full run spent 15 s in a hook that timed out, then 13 s in eleven more files.
     * A failed test is left to the bail, which asks for the cancel itself: a second cancel while the first is under
     * way is a forced one (vitest cli-api.js Pool.cancel), which stops the worker thread instead of parking it (and
     * init drops a second cancel of a run for the other order).
     */
    stopAtFailedSuite(packs) {
        if (!this.inMutantRun || this.ctx.isCancelling) return;
        const failed = packs.filter(([, result]) => result?.state === "fail").map(([id]) => this.ctx.state.idMap.get(id));
        if (!failed.some((task) => task && task.type !== "test")) return;
        const files = this.ctx.state.getFiles();
        if (files.flatMap((file) => collectTestsFromSuite(file)).some((test) => test.result?.state === "fail")) return;
        if (!strykerSeesFailure(files)) return;
        this.stoppedAtSuite = true;
        void this.ctx.cancelCurrentRun("test-failure");
    }

    async dryRun(options) {
        const result = await super.dryRun(options);
        if (result.status !== "complete") return result;
        const failed = failedSuite(this.ctx.state.getFiles());
        // A hook failing without a mutant would make every mutant its file's tests reach a kill (killedBySuite).
        if (failed) throw new Error(`arch-ami-vitest: the dry run's suite "${failed.name}" (${failed.file?.filepath}) failed outside its tests: ${failed.result.errors[0].message}`);
        const inFile = new Map();
        for (const t of result.tests) {
            this.testTime.set(t.id, t.timeSpentMs);
            inFile.set(fileOf(t.id), (inFile.get(fileOf(t.id)) ?? 0) + t.timeSpentMs);
        }
        for (const f of this.ctx.state.getFiles()) {
            const file = path.resolve(f.filepath);
            this.fileOverhead.set(file, Math.max(0, (f.result?.duration ?? 0) - (inFile.get(file) ?? 0)));
        }
        writeFileSync(this.dryRunFile(), JSON.stringify({ testTime: [...this.testTime], fileOverhead: [...this.fileOverhead] }));
        return result;
    }

    /**
     * Where the dry run's times are kept for the other runners. Stryker runs the dry run in one test runner process
     * and starts the others later (after the checkers, or after a timeout), each with an empty runner: they read the
     * times from the sandbox (Vitest's root), which they share.
     */
    dryRunFile() {
        return path.join(this.ctx.config.root, ".arch-ami-dry-run.json");
    }

    /** The dry run's times, from dryRunFile when this runner did not run it. Without them, orders and timeouts would be wrong: it throws. */
    ensureDryRunTimes() {
        if (this.testTime.size > 0) return;
        const file = this.dryRunFile();
        if (!existsSync(file)) throw new Error(`arch-ami-vitest: no dry-run times in ${file}; the dry run writes them`);
        const { testTime, fileOverhead } = JSON.parse(readFileSync(file, "utf8"));
        this.testTime = new Map(testTime);
        this.fileOverhead = new Map(fileOverhead);
    }

    /**
     * The order of this mutant's test files: lowest expected cost of finding a failure first. For files that
     * each fail with probability p at cost c, running them by c / p ascending minimises the expected time to the
     * first failure. c: the file's dry-run time around its tests plus its covering tests' time. p: from the
     * mutants of the same source file this runner has run so far, (kills + 1) / (runs + 2) (nothing known: 1/2).
     */
    order(options) {
        const cost = new Map();
        for (const id of options.testFilter ?? []) {
            const file = fileOf(id);
            cost.set(file, (cost.get(file) ?? this.fileOverhead.get(file) ?? 0) + (this.testTime.get(id) ?? 0));
        }
        const seen = this.record.get(options.sandboxFileName);
        const rank = new Map();
        for (const [file, c] of cost) {
            const { ran = 0, killed = 0 } = seen?.get(file) ?? {};
            rank.set(file, (c + 1) / ((killed + 1) / (ran + 2)));
        }
        return rank;
    }

    /**
     * The per-test timeout of this mutant's run. A test the mutant makes wait for something that never comes fails
     * when it runs out (Killed, "Test timed out"): 93 of the 3059 killed mutants of a full run, which cost 823 s
     * of runner time at a flat 8 s. So the limit follows the covering tests: 2 s plus three times the slowest one's
     * dry-run time (measured with the checkers running, so already slower than on a quiet machine; every test when
     * the run has no filter), never under 3 s. The slowest test of the suite, 1.4 s on a quiet machine, gets over
     * 6 s.
     */
    testTimeout(options) {
        const ids = options.testFilter ?? [...this.testTime.keys()];
        const slowest = Math.max(0, ...ids.map((id) => this.testTime.get(id) ?? 0));
        return Math.max(MUTANT_TEST_TIMEOUT_MIN, Math.round(MUTANT_TEST_TIMEOUT_BASE + MUTANT_TEST_TIMEOUT_FACTOR * slowest));
    }

    /**
     * The per-hook timeout of this mutant's run, by the rule of testTimeout over what its covering test files
     * spent outside their tests in the dry run (imports and every before/after hook: a bound on any one hook), at
     * most 15 s. A file's `before` hook runs the component program its tests assert on, and a mutant that keeps
     * one of the program's outputs from resolving makes it wait until this limit: at a flat 15 s, five runs of a
     * full run (2026-12-03) each waited 15 s in one hook (copies, registration, localVm tests).
     */
    hookTimeout(options) {
        const files = options.testFilter ? new Set(options.testFilter.map(fileOf)) : new Set(this.fileOverhead.keys());
        const slowest = Math.max(0, ...[...files].map((f) => this.fileOverhead.get(f) ?? 0));
        return Math.min(MUTANT_HOOK_TIMEOUT_MAX, Math.max(MUTANT_TEST_TIMEOUT_MIN, Math.round(MUTANT_TEST_TIMEOUT_BASE + MUTANT_TEST_TIMEOUT_FACTOR * slowest)));
    }

    /**
     * A run Stryker's Vitest runner calls survived (or an error outside the tests), in which a suite failed by
     * itself (failedSuite), as node:test sees it: killed, by the tests of that suite that ran.
     */
    killedBySuite(result, options) {
        // "error": something failed outside the tests and no test failed (vitest-test-runner.js `run`); node:test
        // fails the run for that too.
        if (result.status !== MutantRunStatus.Survived && result.status !== MutantRunStatus.Error) return result;
        const suite = failedSuite(this.ctx.state.getFiles());
        if (!suite) return result;
        const ran = collectTestsFromSuite(suite).filter((t) => t.result).map((t) => convertTestToTestResult(t).id);
        // A file that failed while loading has no tests: its covering tests are the killers.
        const file = path.resolve(suite.file?.filepath ?? suite.filepath ?? "");
        const killedBy = ran.length > 0 ? ran : (options.testFilter ?? []).filter((id) => fileOf(id) === file);
        return { status: MutantRunStatus.Killed, killedBy, failureMessage: `${suite.name} failed outside its tests: ${suite.result.errors[0].message}`, nrOfTests: result.nrOfTests };
    }

    learn(options, result) {
        const seen = this.record.get(options.sandboxFileName) ?? new Map();
        this.record.set(options.sandboxFileName, seen);
        const killers = new Set((result.killedBy ?? []).map(fileOf));
        for (const f of this.ctx.state.getFiles()) {
            const file = path.resolve(f.filepath);
            if (testsRun(f).length === 0 && !killers.has(file)) continue;
            const r = seen.get(file) ?? { ran: 0, killed: 0 };
            r.ran += 1;
            if (killers.has(file) && result.status === "killed") r.killed += 1;
            seen.set(file, r);
        }
    }

    async mutantRun(options) {
        this.ensureDryRunTimes();
        const testTimeout = this.testTimeout(options);
        const hookTimeout = this.hookTimeout(options);
        for (const project of this.ctx.projects) {
            project.config.testTimeout = testTimeout;
            project.config.hookTimeout = hookTimeout;
        }
        const rank = this.order(options);
        globalThis[FILE_RANK_KEY] = rank;
        const started = performance.now();
        let result;
        this.inMutantRun = true;
        this.stoppedAtSuite = false;
        try {
            result = this.killedBySuite(await super.mutantRun(options), options);
            return result;
        } finally {
            this.inMutantRun = false;
            delete globalThis[FILE_RANK_KEY];
            // A run in which a test timed out, or something failed outside a test, may have left work running:
            // its thread is not reused.
            if (!result || result.status === "error" || /timed out/i.test(result.failureMessage ?? "")) await discardParkedThreads();
            if (result) this.learn(options, result);
            if (process.env.ARCH_AMI_MUTANT_PROFILE) this.profile(options, performance.now() - started, rank, result, testTimeout, hookTimeout);
        }
    }

    profile(options, ms, rank, result, testTimeout, hookTimeout) {
        const files = this.ctx.state.getFiles().map((f) => {
            const ran = testsRun(f);
            const r = Math.round;
            return [path.basename(f.filepath), r(f.result?.duration ?? 0), ran.length, r(ran.reduce((a, b) => a + b, 0)), r(rank.get(path.resolve(f.filepath)) ?? -1)];
        });
        appendFileSync(process.env.ARCH_AMI_MUTANT_PROFILE, JSON.stringify({ mutant: options.activeMutant.id, ms: Math.round(ms), status: result?.status, testTimeout, hookTimeout, timeout: Math.round(options.timeout), stoppedAtSuite: this.stoppedAtSuite, files }) + "\n");
    }
}

function createRunner(injector) {
    return injector.provideValue("globalNamespace", INSTRUMENTER_CONSTANTS.NAMESPACE).injectClass(MutantRunner);
}
createRunner.inject = tokens(commonTokens.injector);

export const strykerPlugins = [declareFactoryPlugin(PluginKind.TestRunner, "arch-ami-vitest", createRunner)];
