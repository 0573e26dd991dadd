// Stryker's TypeScript checker with the native compiler (@stryker-mutator/typescript-checker 10,
// "experimentalNativePreview"), asking for fewer diagnostics per mutant. The native checker checks each mutant alone
// (ts-native/native-typescript-checker.js `group`: one mutant per group) and, for each, reads the syntactic and
// semantic diagnostics of every file of the project (ts-native/native-typescript-compiler.js `checkSnapshot`:
// `getSemanticDiagnostics()` without a file). A mutant changes one file, F. A module's diagnostics depend on its
// own text and on what it imports, and through those on what they import; src/ has no global declarations (no
// `declare global`, every file a module: importersOf throws otherwise). So the files whose diagnostics a mutant can
// change are F and the files that import F, directly or through others, and only those are asked here (the
// config file's diagnostics too, as before). Same verdicts, same messages, for a third of the compiler's time on a
// file with few importers. test/mutation/check-scope.mjs compares every mutant's verdict with a full run's.
import { createRequire } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from "@stryker-mutator/api/plugin";

const require = createRequire(import.meta.url);
const checkerDir = path.dirname(require.resolve("@stryker-mutator/typescript-checker/package.json"));
/** A module of the checker's own (not in its package's exports: the import fails loudly if a later version moves it). */
const load = (file) => import(pathToFileURL(path.join(checkerDir, "dist/src", file)).href);
const { NativeTypescriptCompiler } = await load("ts-native/native-typescript-compiler.js");
const { NativeTypescriptChecker } = await load("ts-native/native-typescript-checker.js");
const { NativeFileSystem } = await load("ts-native/native-file-system.js");
const { diagnosticCategoryError, toNativeDiagnostic } = await load("ts-native/native-diagnostic.js");
const pluginTokens = await load("plugin-tokens.js");

/** The relative module specifiers of a TypeScript file: `from "./x"` (import, export … from), `import("./x")`, `require("./x")`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["'](\.{1,2}\/[^"']*)["']/g;

/**
 * For each TypeScript file of the project (`files`: absolute POSIX paths to their text), the files that import it directly or through
 * others, itself included. A relative specifier that resolves to no file of the project, or a file that declares
 * globals, throws: the scope would be wrong.
 */
export function importersOf(files) {
    const sources = [...files].filter(([f]) => f.endsWith(".ts"));
    const importedBy = new Map(sources.map(([f]) => [f, new Set()]));
    for (const [file, text] of sources) {
        if (/\bdeclare\s+global\b/.test(text)) throw new Error(`scoped-checker: ${file} declares globals; check every file instead`);
        for (const [, spec] of text.matchAll(SPECIFIER)) {
            const base = path.posix.resolve(path.posix.dirname(file), spec);
            const target = [base, `${base}.ts`, `${base}/index.ts`].find((f) => importedBy.has(f));
            if (target === undefined) throw new Error(`scoped-checker: ${file} imports "${spec}", no file of the project`);
            importedBy.get(target).add(file);
        }
    }
    const closure = new Map();
    for (const file of importedBy.keys()) {
        const seen = new Set([file]);
        for (const f of seen) for (const by of importedBy.get(f)) seen.add(by);
        closure.set(file, [...seen]);
    }
    return closure;
}

/** The native compiler of Stryker's checker, reading the diagnostics of the mutated files and their importers only. */
export class ScopedCompiler extends NativeTypescriptCompiler {
    /** The files to read diagnostics of for the mutants being checked, or undefined: all (the dry run). */
    scope = undefined;
    importers = undefined;

    async check(mutants) {
        this.importers ??= importersOf(this.fs.projectFiles);
        const scope = new Set();
        for (const m of mutants) {
            // Only a file of the project reaches here (native-typescript-checker.js checkSingle passes the others).
            const file = path.posix.resolve(m.fileName.replace(/\\/g, "/"));
            const closure = this.importers.get(file);
            if (closure === undefined) throw new Error(`scoped-checker: ${file} is not a TypeScript file of the project`);
            for (const f of closure) scope.add(f);
        }
        this.scope = scope;
        try {
            return await super.check(mutants);
        } finally {
            this.scope = undefined;
        }
    }

    checkSnapshot(changedFiles) {
        if (this.scope === undefined) return super.checkSnapshot(changedFiles);
        const snapshot = this.api.updateSnapshot({ openProject: this.tsconfigFile, fileChanges: changedFiles && { changed: changedFiles } });
        try {
            const diagnostics = [];
            for (const project of snapshot.getProjects()) {
                diagnostics.push(...project.program.getConfigFileParsingDiagnostics());
                for (const file of this.scope) diagnostics.push(...project.program.getSyntacticDiagnostics(file), ...project.program.getSemanticDiagnostics(file));
            }
            return diagnostics.filter((d) => d.category === diagnosticCategoryError).map((d) => toNativeDiagnostic(d, this.fs.getPositionConverter(d.fileName)));
        } finally {
            snapshot.dispose();
        }
    }
}

function create(injector) {
    return injector.provideClass(pluginTokens.fs, NativeFileSystem).provideClass(pluginTokens.tsCompiler, ScopedCompiler).injectClass(NativeTypescriptChecker);
}
create.inject = tokens(commonTokens.injector);

export const strykerPlugins = [declareFactoryPlugin(PluginKind.Checker, "arch-ami-typescript", create)];
