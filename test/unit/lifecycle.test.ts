// The lifecycle on the real engine, encoded: each scenario runs the default program twice under mocks (in
// separate processes, as two `pulumi up`s), as the engine sees it (engine URNs, inputs, options), then
// applies the engine's and providers' rules that the mocks do not:
// - ignoreChanges: the engine substitutes the OLD input for an ignored property before diffing, and a
//   replacement is created from those substituted inputs (pulumi/pulumi step_generator.go,
//   processIgnoreChanges), so an ignored property must never differ between two runs that share a URN
//   unless the difference is harmless forever (a stopped builder's address, a newer Debian AMI);
// - ForceNew properties replace a resource, create-before-delete by default (terraform-provider-aws);
// - a remote Command re-runs `create` on any input change it does not ignore (pulumi-command
//   commandController.go Update), CopyToRemote re-copies on a source hash or path change;
// - a resource whose URN disappears is deleted after every create has succeeded, dependents first.
// The mocks answer as AWS does: every new instance has its own address, every tarball command run its
// own file (test/unit/harness.ts).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { SECRET_SIG } from "./harness";

const repo = path.resolve(__dirname, "../..");
const tarballDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-ami-lifecycle-"));

interface EngineResource {
    urn: string;
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    ignoreChanges: string[];
    deleteBeforeReplace: boolean;
    retainOnDelete: boolean;
    replacementTrigger: boolean;
}

/** Properties whose change replaces the resource (read from the providers' schemas/sources). */
const FORCE_NEW: Record<string, string[]> = {
    // terraform-provider-aws ec2_instance.go (instanceType: updated by stop/modify/START, see BUILDER_IGNORED)
    "aws:ec2/instance:Instance": ["ami", "subnetId", "associatePublicIpAddress", "availabilityZone", "keyName", "rootBlockDevice"],
    "aws:ebs/volume:Volume": ["availabilityZone"],
    "aws:ec2/volumeAttachment:VolumeAttachment": ["deviceName", "instanceId", "volumeId"],
    "aws:ebs/snapshot:Snapshot": ["volumeId"],
    "aws:ec2/ami:Ami": ["name", "bootMode", "tpmSupport", "imdsSupport", "enaSupport", "ebsBlockDevices", "architecture", "virtualizationType", "rootDeviceName"],
    "aws:ec2/keyPair:KeyPair": ["publicKey"],
    "aws:ec2/securityGroup:SecurityGroup": ["vpcId", "description"],
    "tls:index/privateKey:PrivateKey": ["algorithm"],
    "command:remote:Command": ["triggers"],
    "command:remote:CopyToRemote": ["triggers"],
    "command:local:Command": ["triggers"],
};
/** Resources that run something on any change they do not ignore (pulumi-command Update runs create again). */
const RERUNS_ON_CHANGE = new Set(["command:remote:Command", "command:local:Command"]);

interface Run {
    stack?: string;
    config?: Record<string, string>;
    refreshed?: boolean;
}

function run(r: Run): Map<string, EngineResource> {
    const config = { "arch-ami:sshIngressCidrs": '["203.0.113.7/32"]', "arch-ami:packages": '["vim"]', ...r.config };
    const text = execFileSync(
        process.execPath,
        ["--import", pathToFileURL(path.join(repo, "node_modules/tsx/dist/loader.mjs")).href, path.join(repo, "test/unit/dump-program.ts")],
        {
            cwd: repo,
            encoding: "utf8",
            env: {
                ...process.env,
                PULUMI_CONFIG: JSON.stringify(config),
                ARCH_AMI_TEST_STACK: r.stack ?? "dev",
                ARCH_AMI_TEST_REFRESHED: r.refreshed ? "1" : "",
                ARCH_AMI_TEST_TARBALL_DIR: tarballDir,
            },
        },
    );
    return new Map((JSON.parse(text) as EngineResource[]).map((x) => [x.urn, x]));
}

const unwrap = (v: unknown): unknown => (v && typeof v === "object" && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);
const same = (a: unknown, b: unknown) => JSON.stringify(unwrap(a)) === JSON.stringify(unwrap(b));

interface Step {
    urn: string;
    type: string;
    /** Changed inputs the engine sees after substituting ignored ones. */
    changed: string[];
    /** Ignored inputs whose new value differs (the new value is dropped, in an update AND a replacement). */
    ignoredDiffs: string[];
    replace: boolean;
    rerun: boolean;
}

/** What a second `up` does to every resource present in both runs. */
function plan(before: Map<string, EngineResource>, after: Map<string, EngineResource>): Step[] {
    const steps: Step[] = [];
    for (const [urn, b] of before) {
        const a = after.get(urn);
        if (!a) continue;
        const keys = new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)]);
        const diffs = [...keys].filter((k) => !same(a.inputs[k], b.inputs[k]));
        const ignoredDiffs = diffs.filter((k) => a.ignoreChanges.includes(k));
        const changed = diffs.filter((k) => !a.ignoreChanges.includes(k));
        steps.push({
            urn,
            type: a.type,
            changed,
            ignoredDiffs,
            replace: changed.some((k) => (FORCE_NEW[a.type] ?? []).includes(k)),
            rerun: changed.length > 0 && RERUNS_ON_CHANGE.has(a.type),
        });
    }
    return steps;
}

const perBuild = (urn: string) => urn.includes("$arch-ami:index:ArchAmiBuild");
/** The check of one AMI (test instance, its host key, the verify command, the stop): named per AMI and check. */
const perVerification = (urn: string) => /::[a-z0-9-]+-[0-9a-f]{12}-verify-(host-key|instance|check|stopped)$/.test(urn);
const shared = (urn: string) => !perBuild(urn) && !perVerification(urn);
const ofType = (m: Map<string, EngineResource>, type: string) => [...m.values()].filter((r) => r.type === type);
const one = (m: Map<string, EngineResource>, type: string) => {
    const all = ofType(m, type);
    assert.equal(all.length, 1, `one ${type}`);
    return all[0];
};
const amiName = (m: Map<string, EngineResource>) => String(one(m, "aws:ec2/ami:Ami").inputs.name);

describe("lifecycle: first up", () => {
    const first = run({});
    it("every URN is unique and every per-build name carries the build hash", () => {
        const hash = String(one(first, "arch-ami:index:ArchAmiBuild").name).split("-").pop()!;
        assert.match(hash, /^[0-9a-f]{12}$/);
        for (const r of first.values()) {
            if (perBuild(r.urn)) assert.ok(r.name.includes(hash), `${r.name} carries the build hash`);
        }
    });
    it("no resource relies on replacementTrigger or triggers", () => {
        for (const r of first.values()) {
            assert.equal(r.replacementTrigger, false, r.urn);
            assert.equal(r.inputs.triggers, undefined, r.urn);
        }
    });
});

describe("lifecycle: rebuild (an image-affecting argument changes)", () => {
    const before = run({});
    const after = run({ config: { "arch-ami:packages": '["vim","htop"]' } });
    const steps = plan(before, after);

    it("creates a complete new build: the per-build URNs of the two runs are disjoint", () => {
        const b = [...before.keys()].filter(perBuild);
        const a = [...after.keys()].filter(perBuild);
        assert.equal(a.length, b.length);
        assert.equal(a.length, 11, "host key, tarball, builder, volume, attachment, 2 uploads, provision, snapshot, stop, the build");
        assert.deepEqual(a.filter((u) => before.has(u)), []);
    });

    it("keeps the shared URNs (component, keys, key pair, security group, AMI) and checks the new AMI with a new test instance", () => {
        assert.deepEqual([...after.keys()].filter(shared).sort(), [...before.keys()].filter(shared).sort());
        const v = (m: Map<string, EngineResource>) => [...m.keys()].filter(perVerification);
        assert.equal(v(after).length, 4);
        assert.deepEqual(v(after).filter((u) => before.has(u)), []);
    });

    it("no URN present in both runs has an ignored property that differs (the old-inputs trap)", () => {
        for (const s of steps) assert.deepEqual(s.ignoredDiffs, [], s.urn);
    });

    it("only the AMI is replaced among the shared resources, under a new name (registered before the old is deregistered)", () => {
        assert.deepEqual(steps.filter((s) => s.replace).map((s) => s.type), ["aws:ec2/ami:Ami"]);
        assert.notEqual(amiName(after), amiName(before));
        assert.deepEqual(steps.filter((s) => s.changed.length && s.type !== "aws:ec2/ami:Ami"), []);
    });

    it("the new build connects to its own new builder and uploads its own tarball file", () => {
        const builder = ofType(after, "aws:ec2/instance:Instance").find((r) => perBuild(r.urn))!;
        const oldBuilder = ofType(before, "aws:ec2/instance:Instance").find((r) => perBuild(r.urn))!;
        const inBuild = (m: Map<string, EngineResource>, type: string) => ofType(m, type).filter((r) => perBuild(r.urn));
        const hosts = [...inBuild(after, "command:remote:Command"), ...inBuild(after, "command:remote:CopyToRemote")].map(
            (r) => (unwrap(r.inputs.connection) as { host: string }).host,
        );
        const oldHost = (unwrap(inBuild(before, "command:remote:Command")[0].inputs.connection) as { host: string }).host;
        assert.equal(new Set(hosts).size, 1);
        assert.notEqual(hosts[0], oldHost, "a new builder has a new address");
        assert.notEqual(builder.urn, oldBuilder.urn);
        const upload = ofType(after, "command:remote:CopyToRemote").find((r) => r.name.endsWith("-upload-tarball"))!;
        const tarball = one(after, "command:local:Command");
        assert.equal((upload.inputs.source as { path?: string }).path, path.join(tarballDir, tarball.name, "archlinux-bootstrap-2026.11.01-x86_64.tar.zst"), "the upload carries this build's own tarball file");
    });
});

describe("lifecycle: re-registration (boot mode, TPM, description)", () => {
    const before = run({});
    const after = run({ config: { "arch-ami:bootMode": "uefi", "arch-ami:tpmSupport": "true" } });
    const steps = plan(before, after);

    it("keeps every build URN and input: no new builder; the new AMI gets its own check", () => {
        for (const s of steps.filter((x) => perBuild(x.urn))) assert.deepEqual(s.changed, [], s.urn);
        assert.deepEqual([...after.keys()].filter((u) => !perVerification(u)).sort(), [...before.keys()].filter((u) => !perVerification(u)).sort());
        assert.deepEqual([...after.keys()].filter((u) => perVerification(u) && before.has(u)), []);
    });

    it("replaces the AMI under a new name, from the same snapshot", () => {
        const ami = steps.find((s) => s.type === "aws:ec2/ami:Ami")!;
        assert.ok(ami.replace);
        assert.ok(ami.changed.includes("name"));
        assert.notEqual(amiName(after), amiName(before));
        const snap = (m: Map<string, EngineResource>) => (one(m, "aws:ec2/ami:Ami").inputs.ebsBlockDevices as { snapshotId: string }[])[0].snapshotId;
        assert.equal(snap(after), snap(before));
    });

    it("updates a new description in place (same name, no replacement)", () => {
        const d = plan(before, run({ config: { "arch-ami:description": "Arch for the platform team" } }));
        const ami = d.find((s) => s.type === "aws:ec2/ami:Ami")!;
        assert.deepEqual(ami.changed, ["description"]);
        assert.equal(ami.replace, false);
        assert.deepEqual(d.filter((s) => s.changed.length && s.type !== "aws:ec2/ami:Ami"), []);
    });
});

describe("lifecycle: builder settings change within a build", () => {
    const before = run({});
    const after = run({
        config: {
            "arch-ami:instanceType": "m6i.large",
            "arch-ami:subnetId": "subnet-other",
            "arch-ami:associatePublicIp": "false",
            "arch-ami:builderAmi": "ami-0newerdebian",
        },
    });
    it("replaces nothing, re-runs nothing and never starts the stopped builder: builder placement is fixed per build", () => {
        for (const s of plan(before, after)) {
            assert.deepEqual(s.changed, [], s.urn);
        }
        const instances = plan(before, after).filter((s) => s.type === "aws:ec2/instance:Instance");
        const builder = instances.find((s) => perBuild(s.urn))!;
        assert.deepEqual(builder.ignoredDiffs.sort(), ["ami", "associatePublicIpAddress", "instanceType", "subnetId"]);
        const tester = instances.find((s) => perVerification(s.urn))!;
        assert.deepEqual(tester.ignoredDiffs.sort(), ["associatePublicIpAddress", "subnetId"]);
    });
});

describe("lifecycle: refresh of the stopped builder, then up", () => {
    const before = run({});
    const after = run({ refreshed: true });
    it("the drift (no public address, associatePublicIpAddress read back false) causes no replacement and no re-run", () => {
        const steps = plan(before, after);
        for (const s of steps) {
            assert.equal(s.replace, false, s.urn);
            assert.equal(s.rerun, false, s.urn);
            assert.deepEqual(s.changed, [], s.urn);
        }
        // The provider diffs config against refreshed state; the bridge drops ignored paths from that diff.
        for (const i of ofType(after, "aws:ec2/instance:Instance")) assert.ok(i.ignoreChanges.includes("associatePublicIpAddress"), i.urn);
        const drifted = steps.filter((s) => s.ignoredDiffs.length).map((s) => `${s.type} ${s.ignoredDiffs.join(",")}`).sort();
        assert.deepEqual(drifted, [
            "command:remote:Command connection", // provisioning
            "command:remote:Command connection", // verification
            "command:remote:CopyToRemote connection",
            "command:remote:CopyToRemote connection",
        ]);
    });
    it("an attachment that must be replaced is deleted first (no VolumeInUse)", () => {
        assert.equal(one(after, "aws:ec2/volumeAttachment:VolumeAttachment").deleteBeforeReplace, true);
    });
});

describe("lifecycle: a second stack with identical arguments", () => {
    const dev = run({ stack: "dev" });
    const prod = run({ stack: "prod" });
    it("builds the same image (same build hash) but registers another AMI name", () => {
        assert.equal(one(dev, "arch-ami:index:ArchAmiBuild").name, one(prod, "arch-ami:index:ArchAmiBuild").name);
        assert.notEqual(amiName(dev), amiName(prod));
        assert.match(amiName(dev), /^arch-[0-9a-f]{12}$/);
    });
    it("the AMI name is stable across ups of one stack", () => {
        assert.equal(amiName(run({ stack: "dev" })), amiName(dev));
    });
});

describe("lifecycle: destroy", () => {
    const all = run({});
    it("retains nothing by default; with retainImages only the AMI and the snapshot", () => {
        assert.deepEqual([...all.values()].filter((r) => r.retainOnDelete), []);
        const kept = [...run({ config: { "arch-ami:retainImages": "true" } }).values()].filter((r) => r.retainOnDelete).map((r) => r.type).sort();
        assert.deepEqual(kept, ["aws:ebs/snapshot:Snapshot", "aws:ec2/ami:Ami"]);
    });
    it("no remote command has a delete step, so removing a build never dials its stopped builder", () => {
        for (const r of ofType(all, "command:remote:Command")) assert.equal(r.inputs.delete, undefined);
    });
});
