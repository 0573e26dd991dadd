// Runs before each test file (vitest.config.ts: setupFiles). The mutation run reuses one worker for every test
// file (isolate: false: Node's own module cache keeps @pulumi/aws and the other packages loaded, about 1 s per
// file and per mutant saved), so what node:test gives each file by running it in a process of its own is
// restored here: our modules evaluated afresh (vi.resetModules: every module but the externals), the Pulumi
// SDK's runtime state dropped (it lives on globalThis: @pulumi/pulumi runtime/state.ts, getStore() creates
// `global.globalStore` when absent, and setStackResource also sets `globalThis.stackResource`), and
// the environment as it was when the worker started.
import { vi } from "vitest";

const g = globalThis as unknown as { globalStore?: unknown; stackResource?: unknown; archAmiInitialEnv?: NodeJS.ProcessEnv };
g.archAmiInitialEnv ??= { ...process.env };
for (const k of Object.keys(process.env)) if (!(k in g.archAmiInitialEnv)) delete process.env[k];
Object.assign(process.env, g.archAmiInitialEnv);
delete g.globalStore;
delete g.stackResource;
vi.resetModules();
