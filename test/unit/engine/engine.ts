// The Pulumi engine's step generation and execution, applied to the registrations of a real program run
// (under mocks, in its own process: test/unit/dump-program.ts) against the state a previous run left.
// Every decision cites the function of pulumi/pulumi (pkg/resource/deploy/) or of the provider that makes it.
import * as fs from "node:fs";
import { COMMAND_RERUNS_ON_UPDATE, AUTONAMED, FORCE_NEW, OPTIONAL_NOT_COMPUTED, bridgeIgnores, engineIgnore, pathString, providerKind, underPattern, type Segment } from "./rules";
import { Failure, Obj, ProviderError, WorldState, create, read, remove, unwrapDeep, update } from "./world";

export interface StateResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    id: string;
    inputs: Obj;
    outputs: Obj;
    parent?: string;
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    ignoreChanges: string[];
    retainOnDelete: boolean;
    /** Pending delete: the old half of a create-before-delete replacement not yet deleted. */
    delete?: boolean;
}

export interface Checkpoint {
    resources: StateResource[];
    /** Stack outputs. */
    outputs: Obj;
    world: WorldState;
}

export type Op = "same" | "create" | "update" | "create-replacement" | "delete-replaced" | "delete" | "refresh";

export interface Step {
    seq: number;
    op: Op;
    urn: string;
    type: string;
    name: string;
    /** "register": while the program runs; "delete": the delete phase after it (deployment_executor.go performPostSteps). */
    phase: "register" | "delete";
    /** Index of the delete antichain (ScheduleDeletes), in execution order. */
    antichain?: number;
    /** Property paths that differ after ignoreChanges (provider + engine view). */
    diffs?: string[];
    replaceKeys?: string[];
    deleteBeforeReplace?: boolean;
    /** The provider's Delete was not called (retainOnDelete). */
    retained?: boolean;
    failed?: string;
    /** Engine URNs this step's resource depends on in this run (the program could not register it earlier). */
    deps: string[];
}

export interface Goal {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    inputs: Obj;
    parent?: string;
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    /** Tri-state: undefined lets the provider decide. */
    deleteBeforeReplace?: boolean;
    retainOnDelete: boolean;
}

/** Paths of the file assets in a value (dump-program.ts renders assets as `{kind, path, text}`). */
function fileAssets(v: unknown): string[] {
    const u = unwrapDeep(v);
    if (Array.isArray(u)) return u.flatMap(fileAssets);
    if (u && typeof u === "object") {
        const o = u as Obj;
        if (o.kind === "asset" && typeof o.path === "string") return [o.path];
        return Object.values(o).flatMap(fileAssets);
    }
    return [];
}

const same = (a: unknown, b: unknown) => JSON.stringify(unwrapDeep(a)) === JSON.stringify(unwrapDeep(b));

/** Leaf paths where `news` (config) and `olds` differ; arrays element-wise, objects key-wise. */
function differingPaths(news: unknown, olds: unknown, at: Segment[] = []): string[] {
    const n = unwrapDeep(news);
    const o = unwrapDeep(olds);
    if (Array.isArray(n) && Array.isArray(o) && n.length === o.length) return n.flatMap((x, i) => differingPaths(x, o[i], [...at, i]));
    if (n && o && typeof n === "object" && typeof o === "object" && !Array.isArray(n) && !Array.isArray(o) && at.length > 0) {
        // A nested block: Terraform compares the attributes the configuration sets (absent optional+computed
        // ones keep the state's value); OPTIONAL_NOT_COMPUTED adds the others.
        return Object.keys(n as Obj).flatMap((k) => differingPaths((n as Obj)[k], (o as Obj)[k], [...at, k]));
    }
    return same(n, o) ? [] : [pathString(at)];
}

/**
 * The provider's Diff.
 * - bridge (pulumi-terraform-bridge provider.go Diff): Terraform diffs the configuration (the engine's
 *   substituted inputs) against the STATE (old outputs, i.e. what Read stored); attributes the program leaves
 *   unset differ only when Optional and not Computed; ignoreChanges paths are dropped as exact strings
 *   (rules.ts bridgeIgnores); replace when a ForceNew attribute differs; delete-before-replace for an
 *   explicitly set auto-named `name` (nameRequiresDeleteBeforeReplace).
 * - pulumi-command (infer): inputs against the old inputs held in state; any change updates, `triggers`
 *   replace (replaceOnChanges in the resource's schema, also sent by the SDK as the option).
 */
function providerDiff(g: Goal, inputs: Obj, old: StateResource): { diffs: string[]; replaceKeys: string[]; dbr: boolean } {
    const kind = providerKind(g.type);
    if (kind === "command") {
        const keys = new Set([...Object.keys(inputs), ...Object.keys(old.inputs)]);
        const diffs = [...keys].filter((k) => !same(inputs[k], old.inputs[k]));
        return { diffs, replaceKeys: diffs.filter((k) => k === "triggers"), dbr: false };
    }
    const top = Object.keys(inputs).flatMap((k) => differingPaths(inputs[k], old.outputs[k], [k]));
    const unset: string[] = [];
    for (const pattern of OPTIONAL_NOT_COMPUTED[g.type] ?? []) {
        for (const p of concretePaths(old.outputs, pattern)) {
            // terraform-plugin-sdk helper/schema/schema.go diffString: an unset attribute is compared as the
            // type's zero value (`if nraw == nil && o != nil { nraw = schema.Type.Zero() }`): a state of
            // false/0/"" is no diff, anything else is a removal (NewRemoved), which is ForceNew here.
            const v = valueAt(old.outputs, p);
            if (valueAt(inputs, p) === undefined && v !== undefined && v !== false && v !== 0 && v !== "") unset.push(p);
        }
    }
    const diffs = [...new Set([...top, ...unset])].filter((p) => !bridgeIgnores(p, g.ignoreChanges));
    const forceNew = FORCE_NEW[g.type]?.paths ?? [];
    const replaceKeys = diffs.filter((p) => forceNew.some((f) => underPattern(p, f)));
    const named = AUTONAMED[g.type];
    const dbr = replaceKeys.length > 0 && named !== undefined && inputs[named] !== undefined;
    return { diffs, replaceKeys, dbr };
}

function concretePaths(v: unknown, pattern: string): string[] {
    const segs = pattern.split(/\.|(?=\[)/);
    let acc: { path: string; v: unknown }[] = [{ path: "", v: unwrapDeep(v) }];
    for (const s of segs) {
        acc = acc.flatMap(({ path, v: x }) => {
            if (s === "[]") return Array.isArray(x) ? x.map((e, i) => ({ path: `${path}[${i}]`, v: e })) : [];
            const key = s.replace(/\[\]$/, "");
            const child = x && typeof x === "object" ? (x as Obj)[key] : undefined;
            const p = path ? `${path}.${key}` : key;
            if (s.endsWith("[]")) return Array.isArray(child) ? child.map((e, i) => ({ path: `${p}[${i}]`, v: e })) : [];
            return [{ path: p, v: child }];
        });
    }
    return acc.filter((a) => a.v !== undefined).map((a) => a.path);
}

function valueAt(v: unknown, path: string): unknown {
    let x = unwrapDeep(v);
    for (const s of path.split(/\.|\[|\]/).filter(Boolean)) {
        if (!x || typeof x !== "object") return undefined;
        x = (x as Obj)[/^\d+$/.test(s) && Array.isArray(x) ? Number(s) : s];
    }
    return x;
}

export class Deployment {
    readonly steps: Step[] = [];
    readonly state: StateResource[];
    private readonly olds: Map<string, StateResource>;
    private readonly seen = new Set<string>();
    private readonly deleted = new Set<StateResource>();
    /** Set by the first failed step: the step executor cancels the deployment (step_executor.go cancelDueToError). */
    failure?: string;
    private seq = 0;

    constructor(
        prior: Checkpoint | undefined,
        readonly world: WorldState,
        private readonly failures: Failure[],
        private readonly replaceTargets: string[] = [],
    ) {
        this.state = (prior?.resources ?? []).map((r) => structuredClone(r));
        this.olds = new Map(this.state.filter((r) => !r.delete).map((r) => [r.urn, r]));
    }

    private record(s: Omit<Step, "seq">): Step {
        const step = { seq: ++this.seq, ...s };
        this.steps.push(step);
        return step;
    }

    /**
     * One RegisterResource (step_generator.go GenerateSteps -> generateSteps -> continueStepsFromDiff),
     * executed at once (the program waits for the response before it registers anything that uses it).
     * Returns what the program receives.
     */
    register(g: Goal, mock: { id: string; state: Obj }): { id: string; outputs: Obj } {
        const deps = [...new Set([...g.dependencies, ...Object.values(g.propertyDependencies).flat(), ...(g.parent ? [g.parent] : [])])];
        if (this.failure) throw new ProviderError(`not run: the deployment was cancelled after ${this.failure}`);
        this.seen.add(g.urn);
        const old = this.olds.get(g.urn);
        const base = { urn: g.urn, type: g.type, name: g.name, phase: "register" as const, deps };
        // The engine reads every file asset the program sends, ignored or not: source_eval.go
        // resmon.RegisterResource unmarshals the inputs with `ComputeAssetHashes: true`
        // (sdk/go/common/resource/plugin/rpc.go: asset.EnsureHash -> "failed to compute asset hash").
        const missing = fileAssets(g.inputs).find((p) => !fs.existsSync(p));
        if (missing !== undefined) this.fail({ ...base, op: old ? "update" : "create" }, new ProviderError(`failed to compute asset hash: open ${missing}: no such file or directory`));
        const keep = (id: string, outputs: Obj, inputs: Obj): StateResource => ({
            urn: g.urn, type: g.type, name: g.name, custom: g.custom, id, inputs, outputs, parent: g.parent,
            dependencies: g.dependencies, propertyDependencies: g.propertyDependencies, ignoreChanges: g.ignoreChanges, retainOnDelete: g.retainOnDelete,
        });
        if (!g.custom) {
            // Components have no provider: created once, then "same".
            this.record({ ...base, op: old ? "same" : "create" });
            this.put(keep("", {}, g.inputs), old);
            return { id: "", outputs: {} };
        }
        if (!old) return this.createNew(g, base, keep, mock);

        // processIgnoreChanges: old inputs substituted for ignored paths (rules.ts engineIgnore).
        const inputs = engineIgnore(g.inputs, old.inputs, g.ignoreChanges);
        const d = providerDiff(g, inputs, old);
        // applyReplaceOnChanges: a changed path under a replaceOnChanges path replaces.
        const roc = d.diffs.filter((p) => g.replaceOnChanges.some((r) => underPattern(p, r)));
        // `pulumi up --replace <urn>`: replaced whatever the diff says (step_generator.go isTargetedReplace).
        const targeted = this.replaceTargets.includes(g.urn) ? ["(--replace)"] : [];
        const replaceKeys = [...new Set([...d.replaceKeys, ...roc, ...targeted])];
        if (d.diffs.length === 0 && targeted.length === 0) {
            // SameStep: old outputs, new (substituted) inputs.
            this.record({ ...base, op: "same" });
            this.put({ ...keep(old.id, old.outputs, inputs) }, old);
            return { id: old.id, outputs: old.outputs };
        }
        if (replaceKeys.length === 0) {
            try {
                const outputs = update(this.world, g.urn, g.type, g.name, old.id, inputs, old.outputs, this.failures);
                this.record({ ...base, op: "update", diffs: d.diffs });
                this.put(keep(old.id, outputs, inputs), old);
                return { id: old.id, outputs };
            } catch (e) {
                this.fail({ ...base, op: "update", diffs: d.diffs }, e);
            }
        }
        // Replacement: "The user can override the provider's decision by setting the `deleteBeforeReplace`
        // field ... to either true or false" (continueStepsFromDiff: `if goal.DeleteBeforeReplace != nil`).
        const dbr = g.deleteBeforeReplace ?? d.dbr;
        if (dbr) {
            // Delete first, and before it every dependent that would be replaced too, in reverse dependency
            // order (calculateDependentReplacements).
            for (const dep of this.dependentReplacements(old).reverse()) this.deleteNow(dep, "delete-replaced", base.deps);
            this.deleteNow(old, "delete-replaced", base.deps);
        }
        try {
            const made = create(this.world, g.urn, g.type, g.name, inputs, mock, this.failures);
            this.record({ ...base, op: "create-replacement", diffs: d.diffs, replaceKeys, deleteBeforeReplace: dbr });
            if (!dbr) old.delete = true; // CreateReplacementStep marks the old one pending delete (step.go)
            this.state.push(keep(made.id, made.outputs, inputs));
            return made;
        } catch (e) {
            this.fail({ ...base, op: "create-replacement", diffs: d.diffs, replaceKeys, deleteBeforeReplace: dbr }, e);
        }
    }

    private createNew(g: Goal, base: Omit<Step, "seq" | "op">, keep: (id: string, o: Obj, i: Obj) => StateResource, mock: { id: string; state: Obj }): { id: string; outputs: Obj } {
        try {
            const made = create(this.world, g.urn, g.type, g.name, g.inputs, mock, this.failures);
            this.record({ ...base, op: "create" });
            this.state.push(keep(made.id, made.outputs, g.inputs));
            return made;
        } catch (e) {
            // step.go CreateStep.Apply: a failed create (not a partial failure) leaves nothing in state.
            this.fail({ ...base, op: "create" }, e);
        }
    }

    private fail(s: Omit<Step, "seq">, e: unknown): never {
        const msg = e instanceof Error ? e.message : String(e);
        this.record({ ...s, failed: msg });
        this.failure ??= `${s.op} of ${s.name}: ${msg}`;
        throw e;
    }

    private put(r: StateResource, old?: StateResource): void {
        const i = old ? this.state.indexOf(old) : -1;
        if (i >= 0) this.state[i] = r;
        else this.state.push(r);
    }

    private deleteNow(r: StateResource, op: Op, deps: string[]): void {
        if (this.deleted.has(r)) return;
        this.deleted.add(r);
        if (!r.retainOnDelete && r.custom) remove(this.world, r.urn, r.type, r.id, r.inputs);
        this.record({ urn: r.urn, type: r.type, name: r.name, phase: "register", op, retained: r.retainOnDelete, deps });
        this.state.splice(this.state.indexOf(r), 1);
    }

    /**
     * calculateDependentReplacements: resources depending on the replaced one whose provider Diff, with the
     * dependency's outputs unknown, requires replacement: a property fed by a condemned resource that is
     * ForceNew (or replaceOnChanges/triggers), transitively. Returned in dependency order.
     */
    private dependentReplacements(root: StateResource): StateResource[] {
        const condemned = new Set([root.urn]);
        const out: StateResource[] = [];
        for (const r of this.state) {
            if (r === root || r.delete) continue;
            const keys = Object.entries(r.propertyDependencies).filter(([, urns]) => urns.some((u) => condemned.has(u))).map(([k]) => k);
            const forceNew = FORCE_NEW[r.type]?.paths ?? [];
            if (keys.some((k) => forceNew.some((f) => underPattern(k, f)) || k === "triggers")) {
                condemned.add(r.urn);
                out.push(r);
            }
        }
        return out;
    }

    /**
     * After the program: deletes of every old resource not registered and of pending deletes
     * (step_generator.go GenerateDeletes), scheduled in antichains so that nothing is deleted before what
     * depends on it (ScheduleDeletes: dependencies and parent, reversed). Only reached when no step failed
     * (deployment_executor.go: a cancelled deployment returns before performPostSteps).
     */
    finish(): void {
        if (this.failure) return;
        const condemned = this.state.filter((r) => (r.delete || !this.seen.has(r.urn)) && !this.deleted.has(r));
        const byUrn = (urn: string) => condemned.filter((c) => c.urn === urn);
        const dependsOn = (r: StateResource) => new Set([...r.dependencies, ...Object.values(r.propertyDependencies).flat(), ...(r.parent ? [r.parent] : [])]);
        const left = new Set(condemned);
        const chains: StateResource[][] = [];
        while (left.size) {
            const chain = [...left].filter((r) => ![...dependsOn(r)].some((u) => byUrn(u).some((c) => c !== r && left.has(c))));
            if (!chain.length) throw new Error("cycle in the delete graph");
            for (const r of chain) left.delete(r);
            chains.push(chain);
        }
        chains.reverse();
        chains.forEach((chain, n) => {
            for (const r of chain.sort((a, b) => a.urn.localeCompare(b.urn))) {
                if (!r.retainOnDelete && r.custom) remove(this.world, r.urn, r.type, r.id, r.inputs);
                this.record({ urn: r.urn, type: r.type, name: r.name, phase: "delete", antichain: n, op: "delete", retained: r.retainOnDelete, deps: [] });
                this.state.splice(this.state.indexOf(r), 1);
            }
        });
    }
}

/**
 * `pulumi refresh`: each resource's Read (world.ts read); gone -> dropped from state (step.go RefreshStep.Apply:
 * "If the ID is blank treat this as a delete"); for bridged resources the stored inputs take the read-back
 * value only for keys that already exist in them (pulumi-terraform-bridge schema.go ExtractInputsFromOutputs:
 * "If this is a refresh, only extract new values for inputs that are already present" -> extractInputsObject).
 */
export function refresh(c: Checkpoint): { checkpoint: Checkpoint; steps: Step[] } {
    const next = structuredClone(c);
    const steps: Step[] = [];
    next.resources = next.resources.filter((r) => {
        if (!r.custom) return true;
        const outputs = read(next.world, r.type, r.id, r.outputs);
        steps.push({ seq: steps.length + 1, op: outputs ? "refresh" : "delete", urn: r.urn, type: r.type, name: r.name, phase: "register", deps: [] });
        if (!outputs) return false;
        r.outputs = outputs;
        if (providerKind(r.type) === "bridge") r.inputs = extractInputs(r.inputs, outputs) as Obj;
        return true;
    });
    return { checkpoint: next, steps };
}

/** schema.go extractInputs (refresh): old input keys kept, each taking the read-back value; missing keys dropped. */
function extractInputs(oldInput: unknown, state: unknown): unknown {
    if (Array.isArray(oldInput) && Array.isArray(state)) return oldInput.slice(0, state.length).map((x, i) => extractInputs(x, state[i]));
    const o = unwrapDeep(oldInput);
    if (o && typeof o === "object" && !Array.isArray(o) && state && typeof state === "object" && !Array.isArray(state)) {
        const out: Obj = {};
        for (const k of Object.keys(o as Obj)) if (k in (state as Obj)) out[k] = extractInputs((oldInput as Obj)[k] ?? (o as Obj)[k], (state as Obj)[k]);
        return out;
    }
    return state;
}

export { COMMAND_RERUNS_ON_UPDATE };
