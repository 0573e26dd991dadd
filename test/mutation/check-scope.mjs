// node test/mutation/check-scope.mjs REPORT.json [FILE…]: the oracle of test/mutation/scoped-checker.mjs. REPORT is the JSON
// report of a run with Stryker's own checker ("checkers": ["typescript"], native preview), which reads the
// diagnostics of every file for each mutant. Each of its mutants is checked again here with ScopedCompiler, and
// its verdict (compile error or not) and its errors (file, line, column, code, text) must be the report's: a
// mutant that compiled there must compile here, a CompileError must have the same errors. Exit 1 on any difference.
// The report's source of each file must be the file as it is now. FILE…: only the mutants of those files.
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { ScopedCompiler } from "./scoped-checker.mjs";

const require = createRequire(import.meta.url);
const checkerDir = path.dirname(require.resolve("@stryker-mutator/typescript-checker/package.json"));
const { NativeFileSystem } = await import(pathToFileURL(path.join(checkerDir, "dist/src/ts-native/native-file-system.js")).href);
const { formatDiagnostics } = await import(pathToFileURL(path.join(checkerDir, "dist/src/ts-native/native-diagnostic.js")).href);

const report = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const quiet = { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, isTraceEnabled: () => false, isDebugEnabled: () => false };
const compiler = new ScopedCompiler(quiet, { tsconfigFile: "tsconfig.mutate.json" }, new NativeFileSystem(quiet));
const initial = await compiler.init();
if (initial.length) throw new Error(`the project does not compile: ${formatDiagnostics(initial)}`);

const lines = (reason) => (reason ?? "").split("\n").filter(Boolean).sort();
let checked = 0;
let errors = 0;
const differences = [];
const started = performance.now();
const only = process.argv.slice(3);
for (const [file, { source, mutants }] of Object.entries(report.files)) {
    if (only.length && !only.includes(file)) continue;
    if (fs.readFileSync(file, "utf8") !== source) throw new Error(`${file} changed since the report was written; run the full check again`);
    for (const m of mutants) {
        if (m.status === "Ignored" || m.status === "Pending") continue;
        const loc = (p) => ({ line: p.line - 1, column: p.column - 1 });
        const found = await compiler.check([{ id: m.id, fileName: file, replacement: m.replacement, location: { start: loc(m.location.start), end: loc(m.location.end) } }]);
        checked += 1;
        const expected = m.status === "CompileError" ? lines(m.statusReason) : [];
        const got = lines(formatDiagnostics(found));
        if (expected.length) errors += 1;
        if (JSON.stringify(expected) !== JSON.stringify(got)) differences.push(`${file}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName} (${m.status})\n  full:   ${expected.join("\n          ") || "(compiles)"}\n  scoped: ${got.join("\n          ") || "(compiles)"}`);
    }
}
compiler.dispose();
console.log(`check-scope: ${checked} mutants (${errors} compile errors in the report) in ${((performance.now() - started) / 1000).toFixed(1)} s; ${differences.length} differ`);
for (const d of differences) console.log(d);
process.exit(differences.length ? 1 : 0);
