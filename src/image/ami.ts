import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { BootMode } from "../args";

/** The root device name registered on the AMI; the block device mapping uses the same name. */
export const ROOT_DEVICE = "/dev/xvda";

export interface ImageInputs {
    /** The registration's prefix (`<name>-<reg12>`): the AMI is `<prefix>-ami`. */
    prefix: string;
    amiName: pulumi.Input<string>;
    description: string;
    /** The current build's root snapshot. */
    snapshotId: pulumi.Input<string>;
    volumeSize: number;
    bootMode: BootMode;
    tpmSupport: boolean;
    /** RFC 3339 UTC deprecation time; empty: none. */
    deprecationTime: string;
    /** Keep superseded AMIs (`retainImages`). */
    retain: boolean;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Stage "image" (one per registration, inside `ArchAmiImage`): register the AMI from the build's snapshot. A
 * new build (new snapshot) or a registration change (boot mode, TPM) is a new `ArchAmiImage` with its own
 * URNs, so the new AMI is registered while the old one still exists; the old one is deregistered only when
 * the engine deletes what the program no longer registers, after every step of a successful `up` (pulumi
 * pkg/resource/deploy/step_generator.go `GenerateDeletes`). A description or tag change updates it in place.
 *
 * The explicit `name` makes every replacement of *this* resource delete-before-replace
 * (pulumi-terraform-bridge pkg/tfbridge/schema.go `nameRequiresDeleteBeforeReplace`, used by provider.go
 * `Diff`): only a forced replacement of the same registration (`pulumi up --replace`, a drifted ForceNew
 * field) takes that path, and it deregisters the AMI before registering it again.
 */
export function registerImage(i: ImageInputs, parent: pulumi.Resource): aws.ec2.Ami {
    return new aws.ec2.Ami(
        `${i.prefix}-ami`,
        {
            name: i.amiName,
            description: i.description,
            virtualizationType: "hvm",
            architecture: "x86_64",
            rootDeviceName: ROOT_DEVICE,
            ebsBlockDevices: [
                {
                    deviceName: ROOT_DEVICE,
                    snapshotId: i.snapshotId,
                    volumeSize: i.volumeSize,
                    volumeType: "gp3",
                    // gp3's baseline, explicit: iops is ForceNew and not computed in terraform-provider-aws
                    // (ec2_ami.go), so a read-back value against an unset one would replace the AMI.
                    iops: 3000,
                    throughput: 125,
                    deleteOnTermination: true,
                },
            ],
            enaSupport: true,
            sriovNetSupport: "simple",
            bootMode: i.bootMode,
            imdsSupport: "v2.0",
            ...(i.tpmSupport ? { tpmSupport: "v2.0" } : {}),
            ...(i.deprecationTime ? { deprecationTime: i.deprecationTime } : {}),
            tags: pulumi.all([i.tags, i.amiName]).apply(([t, n]) => ({ ...t, Name: n })),
        },
        {
            parent,
            retainOnDelete: i.retain,
            // terraform-provider-aws ec2_ami.go: ebs_block_device.encrypted is Optional + ForceNew, not Computed;
            // Read stores what DescribeImages reports (true for an encrypted snapshot), and Create refuses it
            // together with snapshot_id ("can't set both 'snapshot_id' and 'encrypted'"), so it cannot be set.
            // The bridge matches ignore paths as exact strings against Pulumi property paths, visiting a set's
            // elements as `prop[i]` and dropping every TF attribute under that element's key
            // (pulumi-terraform-bridge pkg/tfbridge/diff.go computeIgnoreChanges + visitPropertyValue,
            // pkg/tfshim/sdk-v2/instance_diff.go processIgnoreChanges): `[*]` matches nothing, `[0]` is the
            // one root mapping. Without it an encrypted AMI would be replaced on every up (state holds `true`).
            ignoreChanges: ["ebsBlockDevices[0].encrypted"],
            customTimeouts: { create: "60m", delete: "30m" },
        },
    );
}
