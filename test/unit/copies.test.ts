// A copy's encryption and its snapshot (src/image/distribute.ts). CopyImage encrypts the copy when the source
// is encrypted or a KmsKeyId is given (EC2 API reference, CopyImage Encrypted/KmsKeyId), and AWS reports the
// copy's root snapshot in its block device mappings (terraform-provider-aws ec2_ami_copy.go reads
// ebs_block_device from DescribeImages): the create-volume permission of a copy names that snapshot, and an
// empty snapshot id while AWS reports no mapping.
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { BASE_ARGS, captureOptions, installMocks, registered, settle, value } from "./harness";

const EU_KEY = "arn:aws:kms:eu-central-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef";

installMocks({
    // What AWS answers for a copy: its root snapshot in eu-central-1, no mapping (yet) in eu-west-1.
    engine: async (args, created) =>
        args.type === "aws:ec2/amiCopy:AmiCopy"
            ? { ...created, state: { ...created.state, ebsBlockDevices: args.name.endsWith("-copy-eu-central-1") ? [{ deviceName: "/dev/xvda", snapshotId: "snap-0copyeu" }] : [] } }
            : created,
});

const copyOf = (prefix: string, region: string) => registered.find((r) => r.type === "aws:ec2/amiCopy:AmiCopy" && r.name.startsWith(prefix) && r.name.endsWith(`-copy-${region}`))!;

describe("copies", () => {
    before(async () => {
        const { ArchAmi } = await import("../../src");
        const plain = new ArchAmi("plain", { ...BASE_ARGS, regions: [{ region: "eu-central-1", kmsKeyId: EU_KEY }, { region: "eu-west-1" }], sharing: { accountIds: ["444455556666"] } }, { transformations: [captureOptions()] });
        const enc = new ArchAmi("enc", { ...BASE_ARGS, encryption: {}, regions: [{ region: "eu-west-1" }] }, { transformations: [captureOptions()] });
        await Promise.all([value(plain.amiId), value(enc.amiId)]);
        await settle();
    });

    it("of an unencrypted image: encrypted exactly when given a key", () => {
        assert.equal(copyOf("plain-", "eu-central-1").inputs.encrypted, true);
        assert.equal(copyOf("plain-", "eu-central-1").inputs.kmsKeyId, EU_KEY);
        assert.equal(copyOf("plain-", "eu-west-1").inputs.encrypted, false);
    });

    it("of an encrypted image: always encrypted, with or without a key", () => {
        assert.equal(copyOf("enc-", "eu-west-1").inputs.encrypted, true);
    });

    it("shares the copy's own snapshot, and an empty id while AWS reports no mapping", () => {
        const perms = registered.filter((r) => r.type === "aws:ec2/snapshotCreateVolumePermission:SnapshotCreateVolumePermission" && r.name.startsWith("plain-"));
        const of = (label: string) => perms.find((p) => p.name.includes(`-snapshot-${label}-account-`))!.inputs.snapshotId;
        assert.equal(of("eu-central-1"), "snap-0copyeu");
        assert.equal(of("eu-west-1"), "");
    });
});
