// The checks that need the account: what AWS will do with the arguments in this account and region. They run
// as invokes (data sources) before anything is created, and every resource of the component waits for them
// (`ready`), so a refusal leaves nothing behind.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { Settings } from "./settings/types";

/** What the account and region tell before anything is built. */
export interface Preflight {
    /** The provider's region, where the AMI is registered. */
    homeRegion: string;
    /** EBS encryption by default is on in the home region (`aws ec2 get-ebs-encryption-by-default`). */
    encryptedByDefault: boolean;
    /**
     * Whether the build's snapshot, the AMI and its copies are encrypted: `encryption` is set, or the account
     * encrypts every new EBS volume (a volume created without `encrypted` is encrypted anyway, and its snapshot
     * and every AMI registered from it are too).
     */
    encrypted: boolean;
}

function refuse(resourceName: string, arg: string, what: string, fix: string, parent: pulumi.Resource): never {
    throw new pulumi.ResourceError(`ArchAmi "${resourceName}": argument "${arg}" cannot work in this account: ${what}. ${fix} (nothing was created).`, parent, true);
}

/**
 * Reads the home region, EBS encryption by default, the enabled regions of the provider's partition and, when
 * an encrypted image is shared with principals, whether its key is the AWS-managed `aws/ebs` (which AWS does
 * not let other accounts use). Refuses, with a `pulumi.ResourceError` naming the argument and the fix:
 * a copy to the home region or to a region that is not enabled (`mars-north-1` matches the pattern, but
 * DescribeRegions does not list it), public sharing of an encrypted image, and sharing with accounts,
 * organizations or OUs of an image encrypted under the AWS-managed key.
 */
export function preflight(resourceName: string, s: Settings, parent: pulumi.Resource): pulumi.Output<Preflight> {
    const opts = { parent };
    const d = s.distribution;
    const sh = d.sharing;
    const shared = sh.accountIds.length + sh.organizationArns.length + sh.organizationalUnitArns.length > 0;
    const home = aws.getRegionOutput({}, opts).region;
    const byDefault = aws.ebs.getEncryptionByDefaultOutput({}, opts).enabled;
    // Without allRegions, DescribeRegions lists only the regions enabled for the account (opt-in regions once
    // opted in), in the provider's partition (terraform-provider-aws regions_data_source.go).
    const enabledRegions = d.regions.length ? aws.getRegionsOutput({}, opts).names : pulumi.output<string[]>([]);
    return pulumi.all([home, byDefault, enabledRegions]).apply(([homeRegion, encryptedByDefault, enabled]) => {
        d.regions.forEach((c, i) => {
            if (c.region === homeRegion) {
                refuse(resourceName, `regions[${i}].region`, `"${c.region}" is the home region, where the AMI itself is registered`, "Remove it from regions", parent);
            }
            if (!enabled.includes(c.region)) {
                refuse(
                    resourceName,
                    `regions[${i}].region`,
                    `"${c.region}" is not a region enabled for this account (enabled: ${[...enabled].sort().join(", ")})`,
                    "Fix the name, or enable the opt-in region (aws account enable-region) before copying to it",
                    parent,
                );
            }
        });
        const encrypted = s.encryption.enabled || encryptedByDefault;
        const result: Preflight = { homeRegion, encryptedByDefault, encrypted };
        if (sh.public && encrypted) {
            refuse(
                resourceName,
                "sharing.public",
                `EBS encryption by default is enabled in ${homeRegion}, so the snapshot and the AMI are encrypted, and AWS does not make encrypted AMIs public`,
                "Share with accounts or organizations under a customer managed key (encryption.kmsKeyId) instead, or build in a region without encryption by default",
                parent,
            );
        }
        if (!shared || !encrypted) {
            return pulumi.output(result);
        }
        d.regions.forEach((c, i) => {
            if (c.kmsKeyId === "") {
                refuse(
                    resourceName,
                    `regions[${i}].kmsKeyId`,
                    `the image is encrypted (EBS encryption by default in ${homeRegion}), so the copy in ${c.region} is encrypted with that region's aws/ebs key, which cannot be shared`,
                    `Set regions[${i}].kmsKeyId to a customer managed key in ${c.region}`,
                    parent,
                );
            }
        });
        // The key the volume is encrypted with: the given one, else the account's default EBS key of the region
        // (GetEbsDefaultKmsKeyId: `alias/aws/ebs` unless a customer managed key was set as default).
        const keyId = s.encryption.kmsKeyId !== "" ? pulumi.output(s.encryption.kmsKeyId) : aws.ebs.getDefaultKmsKeyOutput({}, opts).keyArn;
        return aws.kms.getKeyOutput({ keyId }, opts).apply((key) => {
            if (key.keyManager === "AWS") {
                refuse(
                    resourceName,
                    "encryption.kmsKeyId",
                    `the snapshot would be encrypted with the AWS-managed key ${key.arn}, which AWS does not let the accounts, organizations or OUs in "sharing" use`,
                    "Set encryption.kmsKeyId to a customer managed key in the home region and grant the shared accounts kms:DescribeKey, kms:CreateGrant, kms:Decrypt, kms:ReEncrypt* and kms:GenerateDataKey* on it",
                    parent,
                );
            }
            return result;
        });
    });
}

/**
 * `dependsOn` for every resource the component creates directly: it resolves (to no resource) once the
 * preflight passed, and a refusal rejects it, so the SDK never sends their registration (the Node SDK awaits
 * an Output-valued dependsOn before RegisterResource).
 */
export function readyGate(p: pulumi.Output<Preflight>): pulumi.Output<pulumi.Resource[]> {
    return p.apply(() => [] as pulumi.Resource[]);
}
