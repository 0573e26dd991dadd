import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface SnapshotInputs {
    buildName: string;
    volumeId: pulumi.Input<string>;
    description: string;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Keep the snapshot when its build is superseded or the stack destroyed (`retainImages`). */
    retain: boolean;
    /** The provisioning command: the snapshot waits for it (it ends with the volume unmounted and synced). */
    provisioned: pulumi.Resource;
}

/** Stage "snapshot" (one per build): the provisioned, unmounted volume becomes the image's root snapshot. */
export function snapshotVolume(s: SnapshotInputs, parent: pulumi.Resource): aws.ebs.Snapshot {
    return new aws.ebs.Snapshot(
        `${s.buildName}-snapshot`,
        { volumeId: s.volumeId, description: s.description, tags: s.tags },
        { parent, dependsOn: [s.provisioned], retainOnDelete: s.retain, customTimeouts: { create: "90m", delete: "30m" } },
    );
}
