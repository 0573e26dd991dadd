// Generates, from src/args.ts (types + TSDoc, whose last sentence is "Default: …" or "Required."):
//   - src/argSpec.ts: how the default program reads each argument from stack config, and the defaults
//     (a backticked literal right after "Default:" is the default; prose after it describes overrides);
//   - README.md's argument tables, between the "arguments:start/end" markers.
// Usage: tsx scripts/gen-args.ts [--check]   (--check: exit 1 when either file is stale; test/unit/args.test.ts)
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const repo = path.resolve(__dirname, "..");
const ARGS = path.join(repo, "src/args.ts");
const SPEC = path.join(repo, "src/argSpec.ts");
const README = path.join(repo, "README.md");
const START = "<!-- arguments:start (generated from src/args.ts by `npm run gen:args`; edit the TSDoc there) -->";
const END = "<!-- arguments:end -->";

/** How a value is read from stack config: plain text, a number, true/false, or JSON (lists and objects). */
export type Kind = "string" | "number" | "boolean" | "json";

export interface Property {
    name: string;
    /** The declared type as written, e.g. `string[]`, `FileArgs[]`, `pulumi.Input<string>`. */
    type: string;
    kind: Kind;
    optional: boolean;
    /** The TSDoc without its last sentence. */
    description: string;
    /** The text after "Default: " (without the final period); undefined for a required property. */
    defaultText?: string;
    /** The default as a value, when the default text starts with a backticked literal. */
    defaultValue?: string | number | boolean;
}

export interface Interface {
    name: string;
    properties: Property[];
}

function kindOf(checker: ts.TypeChecker, type: ts.Type): Kind {
    const t = checker.getNonNullableType(type);
    const members = t.isUnion() ? t.types : [t];
    const all = (flags: ts.TypeFlags) => members.every((m) => (m.flags & flags) !== 0);
    if (all(ts.TypeFlags.StringLike)) return "string";
    if (all(ts.TypeFlags.NumberLike)) return "number";
    if (all(ts.TypeFlags.BooleanLike)) return "boolean";
    // pulumi.Input<string>: string | Promise<string> | OutputInstance<string>.
    if (members.some((m) => (m.flags & ts.TypeFlags.String) !== 0)) return "string";
    return "json";
}

function literal(kind: Kind, raw: string, where: string): string | number | boolean {
    switch (kind) {
        case "string":
            return raw;
        case "number":
            if (!/^-?\d+(\.\d+)?$/.test(raw)) throw new Error(`${where}: default \`${raw}\` is not a number`);
            return Number(raw);
        case "boolean":
            if (raw !== "true" && raw !== "false") throw new Error(`${where}: default \`${raw}\` is not true or false`);
            return raw === "true";
        default:
            throw new Error(`${where}: a list or object default must be prose ("Default: none."), not \`${raw}\``);
    }
}

/** Every exported interface of src/args.ts with its documented properties. */
export function readArgs(file = ARGS): Interface[] {
    const program = ts.createProgram([file], { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS });
    const checker = program.getTypeChecker();
    const source = program.getSourceFile(file)!;
    const out: Interface[] = [];
    source.forEachChild((node) => {
        if (!ts.isInterfaceDeclaration(node)) return;
        const properties = node.members.filter(ts.isPropertySignature).map((m) => {
            const name = m.name.getText(source);
            const where = `${node.name.text}.${name}`;
            const symbol = checker.getSymbolAtLocation(m.name)!;
            const doc = ts.displayPartsToString(symbol.getDocumentationComment(checker)).replace(/\s+/g, " ").trim();
            const kind = kindOf(checker, checker.getTypeAtLocation(m));
            const optional = m.questionToken !== undefined;
            const d = /^(.*?)\s*(?:Default: (.+?)\.|(Required)\.)$/.exec(doc);
            if (!d) throw new Error(`${where}: its TSDoc must end with "Default: …." or "Required." (got: ${doc || "no TSDoc"})`);
            if (optional === (d[3] !== undefined)) throw new Error(`${where}: ${optional ? "optional, so it needs a Default" : "required, so it says Required."}`);
            const p: Property = { name, type: m.type!.getText(source), kind, optional, description: d[1], defaultText: d[2] };
            const lit = d[2] === undefined ? undefined : /^`([^`]*)`/.exec(d[2]);
            if (lit) p.defaultValue = literal(kind, lit[1], where);
            return p;
        });
        out.push({ name: node.name.text, properties });
    });
    return out;
}

const q = (v: unknown) => JSON.stringify(v);

export function renderSpec(ifaces: Interface[]): string {
    const main = ifaces.find((i) => i.name === "ArchAmiArgs")!;
    const defaults = (i: Interface) =>
        i.properties
            .filter((p) => p.defaultValue !== undefined)
            .map((p) => `    ${p.name}: ${q(p.defaultValue)},`)
            .join("\n");
    const nested = ifaces
        .filter((i) => i !== main && i.properties.some((p) => p.defaultValue !== undefined))
        .map((i) => `    ${i.name}: {\n${defaults(i).replace(/^/gm, "    ")}\n    },`)
        .join("\n");
    return `// Generated from src/args.ts by \`npm run gen:args\` (scripts/gen-args.ts). Do not edit: change the TSDoc there.
// test/unit/args.test.ts fails when this file or README.md's argument tables are stale.

/** How the default program reads each argument from stack config: text, number, true/false or JSON. */
export const ARGUMENT_KINDS = {
${main.properties.map((p) => `    ${p.name}: ${q(p.kind)},`).join("\n")}
} as const;

/** The constant defaults of \`ArchAmiArgs\` (the backticked value after "Default:" in each TSDoc). */
export const DEFAULTS = {
${defaults(main)}
} as const;

/** The constant defaults of the nested argument types. */
export const NESTED_DEFAULTS = {
${nested}
} as const;
`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

export function renderTables(ifaces: Interface[]): string {
    const table = (i: Interface) =>
        [
            "| argument | type | default | meaning |",
            "|---|---|---|---|",
            ...i.properties.map(
                (p) => `| \`${p.name}\` | \`${cell(p.type.replace(/^pulumi\.Input<(.*)>$/, "$1"))}\` | ${p.defaultText === undefined ? "required" : cell(p.defaultText)} | ${cell(p.description)} |`,
            ),
        ].join("\n");
    const main = ifaces.find((i) => i.name === "ArchAmiArgs")!;
    const others = ifaces.filter((i) => i !== main);
    return [
        START,
        table(main),
        "",
        ...others.flatMap((i) => [`\`${i.name}\`:`, "", table(i), ""]),
        END,
    ].join("\n");
}

export function renderReadme(readme: string, ifaces: Interface[]): string {
    const a = readme.indexOf("<!-- arguments:start");
    const b = readme.indexOf(END);
    if (a < 0 || b < a) throw new Error(`README.md lacks the markers ${START} … ${END}`);
    return readme.slice(0, a) + renderTables(ifaces) + readme.slice(b + END.length);
}

function main(): void {
    const check = process.argv.includes("--check");
    const ifaces = readArgs();
    const wanted: [string, string][] = [
        [SPEC, renderSpec(ifaces)],
        [README, renderReadme(fs.readFileSync(README, "utf8"), ifaces)],
    ];
    let stale = 0;
    for (const [file, text] of wanted) {
        if (fs.readFileSync(file, "utf8") === text) continue;
        stale++;
        if (check) console.error(`${path.relative(repo, file)} is stale: run npm run gen:args`);
        else fs.writeFileSync(file, text);
    }
    if (check && stale) process.exit(1);
}

if (require.main === module) main();
