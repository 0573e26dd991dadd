// Test harness: Pulumi mocks stand in for AWS (and the providers' engines) only; the component's own code runs.
import * as pulumi from "@pulumi/pulumi";

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    urn?: string;
    opts?: Record<string, unknown>;
}

export interface MockOptions {
    /** Path the mocked tarball command reports (default: a file that does not exist on this machine). */
    tarballPath?: string;
    /** Simulated duration (ms) of a resource creation by type; used by the graph benchmark. */
    delayMs?: (type: string) => number;
    /** Called when a resource creation starts/ends (benchmark timeline). */
    onEvent?: (event: "start" | "end", r: Registered, at: number) => void;
}

export const registered: Registered[] = [];

function outputsFor(type: string, name: string, inputs: Record<string, unknown>, tarballPath: string): Record<string, unknown> {
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
            return { ...inputs, publicIp: "198.51.100.10", privateIp: "10.0.0.10", availabilityZone: "us-east-1a" };
        case "command:local:Command":
            return {
                ...inputs,
                stdout: `downloading...\n${JSON.stringify({ path: tarballPath, sha256: "a".repeat(64), date: "2026.11.01" })}`,
                stderr: "",
            };
        default:
            return { ...inputs };
    }
}

/** Installs the mocks; call before importing the component. */
export function installMocks(o: MockOptions = {}): void {
    const tarballPath = o.tarballPath ?? "/nonexistent/arch-ami/archlinux-bootstrap.tar.zst";
    const start = Date.now();
    pulumi.runtime.setMocks(
        {
            newResource: async (args: pulumi.runtime.MockResourceArgs) => {
                const r: Registered = { type: args.type, name: args.name, inputs: args.inputs };
                registered.push(r);
                const delay = o.delayMs?.(args.type) ?? 0;
                o.onEvent?.("start", r, Date.now() - start);
                if (delay > 0) {
                    await new Promise((res) => setTimeout(res, delay));
                }
                o.onEvent?.("end", r, Date.now() - start);
                const id = args.type === "aws:ebs/volume:Volume" ? "vol-0123456789abcdef0" : `${args.name}-id`;
                return { id, state: outputsFor(args.type, args.name, args.inputs, tarballPath) };
            },
            call: (args: pulumi.runtime.MockCallArgs) => {
                switch (args.token) {
                    case "aws:ec2/getAmi:getAmi":
                        return { id: "ami-0debian13", name: "debian-13-amd64-20261101-1" };
                    case "aws:ec2/getVpc:getVpc":
                        return { id: "vpc-default" };
                    case "aws:index/getAvailabilityZones:getAvailabilityZones":
                        return { names: ["us-east-1a", "us-east-1b"] };
                    case "aws:ec2/getSubnet:getSubnet":
                        return { id: args.inputs.id ?? "subnet-default-a", vpcId: "vpc-default", availabilityZone: "us-east-1a" };
                    default:
                        return {};
                }
            },
        },
        "arch-ami",
        "test",
        false,
    );
}

/** Resolves an Output (mocks resolve every value). */
export function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
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

/** Waits until the mock has seen no new registration for a while (all applies have settled). */
export async function settle(ms = 300): Promise<void> {
    let n = -1;
    while (n !== registered.length) {
        n = registered.length;
        await new Promise((r) => setTimeout(r, ms));
    }
}

export const byName = (name: string): Registered => {
    const r = registered.find((x) => x.name === name);
    if (!r) {
        throw new Error(`no resource named ${name}; have ${registered.map((x) => x.name).join(", ")}`);
    }
    return r;
};

/** Valid arguments used by most tests (explicit ingress: no network needed). */
export const BASE_ARGS = { sshIngressCidrs: ["203.0.113.7/32"], tags: { team: "platform" } };
