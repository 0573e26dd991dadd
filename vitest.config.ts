// Vitest runs the unit suite for mutation testing only (`npm run mutate`, stryker.config.json); `npm run
// test:unit` runs the same files under node:test. `node:test` is mapped onto Vitest by test/mutation/node-test-shim.ts.
import * as path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Shortest file first. Vitest's own order runs the longest first (vitest BaseSequencer.sort: "run longer
 * first", for parallel workers); a mutant run has one worker and stops at the first failure (Stryker's bail),
 * so the cheaper files that can kill a mutant run before the costly ones.
 */
class ShortestFirst extends BaseSequencer {
    override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
        const cache = this.ctx.cache;
        const cost = (f: TestSpecification) => {
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
        exclude: ["test/unit/{cli,package,build-tarball,release-pins,examples,args,schema,determinism,lifecycle}.test.ts"],
        // One worker for every file, each file's own modules and Pulumi state restored by the setup file.
        isolate: false,
        setupFiles: ["test/mutation/vitest-setup.ts"],
        sequence: { sequencer: ShortestFirst },
        testTimeout: 120_000,
        hookTimeout: 120_000,
    },
});
