// Test side of the engine model: runs the default program as one `pulumi up` in its own process
// (dump-program.ts, engine mode) from a checkpoint, and answers questions about the steps it took and
// what consumers see afterwards. Nothing here knows the component's names or hashes: resources are found
// by type and by what AWS holds (world.ts).
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Checkpoint, Deployment, Step, StateResource, refresh } from "./engine";
import { unwrapDeep } from "./world";

const repo = path.resolve(__dirname, "../../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-engine-"));
let runs = 0;

export interface Up {
    steps: Step[];
    failure?: string;
    checkpoint: Checkpoint;
    /** The checkpoint this run started from. */
    before?: Checkpoint;
}

export interface UpOptions {
    config?: Record<string, string>;
    stack?: string;
    from?: Checkpoint;
    /** A new account with EBS encryption by default (only without `from`). */
    encryptionByDefault?: boolean;
    /** The image this run builds fails its verification. */
    brokenImages?: boolean;
    /** The machine running `pulumi up` (its own tarball cache folder); default "laptop". */
    machine?: string;
    /** `pulumi up --replace` these URNs. */
    replace?: string[];
    /** Run another version of the package (packageCopy). */
    programRoot?: string;
}

/** The tarball cache of a machine (build-tarball.sh writes there). */
export const machineDir = (machine: string) => path.join(work, `machine-${machine}`);

/**
 * A copy of the package (src/, program/, provision/) changed by `edit`: another release of arch-ami.
 * node_modules is shared, so the copy runs against the same SDK and mocks.
 */
export function packageCopy(edit: (root: string) => void): string {
    const root = fs.mkdtempSync(path.join(work, "pkg-"));
    for (const d of ["src", "program", "provision"]) fs.cpSync(path.join(repo, d), path.join(root, d), { recursive: true });
    for (const f of ["package.json", "tsconfig.json"]) fs.copyFileSync(path.join(repo, f), path.join(root, f));
    fs.symlinkSync(fs.realpathSync(path.join(repo, "node_modules")), path.join(root, "node_modules"));
    edit(root);
    return root;
}

/** At most this many program runs at once (2 cores, shared). */
let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(f: () => Promise<T>): Promise<T> {
    if (running >= 3) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
        return await f();
    } finally {
        running--;
        waiting.shift()?.();
    }
}

/** One `pulumi up` of the default program (program/index.ts) from `from`. */
export const up = (o: UpOptions): Promise<Up> => slot(() => runUp(o));

async function runUp(o: UpOptions): Promise<Up> {
    const n = ++runs;
    const input = path.join(work, `in-${n}.json`);
    const output = path.join(work, `out-${n}.json`);
    if (o.from) fs.writeFileSync(input, JSON.stringify(o.from));
    await promisify(execFile)(process.execPath, ["--import", pathToFileURL(path.join(repo, "node_modules/tsx/dist/loader.mjs")).href, path.join(repo, "test/unit/dump-program.ts")], {
        cwd: repo,
        maxBuffer: 64 << 20,
        env: {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(o.config ?? {}),
            ARCH_AMI_TEST_STACK: o.stack ?? "dev",
            ARCH_AMI_TEST_TARBALL_DIR: machineDir(o.machine ?? "laptop"),
            ARCH_AMI_TEST_REPLACE: JSON.stringify(o.replace ?? []),
            ARCH_AMI_TEST_PROGRAM_ROOT: o.programRoot ?? "",
            ARCH_AMI_TEST_ENGINE_IN: o.from ? input : "",
            ARCH_AMI_TEST_ENGINE_OUT: output,
            ARCH_AMI_TEST_EBS_DEFAULT_ENCRYPTION: o.encryptionByDefault ? "1" : "",
            ARCH_AMI_TEST_BROKEN_IMAGES: o.brokenImages ? "1" : "",
        },
    });
    const r = JSON.parse(fs.readFileSync(output, "utf8")) as Up;
    return { ...r, before: o.from };
}

/** `pulumi refresh`. */
export const refreshed = (c: Checkpoint) => refresh(c).checkpoint;

/** `pulumi destroy`: nothing registered, so every resource is deleted in the delete phase's order. */
export function destroy(c: Checkpoint): Up {
    const d = new Deployment(c, structuredClone(c.world), []);
    d.finish();
    return { steps: d.steps, checkpoint: { resources: d.state, outputs: {}, world: d.world }, before: c };
}

// --- questions about one run ---------------------------------------------------------------------------

export const ofType = (c: Checkpoint, type: string): StateResource[] => c.resources.filter((r) => r.type === type && !r.delete);
export const stepsOf = (u: Up, type: string, ...ops: Step["op"][]) => u.steps.filter((s) => s.type === type && (ops.length === 0 || ops.includes(s.op)));
/** Steps that change something (everything but "same"). */
export const changes = (u: Up) => u.steps.filter((s) => s.op !== "same");

/** Engine URN -> what it depends on in this run (dependencies, property dependencies, parent). */
function depGraph(u: Up): Map<string, string[]> {
    return new Map(u.steps.filter((s) => s.phase === "register").map((s) => [s.urn, s.deps]));
}

/**
 * `a` has completed before `b` starts: both during the program and `b` (transitively) depends on `a`'s
 * resource, or `b` is in the delete phase (after every create/update), or both are deletes in earlier
 * and later antichains (deployment_executor.go performPostSteps executes antichains one after another).
 */
export function before(u: Up, a: Step, b: Step): boolean {
    if (a.phase === "register" && b.phase === "delete") return !u.failure;
    if (a.phase === "delete" && b.phase === "delete") return (a.antichain ?? 0) < (b.antichain ?? 0);
    if (a.phase === "delete") return false;
    if (a.seq >= b.seq) return false;
    if (a.urn === b.urn) return true;
    const g = depGraph(u);
    const seen = new Set<string>();
    const stack = [b.urn];
    while (stack.length) {
        const x = stack.pop()!;
        for (const d of g.get(x) ?? []) {
            if (d === a.urn) return true;
            if (!seen.has(d)) {
                seen.add(d);
                stack.push(d);
            }
        }
    }
    return false;
}

/** The AMI id an SSM parameter names now, as GetParameter returns it once validation completed. */
export function ssmValue(c: Checkpoint, name: string, region = "home"): string | undefined {
    const p = c.world.parameters[`${region}:${name}`];
    return p ? p.versions[p.versions.length - 1] : undefined;
}

export const alive = (c: Checkpoint, id: string) => {
    const o = c.world.objects[id];
    return !!o && o.state !== "deleted" && o.state !== "terminated";
};

/** Instances launched from this AMI (the test instance of its verification). */
export const instancesFrom = (c: Checkpoint, amiId: string) => Object.values(c.world.objects).filter((o) => o.type === "aws:ec2/instance:Instance" && o.attrs.ami === amiId);

/**
 * The step of the remote command that verified `amiId` in this run: a command that ran successfully on an
 * instance launched from that AMI.
 */
export function verificationOf(u: Up, amiId: string): Step | undefined {
    const on = new Set(instancesFrom(u.checkpoint, amiId).map((i) => i.id));
    const runsOk = u.checkpoint.world.remoteRuns.slice(u.before?.world.remoteRuns.length ?? 0).filter((r) => r.ok && r.instanceId && on.has(r.instanceId));
    const urns = new Set(runsOk.map((r) => r.urn));
    return u.steps.find((s) => urns.has(s.urn) && (s.op === "create" || s.op === "update" || s.op === "create-replacement") && !s.failed);
}

/** Remote command runs of this `up` (what dialled where). */
export const remoteRunsOf = (u: Up) => u.checkpoint.world.remoteRuns.slice(u.before?.world.remoteRuns.length ?? 0);

export const plain = <T = Record<string, unknown>>(v: unknown): T => unwrapDeep(v) as T;
