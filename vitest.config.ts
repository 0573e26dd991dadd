// Vitest runs the unit suite for mutation testing only (`npm run mutate`, stryker.config.json); `npm run
// test:unit` runs the same files under node:test. `node:test` is mapped onto Vitest by test/mutation/node-test-shim.ts.
import * as path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The order of the test files in a run. Vitest's own order runs the longest first (vitest BaseSequencer.sort:
 * "run longer first", for parallel workers); a mutant run has one worker and stops at the first failure
 * (Stryker's bail), so the files most likely to fail soonest should come first. In a mutant run
 * test/mutation/mutant-runner.mjs sets each file's rank for that mutant on globalThis (same process: the runner
 * creates this Vitest): its cost for the mutant's covering tests over the chance it fails, lowest first.
 * Otherwise the shortest file (last recorded duration) comes first.
 */
class MutantOrder extends BaseSequencer {
    override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
        const forMutant = (globalThis as { archAmiMutantFileRank?: Map<string, number> }).archAmiMutantFileRank;
        const cache = this.ctx.cache;
        const cost = (f: TestSpecification) => {
            const mutantRank = forMutant?.get(path.resolve(f.moduleId));
            if (mutantRank !== undefined) return mutantRank;
            const key = `${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`;
            return cache.getFileTestResults(key)?.duration ?? cache.getFileStats(key)?.size ?? 0;
        };
        return Promise.resolve([...files].sort((a, b) => cost(a) - cost(b)));
    }
}

export default defineConfig({
    resolve: { alias: { "node:test": path.resolve(__dirname, "test/mutation/node-test-shim.ts") } },
    test: {
        include: ["test/unit/*.test.ts"],
        // The test:slow files (package.json), and mutationScope, which tests the mutation run's own checker.
        exclude: ["test/unit/{cli,package,build-tarball,release-pins,examples,args,schema,determinism,lifecycle,mutationScope}.test.ts"],
        // One worker for every file, each file's own modules and Pulumi state restored by the setup file.
        isolate: false,
        setupFiles: ["test/mutation/vitest-setup.ts"],
        sequence: { sequencer: MutantOrder },
        testTimeout: 120_000,
        hookTimeout: 120_000,
    },
});
