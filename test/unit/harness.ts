// Test harness: Pulumi mocks stand in for AWS (and the providers' engines) only; the component's own code runs.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    /** The URN the real engine gives this resource (`engineUrn`), not the mock monitor's. */
    urn?: string;
    opts?: Record<string, unknown>;
    /** The provider reference (`<urn>::<id>`) the resource was registered with, if one was given. */
    provider?: string;
}

/** Options the lifecycle tests compare, as the engine receives them. */
export interface CapturedOptions {
    urn: string;
    parentUrn?: string;
    ignoreChanges: string[];
    deleteBeforeReplace: boolean;
    retainOnDelete: boolean;
    replacementTrigger: boolean;
    /** A custom resource (a provider CRUDs it) or a component. */
    custom?: boolean;
    /** `dependsOn` plus every resource whose output feeds an input, as engine URNs (the SDK sends them all). */
    dependencies?: string[];
    /** Per input property: the engine URNs of the resources its value came from. */
    propertyDependencies?: Record<string, string[]>;
    /** `replaceOnChanges` paths (pulumi/pulumi step_generator.go applyReplaceOnChanges). */
    replaceOnChanges?: string[];
    /** The `deleteBeforeReplace` option as the engine receives it: unset (undefined) lets the provider decide
     * (pulumi/pulumi step_generator.go: `if goal.DeleteBeforeReplace != nil`). */
    deleteBeforeReplaceOption?: boolean;
    /** `customTimeouts` as sent (empty strings: not set). */
    customTimeouts?: { create: string; update: string; delete: string };
}

export interface MockOptions {
    /** Path the mocked tarball command reports (default: a file per tarball command that does not exist here). */
    tarballPath?: string;
    /** Folder where each tarball command run writes its own file, as build-tarball.sh does (default: none, the file is absent). */
    tarballDir?: string;
    /** Run as `pulumi preview` does: the engine's dry run, where commands do not run and their outputs are unknown. */
    preview?: boolean;
    /** Stack name (default "test"). */
    stack?: string;
    /** Answer as AWS does after `pulumi refresh` of a stopped builder: no public address, and
     * `associatePublicIpAddress` read back as false (terraform-provider-aws #33775). */
    refreshedStoppedBuilder?: boolean;
    /** EBS encryption by default in the home region (`aws.ebs.getEncryptionByDefault`; default off). */
    encryptedByDefault?: boolean;
    /** The account's default EBS key as GetEbsDefaultKmsKeyId reports it (default `alias/aws/ebs`, AWS-managed). */
    defaultKmsKey?: string;
    /** Key ids/ARNs DescribeKey reports as AWS-managed (`KeyManager: AWS`); `alias/aws/ebs` always is. */
    awsManagedKeys?: string[];
    /** Regions DescribeRegions lists as enabled (default: the commercial regions enabled without opt-in). */
    enabledRegions?: string[];
    /** Simulated duration (ms) of a resource creation by type; used by the graph benchmark. */
    delayMs?: (type: string) => number;
    /** Called when a resource creation starts/ends (benchmark timeline). */
    onEvent?: (event: "start" | "end", r: Registered, at: number) => void;
    /** The engine model (test/unit/engine/): given what AWS answers to a create (these mocks' outputs) and
     * the engine's view of the registration, returns what the program receives (old outputs for an
     * unchanged resource, read-back values, …) or throws as a failed step does. */
    engine?: (args: pulumi.runtime.MockResourceArgs, created: { id: string; state: Record<string, unknown> }, view: CapturedOptions) => Promise<{ id: string; state: Record<string, unknown> }>;
}

export const registered: Registered[] = [];
/** Every data source call (invoke) the program made, in order: its token, arguments and provider reference. */
export const invokes: { token: string; inputs: Record<string, unknown>; provider?: string }[] = [];

/** Commercial regions enabled in every account (no opt-in), as DescribeRegions lists them. */
export const ENABLED_REGIONS = [
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
];

const digest = (s: string) => createHash("sha256").update(s).digest("hex");

/** A per-resource value, as AWS gives every new resource its own: a new instance, a new address. */
function addressOf(name: string, net: number): string {
    const d = Buffer.from(digest(name), "hex");
    return net === 10 ? `10.0.${d[0]}.${d[1] % 250 + 4}` : `198.51.${d[0]}.${d[1] % 250 + 4}`;
}

function outputsFor(type: string, name: string, inputs: Record<string, unknown>, o: MockOptions): Record<string, unknown> {
    switch (type) {
        case "tls:index/privateKey:PrivateKey":
            return {
                ...inputs,
                privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\nPRIVATE-${name}\n-----END OPENSSH PRIVATE KEY-----\n`,
                publicKeyOpenssh: `ssh-ed25519 AAAAPUBLIC${name.replace(/[^A-Za-z0-9]/g, "")}\n`,
            };
        case "aws:ec2/keyPair:KeyPair":
            return { ...inputs, keyName: `${name}-kp` };
        case "aws:ec2/instance:Instance":
            return o.refreshedStoppedBuilder
                ? { ...inputs, associatePublicIpAddress: false, publicIp: "", privateIp: addressOf(name, 10), availabilityZone: "us-east-1a" }
                : { ...inputs, publicIp: inputs.associatePublicIpAddress === false ? "" : addressOf(name, 198), privateIp: addressOf(name, 10), availabilityZone: "us-east-1a" };
        case "command:local:Command": {
            // A preview never runs a command: its stdout is unknown (absent from the state).
            if (o.preview) return { ...inputs };
            // Each tarball command run produces its own file, as build-tarball.sh does for a new build.
            let path = o.tarballPath ?? `/nonexistent/arch-ami/${name}/archlinux-bootstrap-2026.11.01-x86_64.tar.zst`;
            if (o.tarballDir) {
                path = `${o.tarballDir}/${name}/archlinux-bootstrap-2026.11.01-x86_64.tar.zst`;
                fs.mkdirSync(`${o.tarballDir}/${name}`, { recursive: true });
                fs.writeFileSync(path, `tarball of ${name}`);
            }
            return {
                ...inputs,
                stdout: `downloading...\n${JSON.stringify({ path, sha256: digest(`tarball ${name}`), date: "2026.11.01" })}`,
                stderr: "",
            };
        }
        default:
            return { ...inputs };
    }
}

/** Installs the mocks; call before importing the component. */
export function installMocks(o: MockOptions = {}): void {
    const start = Date.now();
    const stack = o.stack ?? "test";
    pulumi.runtime.setMocks(
        {
            newResource: async (args: pulumi.runtime.MockResourceArgs) => {
                const r: Registered = {
                    type: args.type,
                    name: args.name,
                    inputs: args.inputs,
                    urn: capturedByTypeName.get(`${args.type}::${args.name}`)?.urn,
                    provider: args.provider,
                };
                registered.push(r);
                const delay = o.delayMs?.(args.type) ?? 0;
                o.onEvent?.("start", r, Date.now() - start);
                if (delay > 0) {
                    await new Promise((res) => setTimeout(res, delay));
                }
                o.onEvent?.("end", r, Date.now() - start);
                const id = args.type === "aws:ebs/volume:Volume" ? `vol-${digest(args.name).slice(0, 17)}` : `${args.name}-id`;
                const created = { id, state: outputsFor(args.type, args.name, args.inputs, o) };
                const view = capturedByTypeName.get(`${args.type}::${args.name}`);
                if (o.engine && view) return o.engine(args, created, view);
                return created;
            },
            call: (args: pulumi.runtime.MockCallArgs) => {
                invokes.push({ token: args.token, inputs: args.inputs, provider: args.provider });
                switch (args.token) {
                    case "aws:ec2/getAmi:getAmi":
                        return { id: "ami-0debian13", name: "debian-13-amd64-20261101-1" };
                    case "aws:ec2/getVpc:getVpc":
                        return { id: "vpc-default" };
                    case "aws:index/getRegion:getRegion":
                        return { region: "us-east-1", name: "us-east-1", id: "us-east-1" };
                    case "aws:index/getAvailabilityZones:getAvailabilityZones":
                        return { names: ["us-east-1a", "us-east-1b"] };
                    case "aws:ec2/getSubnet:getSubnet":
                        return { id: args.inputs.id ?? "subnet-default-a", vpcId: "vpc-default", availabilityZone: "us-east-1a" };
                    // The preflight's data sources (src/preflight.ts), answered as the AWS APIs do.
                    case "aws:ebs/getEncryptionByDefault:getEncryptionByDefault":
                        return { id: "us-east-1", enabled: o.encryptedByDefault ?? false };
                    case "aws:ebs/getDefaultKmsKey:getDefaultKmsKey":
                        return { id: "us-east-1", keyArn: o.defaultKmsKey ?? "alias/aws/ebs" };
                    case "aws:kms/getKey:getKey": {
                        const keyId = String(args.inputs.keyId);
                        const managed = keyId === "alias/aws/ebs" || (o.awsManagedKeys ?? []).includes(keyId);
                        return { id: keyId, arn: keyId, keyId, keyManager: managed ? "AWS" : "CUSTOMER" };
                    }
                    case "aws:index/getRegions:getRegions":
                        return { id: "aws", names: o.enabledRegions ?? ENABLED_REGIONS };
                    default:
                        return {};
                }
            },
        },
        "arch-ami",
        stack,
        o.preview ?? false,
    );
    captureEngineView(stack);
}

/**
 * The URN the Pulumi engine gives a resource: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`,
 * where the qualified type is the chain of the parents' *types* (not names) joined by `$`, the root stack
 * excluded (pulumi/pulumi `sdk/go/common/resource/urn.go` NewURN; the resource monitor passes the
 * parent's QualifiedType). The mock monitor keeps only the last parent type, so the tests compute it.
 */
export function engineUrn(stack: string, project: string, qualifiedType: string, name: string): string {
    return `urn:pulumi:${stack}::${project}::${qualifiedType}::${name}`;
}

/** What the engine is asked for each resource (engine URN and lifecycle options), by `type::name`. */
export const capturedByTypeName = new Map<string, CapturedOptions>();

type RegisterRequest = {
    getType(): string;
    getName(): string;
    getParent(): string;
    getIgnorechangesList(): string[];
    getDeletebeforereplace(): boolean;
    getRetainondelete(): boolean;
    hasReplacementTrigger?(): boolean;
    getCustom(): boolean;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
    getReplaceonchangesList(): string[];
    getDeletebeforereplacedefined(): boolean;
    getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
};
type MockMonitorLike = {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(req: RegisterRequest, cb: unknown): unknown;
};

/**
 * Records every RegisterResourceRequest the SDK sends (exactly what a real engine would receive), and the
 * URN a real engine would derive from it: the mock monitor keeps only the parent's last type.
 */
function captureEngineView(stack: string): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorLike;
    const qualifiedByMockUrn = new Map<string, string>();
    const urnByMockUrn = new Map<string, string>();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        const parent = req.getParent();
        const parentQualified = parent ? qualifiedByMockUrn.get(parent) : undefined;
        const qualified = parentQualified ? `${parentQualified}$${req.getType()}` : req.getType();
        const mockUrn = monitor.newUrn(parent, req.getType(), req.getName());
        const urn = engineUrn(stack, "arch-ami", qualified, req.getName());
        qualifiedByMockUrn.set(mockUrn, qualified);
        urnByMockUrn.set(mockUrn, urn);
        capturedByTypeName.set(`${req.getType()}::${req.getName()}`, {
            urn,
            parentUrn: parent ? urnByMockUrn.get(parent) : undefined,
            ignoreChanges: [...req.getIgnorechangesList()].sort(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            retainOnDelete: req.getRetainondelete(),
            replacementTrigger: req.hasReplacementTrigger?.() ?? false,
            ...engineView(req, (u) => urnByMockUrn.get(u) ?? u),
        });
        return register(req, cb);
    };
}

/** The rest of what the engine receives in a RegisterResourceRequest, dependencies as engine URNs. */
function engineView(req: RegisterRequest, toEngine: (mockUrn: string) => string): Partial<CapturedOptions> {
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => {
        propertyDependencies[k] = v.getUrnsList().map(toEngine).sort();
    });
    const t = req.getCustomtimeouts();
    return {
        custom: req.getCustom(),
        dependencies: [...new Set(req.getDependenciesList().map(toEngine))].sort(),
        propertyDependencies,
        replaceOnChanges: [...req.getReplaceonchangesList()].sort(),
        deleteBeforeReplaceOption: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
        customTimeouts: t ? { create: t.getCreate(), update: t.getUpdate(), delete: t.getDelete() } : undefined,
    };
}

/**
 * Resolves an Output (mocks resolve every value), and rejects when it rejects: `apply` never calls back for a
 * rejected output, so the test would wait until its timeout (node:test cancels it only once the event loop is
 * empty; Vitest, which the mutation run uses, waits for the timeout). Output.promise is what the SDK awaits.
 */
export function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve, reject) => {
        o.apply(resolve);
        (o as unknown as { promise(): Promise<T> }).promise().catch(reject);
    });
}

/** A transformation that records each child's options, for tests that check dependsOn/ignoreChanges. */
export function captureOptions(): pulumi.ResourceTransformation {
    return (a) => {
        if (a.type !== "arch-ami:index:ArchAmi") {
            optionsByName.set(a.name, a.opts as Record<string, unknown>);
        }
        return undefined;
    };
}
export const optionsByName = new Map<string, Record<string, unknown>>();

/** Strips the secret wrapper mocks put around secret inputs; returns [value, wasSecret]. */
export function unwrapSecret(v: unknown): [unknown, boolean] {
    if (v && typeof v === "object" && SECRET_SIG in (v as object)) {
        return [(v as { value: unknown }).value, true];
    }
    return [v, false];
}

/**
 * Waits until every resource the program will register has been registered and answered: the SDK's queue
 * of outstanding calls to the (mock) monitor is drained (@pulumi/pulumi runtime/settings.ts waitForRPCs,
 * what `disconnect` awaits; every registerResource and invoke holds it through rpcKeepAlive), then a quiet
 * pause of `quietMs` lets applies that were waiting on those answers register what they create; repeated
 * until a pause registers nothing new.
 */
export async function settle(quietMs = 20): Promise<void> {
    const runtime = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };
    let n = -1;
    while (n !== registered.length) {
        n = registered.length;
        await runtime.waitForRPCs();
        await new Promise((r) => setTimeout(r, quietMs));
    }
}

export const byName = (name: string): Registered => {
    const r = registered.find((x) => x.name === name);
    if (!r) {
        throw new Error(`no resource named ${name}; have ${registered.map((x) => x.name).join(", ")}`);
    }
    return r;
};

/** The one resource of a build with this role (`<name>-<hash12>-<role>`). */
export const byRole = (role: string, component = "arch"): Registered => {
    const re = new RegExp(`^${component}-[0-9a-f]{12}-${role}$`);
    const all = registered.filter((x) => re.test(x.name));
    if (all.length !== 1) {
        throw new Error(`${all.length} resources with role ${role}; have ${registered.map((x) => x.name).join(", ")}`);
    }
    return all[0];
};

/** Valid arguments used by most tests (explicit ingress: no network needed). */
export const BASE_ARGS = { sshIngressCidrs: ["203.0.113.7/32"], tags: { team: "platform" } };
