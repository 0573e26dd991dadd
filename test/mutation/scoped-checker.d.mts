// Types of scoped-checker.mjs for the TypeScript tests (test/unit/mutationScope.test.ts).
/** For each TypeScript file of `files` (absolute POSIX paths to their text), the files that import it, directly or through others, itself included. */
export function importersOf(files: Map<string, string>): Map<string, string[]>;
