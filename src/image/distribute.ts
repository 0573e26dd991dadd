import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { amiNameFor } from "../buildConfig";
import { DistributionSettings, EncryptionSettings } from "../settings";

export interface DistributeInputs {
    name: string;
    /** AMI name prefix and registration suffix (`amiNameFor`). */
    amiNamePrefix: string;
    registrationSuffix: string;
    ami: aws.ec2.Ami;
    snapshotId: pulumi.Input<string>;
    homeRegion: pulumi.Output<string>;
    distribution: DistributionSettings;
    encryption: EncryptionSettings;
    /** Keep superseded copies and their permissions (`retainImages`). */
    retain: boolean;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Sharing and the SSM parameters wait for these (the verification): nobody is offered an unchecked AMI. */
    after: pulumi.Resource[];
}

const short = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 8);

/**
 * Stage "distribute" (one per component): copies of the AMI in other regions, launch permissions on the
 * AMI and every copy, create-volume permission on their snapshots for the shared accounts, and the SSM
 * parameter in every region. With @pulumi/aws v7 each resource takes its own `region`, so the caller's
 * provider and credentials serve every region. Copies start as soon as the home AMI exists; sharing and
 * the parameters wait for the verification. Returns region → AMI id, the home region included.
 */
export function distribute(d: DistributeInputs, parent: pulumi.Resource): pulumi.Output<Record<string, string>> {
    const s = d.distribution;
    const retainOpts = { parent, retainOnDelete: d.retain };
    const afterCheck = { ...retainOpts, dependsOn: d.after };
    const images: { label: string; region?: string; id: pulumi.Output<string>; snapshotId: pulumi.Input<string> }[] = [
        { label: "home", id: d.ami.id, snapshotId: d.snapshotId },
    ];
    // A copy into the home region would register a second AMI under the same name there.
    const homeRegion = d.homeRegion.apply((home) => {
        if (s.regions.some((c) => c.region === home)) {
            throw new pulumi.ResourceError(
                `ArchAmi "${d.name}": argument "regions" lists the home region "${home}", where the AMI itself is registered; remove it`,
                parent,
            );
        }
        return home;
    });
    for (const c of s.regions) {
        const encrypted = d.encryption.enabled || c.kmsKeyId !== "";
        // Its own name: encryption and key are ForceNew on a copy, and a replacement is created before the
        // old copy is deleted, so a name shared with the old copy would fail (InvalidAMIName.Duplicate).
        const copyName = pulumi
            .output(d.snapshotId)
            .apply((id) => amiNameFor(d.amiNamePrefix, d.registrationSuffix, `${id} ${encrypted} ${c.kmsKeyId}`));
        const copy = new aws.ec2.AmiCopy(
            `${d.name}-copy-${c.region}`,
            {
                region: c.region,
                sourceAmiId: d.ami.id,
                sourceAmiRegion: homeRegion,
                name: copyName,
                description: pulumi.interpolate`${copyName}, copied by arch-ami`,
                ...(encrypted ? { encrypted: true, ...(c.kmsKeyId ? { kmsKeyId: c.kmsKeyId } : {}) } : {}),
                ...(s.deprecationTime ? { deprecationTime: s.deprecationTime } : {}),
                tags: pulumi.all([d.tags, copyName]).apply(([t, n]) => ({ ...t, Name: n })),
            },
            { ...retainOpts, customTimeouts: { create: "90m", delete: "30m" } },
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
            new aws.ec2.AmiLaunchPermission(`${d.name}-launch-${img.label}-${label}`, { imageId: img.id, ...who, ...region }, afterCheck);
        }
        for (const accountId of sh.accountIds) {
            new aws.ec2.SnapshotCreateVolumePermission(
                `${d.name}-snapshot-${img.label}-account-${accountId}`,
                { snapshotId: img.snapshotId, accountId, ...region },
                afterCheck,
            );
        }
        if (s.ssmParameterName) {
            new aws.ssm.Parameter(
                `${d.name}-ssm-${img.label}`,
                // insecureValue: an AMI id is no secret (pulumi-aws makes `value` one).
                { name: s.ssmParameterName, type: "String", dataType: "aws:ec2:image", insecureValue: img.id, tags: d.tags, ...region },
                { parent, dependsOn: d.after },
            );
        }
    }
    return pulumi
        .all([homeRegion, ...images.map((i) => i.id)])
        .apply(([home, ...ids]) => Object.fromEntries(images.map((img, n) => [img.region ?? home, ids[n]])));
}
