// npm run bench:graph — runs the default program under mocks whose resources take simulated durations
// (1 s simulated = 10 ms real) and prints the simulated wall time, the critical path through the real
// dependency graph (as the SDK reports it to the engine) and the sequential sum. Target: wall ≤ 1.05 × critical path.
import * as pulumi from "@pulumi/pulumi";
import { installMocks, registered } from "../test/unit/harness";

const SCALE_MS = 10; // real milliseconds per simulated second
/** Simulated creation time in seconds, by resource type (the README lists the same table). */
const DURATIONS: Record<string, number> = {
    "aws:ec2/instance:Instance": 45,
    "aws:ebs/volume:Volume": 10,
    "aws:ec2/volumeAttachment:VolumeAttachment": 10,
    "command:local:Command": 60, // bootstrap tarball
    "command:remote:CopyToRemote": 20, // each upload
    "command:remote:Command": 240, // provisioning
    "aws:ebs/snapshot:Snapshot": 120,
    "aws:ec2/ami:Ami": 30,
    "aws:ec2transitgateway/instanceState:InstanceState": 30, // stop the builder
};
const seconds = (type: string) => DURATIONS[type] ?? 0;

const deps = new Map<string, string[]>();
const startEnd = new Map<string, [number, number]>();
let inFlight = 0;

/** Resolves once no creation is in flight and nothing new registered for 100 ms. */
async function quiescent(): Promise<void> {
    let seen = -1;
    while (inFlight > 0 || seen !== registered.length) {
        seen = registered.length;
        await new Promise((r) => setTimeout(r, 100));
    }
}

async function main() {
    process.env.PULUMI_CONFIG = JSON.stringify({ "arch-ami:sshIngressCidrs": '["203.0.113.7/32"]' });
    installMocks({
        delayMs: (type) => seconds(type) * SCALE_MS,
        onEvent: (event, r, at) => {
            inFlight += event === "start" ? 1 : -1;
            const se = startEnd.get(r.name) ?? [0, 0];
            se[event === "start" ? 0 : 1] = at;
            startEnd.set(r.name, se);
        },
    });
    // Record each registration's dependencies (URNs) as the SDK sends them to the engine.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource: (req: { getName(): string; getDependenciesList(): string[] }, cb: unknown) => unknown;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        deps.set(req.getName(), req.getDependenciesList().map((urn) => urn.split("::").pop()!));
        return register(req, cb);
    };

    await import("../program");
    await quiescent();
    const wallMs = Math.max(...[...startEnd.values()].map(([, e]) => e)) - Math.min(...[...startEnd.values()].map(([s]) => s));

    const types = new Map(registered.map((r) => [r.name, r.type]));
    const finish = new Map<string, { time: number; path: string[] }>();
    const longest = (name: string): { time: number; path: string[] } => {
        const known = finish.get(name);
        if (known) return known;
        let best = { time: 0, path: [] as string[] };
        for (const d of deps.get(name) ?? []) {
            if (types.has(d)) {
                const f = longest(d);
                if (f.time > best.time) best = f;
            }
        }
        const mine = { time: best.time + seconds(types.get(name)!), path: [...best.path, name] };
        finish.set(name, mine);
        return mine;
    };
    const critical = [...types.keys()].map(longest).reduce((a, b) => (b.time > a.time ? b : a));
    const sequential = [...types.values()].reduce((sum, t) => sum + seconds(t), 0);
    const wall = wallMs / SCALE_MS;

    console.log(`resources:        ${types.size}`);
    console.log(`simulated wall:   ${wall.toFixed(1)} s`);
    console.log(`critical path:    ${critical.time} s  (${critical.path.filter((n) => seconds(types.get(n)!) > 0).map((n) => `${n} ${seconds(types.get(n)!)}s`).join(" -> ")})`);
    console.log(`sequential sum:   ${sequential} s`);
    const ratio = wall / critical.time;
    console.log(`wall / critical:  ${ratio.toFixed(3)} (target <= 1.05): ${ratio <= 1.05 ? "MET" : "MISSED"}`);
    process.exitCode = ratio <= 1.05 ? 0 : 1;
}

void main();
