import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { amiNameFor } from "../identity";
import { DistributionSettings, EncryptionSettings } from "../settings/types";

/** One image of a registration: the home AMI or a copy, with its id (after the check) and root snapshot. */
export interface DistributedImage {
    /** `home` or the copy's region. */
    label: string;
    /** Undefined for the home AMI (the provider's region). */
    region?: string;
    id: pulumi.Output<string>;
    snapshotId: pulumi.Input<string>;
}

export interface DistributeInputs {
    /** The registration's prefix (`<name>-<reg12>`): every resource here is `<prefix>-copy-…`, `-launch-…`, `-snapshot-…`. */
    prefix: string;
    /** AMI name prefix and registration suffix (`amiNameFor`). */
    amiNamePrefix: string;
    registrationSuffix: string;
    ami: aws.ec2.Ami;
    snapshotId: pulumi.Input<string>;
    homeRegion: pulumi.Input<string>;
    /** The image is encrypted (`encryption` or EBS encryption by default): so is every copy. */
    encrypted: pulumi.Input<boolean>;
    distribution: DistributionSettings;
    encryption: EncryptionSettings;
    /** Keep superseded copies and their permissions (`retainImages`). */
    retain: boolean;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The verification: copies and sharing wait for it, so nobody anywhere is offered an unchecked AMI. */
    after: pulumi.Resource[];
}

const short = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 8);

/**
 * Stage "distribute" (one per registration): copies of the verified AMI in other regions, launch permissions
 * on the AMI and every copy, and create-volume permission on their snapshots for the shared accounts. With
 * @pulumi/aws v7 each resource takes its own `region`, so the caller's provider and credentials serve every
 * region. Everything waits for the verification. Returns the home AMI and every copy.
 */
export function distribute(d: DistributeInputs, parent: pulumi.Resource): DistributedImage[] {
    const s = d.distribution;
    const afterCheck = { parent, retainOnDelete: d.retain, dependsOn: d.after };
    const images: DistributedImage[] = [{ label: "home", id: d.ami.id, snapshotId: d.snapshotId }];
    for (const c of s.regions) {
        const encrypted = pulumi.output(d.encrypted).apply((e) => e || c.kmsKeyId !== "");
        // Its own name (AMI names are unique per region and account, and a copy's key is ForceNew). The explicit
        // name makes a replacement of this copy (a new regions[].kmsKeyId) delete-before-replace
        // (pulumi-terraform-bridge schema.go nameRequiresDeleteBeforeReplace): the old copy goes first.
        const copyName = pulumi
            .all([d.snapshotId, encrypted])
            .apply(([id, e]) => amiNameFor(d.amiNamePrefix, d.registrationSuffix, `${id} ${e} ${c.kmsKeyId}`));
        const copy = new aws.ec2.AmiCopy(
            `${d.prefix}-copy-${c.region}`,
            {
                region: c.region,
                sourceAmiId: d.ami.id,
                sourceAmiRegion: d.homeRegion,
                name: copyName,
                description: pulumi.interpolate`${copyName}, copied by arch-ami`,
                encrypted,
                ...(c.kmsKeyId ? { kmsKeyId: c.kmsKeyId } : {}),
                ...(s.deprecationTime ? { deprecationTime: s.deprecationTime } : {}),
                tags: pulumi.all([d.tags, copyName]).apply(([t, n]) => ({ ...t, Name: n })),
            },
            { ...afterCheck, customTimeouts: { create: "90m", delete: "30m" } },
        );
        images.push({
            label: c.region,
            region: c.region,
            id: copy.id,
            snapshotId: copy.ebsBlockDevices.apply((b) => b?.[0]?.snapshotId ?? ""),
        });
    }

    const sh = s.sharing;
    const principals: [string, Record<string, string>][] = [
        ...sh.accountIds.map((a): [string, Record<string, string>] => [`account-${a}`, { accountId: a }]),
        ...sh.organizationArns.map((a): [string, Record<string, string>] => [`org-${short(a)}`, { organizationArn: a }]),
        ...sh.organizationalUnitArns.map((a): [string, Record<string, string>] => [`ou-${short(a)}`, { organizationalUnitArn: a }]),
        ...(sh.public ? [["public", { group: "all" }] as [string, Record<string, string>]] : []),
    ];
    for (const img of images) {
        const region = img.region ? { region: img.region } : {};
        for (const [label, who] of principals) {
            new aws.ec2.AmiLaunchPermission(`${d.prefix}-launch-${img.label}-${label}`, { imageId: img.id, ...who, ...region }, afterCheck);
        }
        for (const accountId of sh.accountIds) {
            new aws.ec2.SnapshotCreateVolumePermission(
                `${d.prefix}-snapshot-${img.label}-account-${accountId}`,
                { snapshotId: img.snapshotId, accountId, ...region },
                afterCheck,
            );
        }
    }
    return images;
}
