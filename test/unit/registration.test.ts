// One registration's resources exactly as registered (src/image/ami.ts, distribute.ts): the AMI and a copy
// without the optional fields (no TPM, no deprecation, no key), their names recomputed from the definition in
// src/identity.ts (12 hex of sha256 over `<suffix> <snapshot>`, a copy's over `<suffix> <snapshot> <encrypted>
// <key>`), their timeouts, and the permission names per principal (an organization or OU by 8 hex of sha256
// of its ARN).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BASE_ARGS, captureOptions, capturedByTypeName, installMocks, optionsByName, registered, settle, value } from "./harness";

installMocks();

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const ORG = "arn:aws:organizations::111122223333:organization/o-abcdefghij";
const OU = "arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdefgh12";
const ACCOUNT = "444455556666";

describe("a registration without the optional fields, as registered", () => {
    let reg: string;
    let suffix: string;
    let snapshot: string;
    const byName = (n: string) => registered.find((r) => r.name === n)!;
    before(async () => {
        const { ArchAmi } = await import("../../src");
        const a = new ArchAmi(
            "regis",
            { ...BASE_ARGS, name: "myimages", description: "my image", regions: [{ region: "eu-west-1" }], sharing: { accountIds: [ACCOUNT], organizationArns: [ORG], organizationalUnitArns: [OU] } },
            { transformations: [captureOptions()] },
        );
        await value(a.amiId);
        await settle();
        reg = registered.find((r) => r.type === "arch-ami:index:ArchAmiImage")!.name;
        suffix = reg.slice("regis-".length);
        snapshot = `${registered.find((r) => r.type === "arch-ami:index:ArchAmiBuild")!.name}-snapshot-id`;
    });

    it("the AMI: its name from the registration suffix and the snapshot, no TPM, no deprecation", () => {
        const ami = byName(`${reg}-ami`).inputs;
        const name = `myimages-${sha(`${suffix} ${snapshot}`).slice(0, 12)}`;
        assert.equal(ami.name, name);
        assert.equal(ami.description, "my image");
        assert.equal(ami.bootMode, "uefi-preferred");
        assert.ok(!("tpmSupport" in ami), "no tpmSupport input without TPM");
        assert.ok(!("deprecationTime" in ami), "no deprecationTime input without one");
        assert.deepEqual(ami.ebsBlockDevices, [{ deviceName: "/dev/xvda", snapshotId: snapshot, volumeSize: 4, volumeType: "gp3", iops: 3000, throughput: 125, deleteOnTermination: true }]);
        assert.equal((ami.tags as Record<string, string>).Name, name);
        const o = optionsByName.get(`${reg}-ami`)!;
        assert.deepEqual(o.customTimeouts, { create: "60m", delete: "30m" });
        assert.equal(o.retainOnDelete, false);
        assert.equal(capturedByTypeName.get(`aws:ec2/ami:Ami::${reg}-ami`)!.parentUrn, capturedByTypeName.get(`arch-ami:index:ArchAmiImage::${reg}`)!.urn);
    });

    it("the copy: its own name, described, unencrypted without a key field, tagged with its name, 90/30 min timeouts", () => {
        const copy = byName(`${reg}-copy-eu-west-1`).inputs;
        const name = `myimages-${sha(`${suffix} ${snapshot} false `).slice(0, 12)}`;
        assert.equal(copy.name, name);
        assert.equal(copy.description, `${name}, copied by arch-ami`);
        assert.equal(copy.encrypted, false);
        assert.ok(!("kmsKeyId" in copy), "no kmsKeyId input without a key");
        assert.ok(!("deprecationTime" in copy), "no deprecationTime input without one");
        assert.deepEqual(copy.tags, { team: "platform", Name: name });
        const o = optionsByName.get(`${reg}-copy-eu-west-1`)!;
        assert.deepEqual(o.customTimeouts, { create: "90m", delete: "30m" });
        assert.equal(o.retainOnDelete, false);
        assert.equal(capturedByTypeName.get(`aws:ec2/amiCopy:AmiCopy::${reg}-copy-eu-west-1`)!.parentUrn, capturedByTypeName.get(`arch-ami:index:ArchAmiImage::${reg}`)!.urn);
    });

    it("launch permissions per image and principal, named by account id or the ARN's 8-hex digest; create-volume for accounts only", () => {
        const labels = [`account-${ACCOUNT}`, `org-${sha(ORG).slice(0, 8)}`, `ou-${sha(OU).slice(0, 8)}`];
        const launch = registered.filter((r) => r.type === "aws:ec2/amiLaunchPermission:AmiLaunchPermission" && r.name.startsWith(`${reg}-`));
        assert.deepEqual(launch.map((p) => p.name).sort(), ["home", "eu-west-1"].flatMap((img) => labels.map((l) => `${reg}-launch-${img}-${l}`)).sort());
        const home = launch.filter((p) => p.name.includes("-launch-home-"));
        for (const p of home) assert.ok(!("region" in p.inputs), `${p.name}: the home image's permission has no region input`);
        assert.deepEqual(byName(`${reg}-launch-home-org-${sha(ORG).slice(0, 8)}`).inputs, { imageId: `${reg}-ami-id`, organizationArn: ORG });
        assert.deepEqual(byName(`${reg}-launch-eu-west-1-ou-${sha(OU).slice(0, 8)}`).inputs, { imageId: `${reg}-copy-eu-west-1-id`, organizationalUnitArn: OU, region: "eu-west-1" });
        const vol = registered.filter((r) => r.type === "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission" && r.name.startsWith(`${reg}-`));
        assert.deepEqual(vol.map((p) => p.name).sort(), [`${reg}-snapshot-eu-west-1-account-${ACCOUNT}`, `${reg}-snapshot-home-account-${ACCOUNT}`]);
        assert.deepEqual(byName(`${reg}-snapshot-home-account-${ACCOUNT}`).inputs, { snapshotId: snapshot, accountId: ACCOUNT });
        for (const p of [...launch, ...vol]) assert.equal(optionsByName.get(p.name)!.retainOnDelete, false, p.name);
    });
});
