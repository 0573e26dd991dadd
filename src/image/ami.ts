import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { BootMode } from "../args";

/** The root device name registered on the AMI; the block device mapping uses the same name. */
export const ROOT_DEVICE = "/dev/xvda";

export interface ImageInputs {
    name: string;
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
 * Stage "image" (one per component, not per build): register the AMI from the current build's snapshot.
 * A new build (new snapshot) or a registration change (boot mode, TPM) replaces it; the replacement is
 * registered first under its own name (`registrationSuffix`), then the old AMI is deregistered (or kept,
 * with `retainImages`). A description or tag change updates it in place. Registration never touches a
 * builder.
 */
export function registerImage(i: ImageInputs, parent: pulumi.Resource): aws.ec2.Ami {
    return new aws.ec2.Ami(
        `${i.name}-ami`,
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
            // DescribeImages reports `encrypted` for a snapshot-based mapping, which cannot be set with a
            // snapshot id; ForceNew and not computed in ec2_ami.go, so without this an encrypted AMI would be
            // replaced (under the same name) on every up. Not yet observed on AWS: see README, Lifecycle.
            ignoreChanges: ["ebsBlockDevices[*].encrypted"],
            customTimeouts: { create: "60m", delete: "30m" },
        },
    );
}
