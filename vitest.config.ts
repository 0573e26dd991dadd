// Vitest runs the unit suite for mutation testing only (`npm run mutate`, stryker.config.json); `npm run
// test:unit` runs the same files under node:test. `node:test` is mapped onto Vitest by test/mutation/node-test-shim.ts.
import * as path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
    resolve: { alias: { "node:test": path.resolve(__dirname, "test/mutation/node-test-shim.ts") } },
    test: {
        include: ["test/unit/*.test.ts"],
        exclude: ["test/unit/{cli,package,build-tarball,release-pins,examples,args,schema,determinism,lifecycle}.test.ts"],
        // One worker for every file, each file's own modules and Pulumi state restored by the setup file.
        isolate: false,
        setupFiles: ["test/mutation/vitest-setup.ts"],
        testTimeout: 120_000,
        hookTimeout: 120_000,
    },
});
