import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { BootMode } from "./args";

/** The root device name registered on the AMI; the block device mapping uses the same name. */
export const ROOT_DEVICE = "/dev/xvda";

export interface ImageInputs {
    name: string;
    buildHash: string;
    amiName: string;
    description: string;
    volumeId: pulumi.Input<string>;
    volumeSize: number;
    bootMode: BootMode;
    tpmSupport: boolean;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Descriptive tags of the AMI (build hash, bootstrap date, kernel). */
    imageTags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The provisioning command: the snapshot waits for it (it ends with the volume unmounted and synced). */
    provisioned: pulumi.Resource;
}

/** Stage "image": snapshot the provisioned volume and register the AMI. */
export function registerImage(i: ImageInputs, parent: pulumi.Resource): { snapshot: aws.ebs.Snapshot; ami: aws.ec2.Ami } {
    const allTags = pulumi.all([i.tags, i.imageTags]).apply(([t, extra]) => ({ ...t, ...extra }));
    const snapshot = new aws.ebs.Snapshot(
        `${i.name}-snapshot`,
        { volumeId: i.volumeId, description: `${i.amiName} root`, tags: pulumi.output(allTags).apply((t) => ({ ...t, Name: i.amiName })) },
        {
            parent,
            dependsOn: [i.provisioned],
            replacementTrigger: i.buildHash,
            customTimeouts: { create: "90m", delete: "30m" },
        },
    );
    const ami = new aws.ec2.Ami(
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
                    snapshotId: snapshot.id,
                    volumeSize: i.volumeSize,
                    volumeType: "gp3",
                    deleteOnTermination: true,
                },
            ],
            enaSupport: true,
            sriovNetSupport: "simple",
            bootMode: i.bootMode,
            imdsSupport: "v2.0",
            ...(i.tpmSupport ? { tpmSupport: "v2.0" } : {}),
            tags: pulumi.output(allTags).apply((t) => ({ ...t, Name: i.amiName })),
        },
        { parent, customTimeouts: { create: "60m", delete: "30m" } },
    );
    return { snapshot, ami };
}
