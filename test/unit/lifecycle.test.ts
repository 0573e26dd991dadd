// The lifecycle on the real engine's and providers' rules: each scenario runs the default program as two or
// more `pulumi up`s (each in its own process, under mocks, through the engine model in test/unit/engine/,
// the checkpoint of one fed to the next), and asserts the steps the engine takes, their order (the delete
// schedule included) and what consumers see afterwards (the `amiId` stack output, the SSM parameter's value,
// what exists in the account). Resources are found by type and by what AWS holds, never by the component's
// names, hashes or ignore lists.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Checkpoint, Step } from "./engine/engine";
import { FORCE_NEW, bridgeIgnores, engineIgnore } from "./engine/rules";
import { Up, alive, before, changes, destroy, instancesFrom, machineDir, ofType, packageCopy, plain, refreshed, remoteRunsOf, ssmValue, stepsOf, up, verificationOf } from "./engine/run";

const AMI = "aws:ec2/ami:Ami";
const COPY = "aws:ec2/amiCopy:AmiCopy";
const LAUNCH = "aws:ec2/amiLaunchPermission:AmiLaunchPermission";
const VOLUME_PERMISSION = "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission";
const SSM = "aws:ssm/parameter:Parameter";
const SNAPSHOT = "aws:ebs/snapshot:Snapshot";
const PARAM = "/arch/ami";
const SHARED_ACCOUNT = "123456789012";

const cfg = (extra: Record<string, string> = {}) =>
    Object.fromEntries(
        Object.entries({
            sshIngressCidrs: '["203.0.113.7/32"]',
            packages: '["vim"]',
            ssmParameterName: PARAM,
            regions: '[{"region":"eu-west-1"}]',
            sharing: `{"accountIds":["${SHARED_ACCOUNT}"]}`,
            ...extra,
        }).map(([k, v]) => [`arch-ami:${k}`, v]),
    );
const REBUILD = { packages: '["vim","htop"]' };
const REREGISTER = { bootMode: "uefi", tpmSupport: "true" };

// Scenarios start at once (at most three program runs in parallel) and each test awaits its own.
const first = up({ config: cfg() });
const noop = first.then((f) => up({ config: cfg(), from: f.checkpoint }));
const rebuild = first.then((f) => up({ config: cfg(REBUILD), from: f.checkpoint }));
const afterRebuild = rebuild.then((r) => up({ config: cfg(REBUILD), from: r.checkpoint }));
const rereg = first.then((f) => up({ config: cfg(REREGISTER), from: f.checkpoint }));
const failed = first.then((f) => up({ config: cfg(REBUILD), from: f.checkpoint, brokenImages: true }));
const fixed = failed.then((f) => up({ config: cfg(REBUILD), from: f.checkpoint }));
const refreshThenUp = first.then((f) => up({ config: cfg(), from: refreshed(f.checkpoint) }));
const encrypted = up({ config: cfg({ encryption: "{}", sharing: "{}" }) });
const encryptedAgain = encrypted.then((e) => up({ config: cfg({ encryption: "{}", sharing: "{}" }), from: e.checkpoint }));
const byDefault = up({ config: cfg({ sharing: "{}" }), encryptionByDefault: true });
const byDefaultAgain = byDefault.then((e) => up({ config: cfg({ sharing: "{}" }), from: e.checkpoint }));
// A second stack in the same account (own SSM parameter name: parameters are per account and region).
const prod = first.then((f) => up({ config: cfg({ ssmParameterName: "/arch/ami-prod" }), stack: "prod", from: { resources: [], outputs: {}, world: f.checkpoint.world } }));

// A later `up` on another machine: the first machine's tarball is not there.
const onCi = up({ config: cfg(), machine: "ci-1" });
const onOtherCi = onCi.then((c) => {
    fs.rmSync(machineDir("ci-1"), { recursive: true, force: true });
    return up({ config: cfg(), from: c.checkpoint, machine: "ci-2" });
});
// A new release of arch-ami whose build code changed, and one whose verification script changed.
const upgraded = first.then((f) => up({ config: cfg(), from: f.checkpoint, programRoot: packageCopy((root) => fs.appendFileSync(path.join(root, "src/build/builder.ts"), "\n// a new release\n")) }));
const newCheck = first.then((f) => up({ config: cfg(), from: f.checkpoint, programRoot: packageCopy((root) => fs.appendFileSync(path.join(root, "provision/verify.sh"), "\n# a stricter check\n")) }));
// `pulumi up --replace` of the instance the build's volume is attached to.
const builderReplaced = first.then((f) => {
    const attachment = ofType(f.checkpoint, "aws:ec2/volumeAttachment:VolumeAttachment")[0];
    const instance = f.checkpoint.resources.find((r) => r.id === plain(attachment.inputs).instanceId)!;
    return up({ config: cfg(), from: f.checkpoint, replace: [instance.urn] });
});
// Without copies amiIds needs nothing but the AMI: a failed verification must still not publish it.
const solo = up({ config: cfg({ regions: "[]" }) });
const soloFailed = solo.then((s) => up({ config: cfg({ regions: "[]", ...REBUILD }), from: s.checkpoint, brokenImages: true }));

// In-place changes: the AMI's description; the builder's placement within a finished build.
const described = first.then((f) => up({ config: cfg({ description: "Arch for the platform team" }), from: f.checkpoint }));
const tagged = first.then((f) => up({ config: cfg({ tags: '{"team":"platform"}' }), from: f.checkpoint }));
const placed = first.then((f) =>
    up({ config: cfg({ instanceType: "m6i.large", subnetId: "subnet-other", associatePublicIp: "false", builderAmi: "ami-0newerdebian" }), from: f.checkpoint }),
);
// retainImages, then destroy.
const retained = up({ config: cfg({ retainImages: "true", regions: "[]", sharing: "{}" }) });

const ok = (u: Up) => assert.equal(u.failure, undefined, `the up failed: ${u.failure}`);
/** The AMI consumers are offered: the `amiId` stack output. */
const amiId = (c: Checkpoint) => String(c.outputs.amiId);
const step = (u: Up, type: string, pred: (s: Step) => boolean, what: string) => {
    const s = u.steps.find((x) => x.type === type && pred(x));
    assert.ok(s, `no step: ${what}`);
    return s;
};
const ssmSteps = (u: Up) => stepsOf(u, SSM).filter((s) => s.op !== "same");
const amisIn = (c: Checkpoint) => ofType(c, AMI).map((r) => r.id);
const copiesOf = (c: Checkpoint, ami: string) => ofType(c, COPY).filter((r) => plain(r.inputs).sourceAmiId === ami);
const stateOf = (c: Checkpoint, urn: string) => c.resources.find((r) => r.urn === urn && !r.delete);

/** What consumers may use after a successful up: one verified AMI, named by amiId and every SSM parameter. */
async function assertConsistent(u: Up): Promise<void> {
    const c = u.checkpoint;
    const id = amiId(c);
    assert.ok(alive(c, id), "amiId names an AMI that exists");
    assert.equal(ssmValue(c, PARAM), id, "the home SSM parameter names amiId");
    const copies = copiesOf(c, id);
    assert.equal(copies.length, 1, "one copy of that AMI (eu-west-1)");
    assert.equal(ssmValue(c, PARAM, "eu-west-1"), copies[0].id, "the eu-west-1 parameter names the copy");
    assert.deepEqual(plain(c.outputs.amiIds), { "us-east-1": id, "eu-west-1": copies[0].id });
}

describe("lifecycle: first up", () => {
    it("creates everything once, deletes nothing; the AMI is verified before anyone is offered it", async () => {
        const f = await first;
        ok(f);
        assert.deepEqual([...new Set(f.steps.map((s) => s.op))], ["create"]);
        await assertConsistent(f);
        const id = amiId(f.checkpoint);
        const check = verificationOf(f, id);
        assert.ok(check, "a command ran successfully on an instance launched from the AMI");
        // Copies, launch and create-volume permissions, SSM: all wait for the check (their steps depend on it).
        for (const type of [COPY, LAUNCH, VOLUME_PERMISSION, SSM]) {
            const steps = stepsOf(f, type, "create");
            assert.ok(steps.length > 0, type);
            for (const s of steps) assert.ok(before(f, check, s), `${s.name} waits for the verification`);
        }
    });
    it("shares the snapshot behind every image it shares: the AMI's and the copy's", async () => {
        const c = (await first).checkpoint;
        const id = amiId(c);
        const amiSnap = plain<{ snapshotId: string }[]>(stateOf(c, ofType(c, AMI).find((a) => a.id === id)!.urn)!.outputs.ebsBlockDevices)[0].snapshotId;
        const copySnap = plain<{ snapshotId: string }[]>(copiesOf(c, id)[0].outputs.ebsBlockDevices)[0].snapshotId;
        const shared = ofType(c, VOLUME_PERMISSION).map((p) => plain<{ snapshotId: string; accountId: string }>(p.inputs));
        assert.deepEqual(shared.map((p) => [p.snapshotId, p.accountId]).sort(), [[amiSnap, SHARED_ACCOUNT], [copySnap, SHARED_ACCOUNT]].sort());
        const launch = ofType(c, LAUNCH).map((p) => plain(p.inputs).imageId).sort();
        assert.deepEqual(launch, [id, copiesOf(c, id)[0].id].sort());
    });
    it("no remote command has a delete step, and every one dialled a running instance", async () => {
        const f = await first;
        for (const r of ofType(f.checkpoint, "command:remote:Command")) assert.equal(plain(r.inputs).delete, undefined, r.urn);
        assert.deepEqual(remoteRunsOf(f).filter((r) => r.instanceState !== "running"), []);
    });
});

describe("lifecycle: no-op up", () => {
    it("plans nothing, runs no command, changes no output", async () => {
        const [f, n] = await Promise.all([first, noop]);
        ok(n);
        assert.deepEqual(changes(n).map((s) => `${s.op} ${s.urn}`), []);
        assert.deepEqual(remoteRunsOf(n), []);
        assert.deepEqual(n.checkpoint.outputs, f.checkpoint.outputs);
    });
});

/** The old image stays until the new one is verified, and consumers move only then. */
async function assertReplacedAfterVerification(from: Up, u: Up): Promise<void> {
    ok(u);
    const oldId = amiId(from.checkpoint);
    const newId = amiId(u.checkpoint);
    assert.notEqual(newId, oldId, "a new AMI");
    await assertConsistent(u);
    const check = verificationOf(u, newId);
    assert.ok(check, "the new AMI was verified in this up");
    // No step removes the old AMI, a copy or a permission while the program runs (no delete-before-replace).
    for (const type of [AMI, COPY, LAUNCH, VOLUME_PERMISSION]) {
        assert.deepEqual(stepsOf(u, type, "delete-replaced").map((s) => s.urn), [], `${type}: nothing deleted before its replacement`);
    }
    const ssm = ssmSteps(u).filter((s) => !s.op.startsWith("delete"));
    assert.ok(ssm.length > 0, "the SSM parameters change");
    for (const s of ssm) assert.ok(before(u, check, s), `${s.name} changes only after the verification`);
    const oldAmiDelete = step(u, AMI, (s) => s.op === "delete" && from.checkpoint.resources.some((r) => r.urn === s.urn && r.id === oldId), "the old AMI's delete");
    assert.ok(before(u, check, oldAmiDelete), "the old AMI is deleted after the new one's verification");
    for (const s of ssm) assert.ok(before(u, s, oldAmiDelete), "... and after the SSM parameters moved");
    // Dependents first: the old copies and permissions go before the old AMI (ScheduleDeletes).
    for (const type of [COPY, LAUNCH]) {
        for (const s of stepsOf(u, type, "delete")) assert.ok(before(u, s, oldAmiDelete) || s.type === COPY, `${s.name} before the old AMI`);
    }
    assert.ok(!alive(u.checkpoint, oldId), "the old AMI is deregistered at the end");
    assert.deepEqual(amisIn(u.checkpoint), [newId]);
}

describe("lifecycle: rebuild (an image-affecting argument changes)", () => {
    it("registers, verifies, copies and shares the new AMI, moves SSM, and only then removes the old one", async () => {
        await assertReplacedAfterVerification(await first, await rebuild);
    });
    it("the new build's commands dial the new builder, never the old (stopped) one", async () => {
        const r = await rebuild;
        assert.deepEqual(remoteRunsOf(r).filter((x) => x.instanceState !== "running"), []);
        const f = await first;
        const oldInstances = new Set(Object.keys(f.checkpoint.world.objects));
        assert.deepEqual(remoteRunsOf(r).filter((x) => x.instanceId && oldInstances.has(x.instanceId)).map((x) => x.urn), []);
    });
    it("the next up is a no-op (read-back of every replaced resource, the SSM value included, matches the program)", async () => {
        const n = await afterRebuild;
        ok(n);
        assert.deepEqual(changes(n).map((s) => `${s.op} ${s.urn} ${(s.diffs ?? []).join(",")}`), []);
    });
});

describe("lifecycle: re-registration (boot mode, TPM)", () => {
    it("a new AMI from the same snapshot, no new build; the old one removed after the new one is verified", async () => {
        const [f, r] = await Promise.all([first, rereg]);
        await assertReplacedAfterVerification(f, r);
        assert.deepEqual(stepsOf(r, SNAPSHOT).filter((s) => s.op !== "same").map((s) => s.urn), [], "no new snapshot");
        assert.deepEqual(stepsOf(r, "aws:ebs/volume:Volume").filter((s) => s.op !== "same").map((s) => s.urn), [], "no new volume");
        const snap = (c: Checkpoint) => plain<{ snapshotId: string }[]>(ofType(c, AMI)[0].inputs.ebsBlockDevices)[0].snapshotId;
        assert.equal(snap(r.checkpoint), snap(f.checkpoint));
    });
});

describe("lifecycle: a new description", () => {
    it("updates the AMI in place: no new AMI, build or check", async () => {
        const [f, u] = await Promise.all([first, described]);
        ok(u);
        assert.deepEqual(changes(u).map((s) => `${s.op} ${s.type} ${(s.diffs ?? []).join(",")}`), [`update ${AMI} description`]);
        assert.equal(amiId(u.checkpoint), amiId(f.checkpoint));
    });
});

describe("lifecycle: new tags", () => {
    it("updates tags in place, never touches the terminated test instance, runs no check again", async () => {
        const [f, u] = await Promise.all([first, tagged]);
        ok(u);
        assert.deepEqual(remoteRunsOf(u), [], "no remote command runs (no check, no provisioning)");
        const ours = new Set(ofType(f.checkpoint, AMI).map((a) => a.id));
        for (const i of ofType(f.checkpoint, "aws:ec2/instance:Instance").filter((x) => ours.has(String(plain(x.inputs).ami)))) {
            assert.equal(f.checkpoint.world.objects[i.id].state, "terminated", "the test instance terminated itself");
            assert.equal(u.steps.find((s) => s.urn === i.urn)?.op, "same", "a terminated instance cannot be updated");
        }
        assert.equal(amiId(u.checkpoint), amiId(f.checkpoint));
    });
});

describe("lifecycle: builder placement changes within a finished build", () => {
    it("replaces nothing in the build, never starts the stopped builder, keeps AMI and SSM", async () => {
        const [f, u] = await Promise.all([first, placed]);
        ok(u);
        const ours = new Set(ofType(f.checkpoint, AMI).map((a) => a.id));
        const builders = ofType(f.checkpoint, "aws:ec2/instance:Instance").filter((i) => !ours.has(String(plain(i.inputs).ami)));
        assert.equal(builders.length, 1);
        for (const type of [SNAPSHOT, "aws:ebs/volume:Volume", "aws:ec2/volumeAttachment:VolumeAttachment", "command:remote:CopyToRemote", AMI, COPY, LAUNCH, VOLUME_PERMISSION, SSM]) {
            assert.deepEqual(stepsOf(u, type).filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`), [], type);
        }
        assert.equal(u.steps.find((s) => s.urn === builders[0].urn)?.op, "same", "the builder is neither updated (stop/modify/start) nor replaced");
        assert.equal(u.checkpoint.world.objects[builders[0].id].state, "stopped");
        assert.deepEqual(remoteRunsOf(u).filter((r) => r.instanceId === builders[0].id), []);
        assert.equal(amiId(u.checkpoint), amiId(f.checkpoint));
    });
});

describe("lifecycle: a failed verification", () => {
    it("stops the up: the previous AMI, copies, shares and SSM values are untouched, amiId still names it, nothing is deleted", async () => {
        const [f, x] = await Promise.all([first, failed]);
        assert.ok(x.failure, "the up fails");
        const oldId = amiId(f.checkpoint);
        assert.equal(amiId(x.checkpoint), oldId, "amiId still names the previous AMI");
        assert.deepEqual(x.steps.filter((s) => s.op === "delete" || s.op === "delete-replaced").map((s) => s.urn), []);
        assert.ok(alive(x.checkpoint, oldId));
        assert.equal(ssmValue(x.checkpoint, PARAM), oldId);
        const oldCopy = copiesOf(f.checkpoint, oldId)[0].id;
        assert.ok(alive(x.checkpoint, oldCopy));
        assert.equal(ssmValue(x.checkpoint, PARAM, "eu-west-1"), oldCopy);
        for (const type of [LAUNCH, VOLUME_PERMISSION]) {
            for (const p of ofType(f.checkpoint, type)) assert.ok(alive(x.checkpoint, p.id), `${type} ${p.urn} kept`);
        }
        // Nothing was offered the unverified AMI.
        const unverified = ofType(x.checkpoint, AMI).map((a) => a.id).filter((id) => id !== oldId);
        for (const type of [COPY, LAUNCH, SSM]) {
            for (const r of ofType(x.checkpoint, type)) assert.ok(!unverified.includes(String(plain(r.inputs).sourceAmiId ?? plain(r.inputs).imageId ?? plain(r.inputs).insecureValue)), r.urn);
        }
    });
    it("the next up (image fixed) verifies, moves consumers and removes both the previous and the failed AMI", async () => {
        const [x, y] = await Promise.all([failed, fixed]);
        ok(y);
        await assertConsistent(y);
        assert.ok(verificationOf(y, amiId(y.checkpoint)));
        assert.deepEqual(amisIn(y.checkpoint), [amiId(y.checkpoint)]);
        for (const id of ofType(x.checkpoint, AMI).map((a) => a.id)) if (id !== amiId(y.checkpoint)) assert.ok(!alive(y.checkpoint, id), `${id} removed`);
    });
});

describe("lifecycle: encrypted images are stable", () => {
    it("encryption: the AMI reads back encrypted, and the next up plans no change", async () => {
        const [e, n] = await Promise.all([encrypted, encryptedAgain]);
        ok(e);
        const devices = plain<{ encrypted: boolean }[]>(ofType(e.checkpoint, AMI)[0].outputs.ebsBlockDevices);
        assert.equal(devices[0].encrypted, true, "DescribeImages reports the encrypted snapshot");
        ok(n);
        assert.deepEqual(changes(n).map((s) => `${s.op} ${s.urn} ${(s.diffs ?? []).join(",")}`), []);
    });
    it("EBS encryption by default: the next up plans no change either", async () => {
        const [e, n] = await Promise.all([byDefault, byDefaultAgain]);
        ok(e);
        assert.equal(plain<{ encrypted: boolean }[]>(ofType(e.checkpoint, AMI)[0].outputs.ebsBlockDevices)[0].encrypted, true);
        ok(n);
        assert.deepEqual(changes(n).map((s) => `${s.op} ${s.urn} ${(s.diffs ?? []).join(",")}`), []);
    });
});

describe("lifecycle: refresh, then up", () => {
    it("replaces no AMI, copy, permission, SSM parameter or build resource, and dials no stopped or missing instance", async () => {
        const [f, r] = await Promise.all([first, refreshThenUp]);
        ok(r);
        for (const type of [AMI, COPY, LAUNCH, VOLUME_PERMISSION, SSM, SNAPSHOT, "aws:ebs/volume:Volume", "aws:ec2/volumeAttachment:VolumeAttachment", "command:remote:CopyToRemote"]) {
            assert.deepEqual(stepsOf(r, type).filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`), [], type);
        }
        // The builder (an instance no AMI of ours launched) is neither replaced nor restarted.
        const ours = new Set(ofType(f.checkpoint, AMI).map((a) => a.id));
        for (const s of stepsOf(r, "aws:ec2/instance:Instance")) {
            const inst = stateOf(f.checkpoint, s.urn);
            if (inst && !ours.has(String(plain(inst.inputs).ami))) assert.equal(s.op, "same", `builder ${s.urn}`);
        }
        assert.deepEqual(remoteRunsOf(r).filter((x) => x.instanceState !== "running"), []);
        // What does change: the test instance powered itself off and AWS terminated it, so the refresh dropped
        // it; the up launches a new one from the current AMI and runs the check there again. Nothing else.
        for (const s of changes(r)) {
            if (s.type === "aws:ec2/instance:Instance") assert.equal(plain(stateOf(r.checkpoint, s.urn)!.inputs).ami, amiId(f.checkpoint), s.urn);
            else assert.equal(s.type, "command:remote:Command", `${s.op} ${s.urn}`);
        }
        assert.equal(amiId(r.checkpoint), amiId(f.checkpoint));
        assert.equal(ssmValue(r.checkpoint, PARAM), amiId(f.checkpoint));
    });
});

describe("lifecycle: a second stack in the same account", () => {
    it("registers its own AMI (AMI names are unique per account and region) without touching the first stack's", async () => {
        const [f, p] = await Promise.all([first, prod]);
        ok(p);
        assert.notEqual(amiId(p.checkpoint), amiId(f.checkpoint));
        assert.ok(alive(p.checkpoint, amiId(f.checkpoint)));
        assert.equal(ssmValue(p.checkpoint, PARAM), amiId(f.checkpoint));
    });
});

describe("lifecycle: a failed verification without copies", () => {
    it("leaves amiIds (and amiId) on the previous AMI", async () => {
        const [s, x] = await Promise.all([solo, soloFailed]);
        ok(s);
        assert.ok(x.failure);
        assert.deepEqual(x.checkpoint.outputs.amiIds, s.checkpoint.outputs.amiIds);
        assert.equal(amiId(x.checkpoint), amiId(s.checkpoint));
    });
});

describe("lifecycle: a later up on another machine", () => {
    it("plans nothing and reads no tarball (the first machine's file is not there)", async () => {
        const [a, b] = await Promise.all([onCi, onOtherCi]);
        ok(a);
        ok(b);
        assert.deepEqual(changes(b).map((s) => `${s.op} ${s.urn}`), []);
        assert.deepEqual(remoteRunsOf(b), []);
    });
});

describe("lifecycle: upgrading arch-ami", () => {
    it("a release whose build code changed builds again (never re-runs a finished build's steps on its stopped builder)", async () => {
        const [f, u] = await Promise.all([first, upgraded]);
        await assertReplacedAfterVerification(f, u);
        assert.equal(stepsOf(u, SNAPSHOT, "create").length, 1, "a new snapshot");
        const oldObjects = new Set(Object.keys(f.checkpoint.world.objects));
        assert.deepEqual(remoteRunsOf(u).filter((r) => r.instanceId && oldObjects.has(r.instanceId)).map((r) => r.urn), []);
    });
    it("a release whose verification changed runs the new check on the current AMI, without a new build or AMI", async () => {
        const [f, u] = await Promise.all([first, newCheck]);
        ok(u);
        const id = amiId(f.checkpoint);
        assert.equal(amiId(u.checkpoint), id);
        for (const type of [SNAPSHOT, "aws:ebs/volume:Volume", AMI, COPY, LAUNCH, VOLUME_PERMISSION, SSM]) {
            assert.deepEqual(stepsOf(u, type).filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`), [], type);
        }
        assert.ok(verificationOf(u, id), "the new check ran on an instance launched from the current AMI");
    });
});

describe("lifecycle: pulumi up --replace of the builder", () => {
    it("detaches the volume before attaching it to the new instance (AttachVolume refuses a volume in use)", async () => {
        const u = await builderReplaced;
        ok(u);
        const att = stepsOf(u, "aws:ec2/volumeAttachment:VolumeAttachment");
        const del = att.find((s) => s.op === "delete-replaced");
        const make = att.find((s) => s.op === "create-replacement");
        assert.ok(del && make && del.seq < make.seq, "old attachment deleted, then the new one created");
    });
});

describe("lifecycle: destroy", () => {
    it("deletes everything, dependents first, without dialling any host", async () => {
        const f = await first;
        const d = destroy(f.checkpoint);
        assert.deepEqual(d.checkpoint.resources, []);
        assert.deepEqual(remoteRunsOf(d), []);
        const id = amiId(f.checkpoint);
        assert.ok(!alive(d.checkpoint, id));
        assert.equal(ssmValue(d.checkpoint, PARAM), undefined);
        const amiDelete = step(d, AMI, () => true, "AMI delete");
        for (const type of [COPY, LAUNCH, SSM]) for (const s of stepsOf(d, type)) assert.ok(before(d, s, amiDelete), `${s.name} before the AMI`);
        for (const s of stepsOf(d, SNAPSHOT)) assert.ok(before(d, amiDelete, s), "the AMI before its snapshot");
        assert.deepEqual(instancesFrom(d.checkpoint, id).filter((i) => i.state !== "terminated"), []);
    });
    it("with retainImages leaves the AMI and its snapshot in the account, and nothing else", async () => {
        const r = await retained;
        ok(r);
        const d = destroy(r.checkpoint);
        const kept = Object.values(d.checkpoint.world.objects).filter((o) => o.state === "available").map((o) => o.type).sort();
        assert.deepEqual(
            kept.filter((t) => !t.startsWith("command:") && !t.startsWith("tls:") && !t.startsWith("arch-ami:")),
            [AMI, SNAPSHOT].sort(),
        );
    });
});

// The oracle's own rules, checked on the cases their upstream sources describe.
describe("engine model: rules as upstream states them", () => {
    it("ignoreChanges resets nested paths to the old input, deletes what the old inputs lack, and honours [*] (properties_path.go reset)", () => {
        assert.deepEqual(engineIgnore({ a: { b: 2, c: 3 } }, { a: { b: 1 } }, ["a.b"]), { a: { b: 1, c: 3 } });
        assert.deepEqual(engineIgnore({ a: { b: 2, c: 3 } }, { a: { b: 1 } }, ["a.c"]), { a: { b: 2 } });
        assert.deepEqual(engineIgnore({ l: [{ x: 2, y: 1 }, { x: 3 }] }, { l: [{ x: 0 }, { x: 0 }] }, ["l[*].x"]), { l: [{ x: 0, y: 1 }, { x: 0 }] });
        assert.deepEqual(engineIgnore({ z: 1, k: 2 }, { k: 2 }, ["z"]), { k: 2 });
    });
    it("the bridge matches ignore paths as exact strings or prefixes: [*] matches nothing (diff.go computeIgnoreChanges, instance_diff.go processIgnoreChanges)", () => {
        for (const ig of ["ebsBlockDevices[0].encrypted", "ebsBlockDevices[0]", "ebsBlockDevices"]) assert.ok(bridgeIgnores("ebsBlockDevices[0].encrypted", [ig]), ig);
        assert.ok(!bridgeIgnores("ebsBlockDevices[0].encrypted", ["ebsBlockDevices[*].encrypted"]));
        assert.ok(!bridgeIgnores("ebsBlockDevicesX", ["ebsBlockDevices"]));
    });
    it("refresh writes read-back values only into input keys that exist (schema.go ExtractInputsFromOutputs, isRefresh)", () => {
        const c: Checkpoint = {
            outputs: {},
            world: { encryptionByDefault: false, defaultKmsKeyId: "", objects: { "i-1": { type: "aws:ec2/instance:Instance", id: "i-1", state: "stopped", attrs: {} } }, parameters: {}, remoteRuns: [], seq: 0 },
            resources: [
                { urn: "u", type: "aws:ec2/instance:Instance", name: "i", custom: true, id: "i-1", inputs: { associatePublicIpAddress: true, ami: "ami-1" }, outputs: { associatePublicIpAddress: true, ami: "ami-1", publicIp: "198.51.100.1" }, dependencies: [], propertyDependencies: {}, ignoreChanges: [], retainOnDelete: false },
            ],
        };
        const r = refreshed(c).resources[0];
        assert.deepEqual(r.inputs, { associatePublicIpAddress: false, ami: "ami-1" }, "a stopped instance reads back associatePublicIpAddress false (#33775), no new input keys");
        assert.equal(r.outputs.publicIp, "");
        c.world.objects["i-1"].state = "terminated";
        assert.deepEqual(refreshed(c).resources, [], "a terminated instance is NotFound: dropped from state");
    });
    it("every ForceNew table names its source", () => {
        for (const [type, t] of Object.entries(FORCE_NEW)) assert.match(t.source, /\.go\b/, type);
    });
});
