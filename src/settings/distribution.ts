// Validation of where the AMI goes and who may use it (encryption, regions, sharing, deprecation, SSM,
// verification). What only the account can tell is checked by the preflight (src/preflight.ts).
import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "../args";
import { DEFAULTS, NESTED_DEFAULTS } from "../argSpec";
import { check, plainObject, plainString, stringList } from "../validate";
import { DistributionSettings, EncryptionSettings } from "./types";

// Key ARNs only: terraform-provider-aws validates kms_key_id as an ARN (aws_ami_copy, aws_ebs_volume), and
// the volume reads back the key ARN, so an alias would replace it on the next up. mrk-: multi-region keys.
const KMS_KEY = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d$/;
const ACCOUNT_ID = /^\d{12}$/;
const ORG_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
const OU_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;
const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;
const SSM_NAME = /^(\/[A-Za-z0-9_.-]+)+$|^[A-Za-z0-9_.-]+$/;
const KMS_EXPECTED = 'a KMS key ARN ("arn:aws:kms:<region>:111122223333:key/<key id or mrk-…>"; the provider accepts no alias or bare id)';


/** A key ARN, in `region` when that is known. */
function kmsKey(resourceName: string, arg: string, v: unknown, region: string | undefined): string {
    if (v === undefined) {
        return "";
    }
    check(resourceName, arg, v, { ok: typeof v === "string" && KMS_KEY.test(v), expected: KMS_EXPECTED });
    const keyRegion = KMS_KEY.exec(v as string)![1];
    check(resourceName, arg, v, {
        ok: region === undefined || keyRegion === region,
        expected: `a key in ${region} (KMS keys are regional; this one is in ${keyRegion})`,
    });
    return v as string;
}

/** The deployer's home region as the aws provider will see it, when it can be known before running. */
function homeRegion(): string | undefined {
    return new pulumi.Config("aws").get("region") || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined;
}

export function resolveEncryption(r: string, args: ArchAmiArgs): EncryptionSettings {
    const e = plainObject(r, "encryption", args.encryption);
    return { enabled: e !== undefined, kmsKeyId: kmsKey(r, "encryption.kmsKeyId", e?.kmsKeyId, homeRegion()) };
}

function isUtcTime(v: string): boolean {
    const m = RFC3339_UTC.exec(v);
    if (!m) {
        return false;
    }
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
    // An hour of 24 or more rolls into a later day, which the date test refuses; a 60th minute or second at
    // 23:59 would too, but not at another hour.
    return d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3] && +m[5] < 60 && +m[6] < 60;
}

const isPublicRequested = (args: ArchAmiArgs) => (args.sharing as { public?: unknown } | undefined)?.public === true;

export function resolveDistribution(r: string, args: ArchAmiArgs, encryption: EncryptionSettings): DistributionSettings {
    const regionList = args.regions ?? [];
    check(r, "regions", regionList, { ok: Array.isArray(regionList), expected: 'a list of { region, kmsKeyId? }, e.g. [{ region: "eu-central-1" }]' });
    const home = homeRegion();
    const regions = regionList.map((c, i) => {
        const o = plainObject(r, `regions[${i}]`, c) ?? {};
        check(r, `regions[${i}].region`, o.region, { ok: typeof o.region === "string" && REGION.test(o.region), expected: 'an AWS region such as "eu-central-1"' });
        return { region: o.region as string, kmsKeyId: kmsKey(r, `regions[${i}].kmsKeyId`, o.kmsKeyId, o.region as string) };
    });
    const names = regions.map((x) => x.region);
    check(r, "regions", names, { ok: new Set(names).size === names.length, expected: "each region at most once" });
    check(r, "regions", names, {
        ok: home === undefined || !names.includes(home),
        expected: `regions other than the home region "${home}", where the AMI itself is registered`,
    });

    const sh = plainObject(r, "sharing", args.sharing) ?? {};
    const list = (key: string, re: RegExp, what: string) => {
        const v = stringList(r, `sharing.${key}`, sh[key]) ?? [];
        for (const x of v) check(r, `sharing.${key}`, x, { ok: re.test(x), expected: what });
        check(r, `sharing.${key}`, v, { ok: new Set(v).size === v.length, expected: "each entry at most once" });
        return v;
    };
    const accountIds = list("accountIds", ACCOUNT_ID, "12-digit AWS account ids");
    const organizationArns = list("organizationArns", ORG_ARN, "organization ARNs such as arn:aws:organizations::111122223333:organization/o-exampleorgid");
    const organizationalUnitArns = list("organizationalUnitArns", OU_ARN, "OU ARNs such as arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-examplerootid-exampleouid");
    const isPublic = sh.public ?? NESTED_DEFAULTS.SharingArgs.public;
    check(r, "sharing.public", isPublic, { ok: typeof isPublic === "boolean", expected: "true or false" });
    check(r, "sharing.acknowledgePublic", sh.acknowledgePublic, {
        ok: !isPublic || sh.acknowledgePublic === true,
        expected: "true together with public: true (everyone may launch the image and read every file in it)",
    });
    check(r, "sharing.public", isPublic, {
        ok: !(isPublic && (encryption.enabled || regions.some((x) => x.kmsKeyId))),
        expected: "false with encryption: AWS does not make encrypted AMIs public",
    });
    // Sharing an image encrypted under the AWS-managed key (encryption without kmsKeyId, or EBS encryption by
    // default) is refused by the preflight, which reads the key the volume would actually get (src/preflight.ts).
    const shared = accountIds.length + organizationArns.length + organizationalUnitArns.length > 0;
    regions.forEach((c, i) =>
        check(r, `regions[${i}].kmsKeyId`, c.kmsKeyId, {
            ok: !(shared && encryption.enabled && c.kmsKeyId === ""),
            expected: `a customer managed key in ${c.region}: the copy of an encrypted AMI is encrypted, with that region's aws/ebs key unless one is given, and that key cannot be shared`,
        }),
    );

    const deprecationTime = plainString(r, "deprecationTime", args.deprecationTime) ?? "";
    check(r, "deprecationTime", deprecationTime, {
        ok: deprecationTime === "" || isUtcTime(deprecationTime),
        expected: 'an RFC 3339 UTC time with seconds, such as "2027-06-30T00:00:00Z"',
    });
    if (deprecationTime !== "") {
        // EC2 refuses a deprecation time in the past or more than 10 years ahead (2 for public AMIs) when it
        // registers or copies an AMI. Checked against the clock here, never put into an input.
        const at = Date.parse(deprecationTime);
        const now = Date.now();
        const years = isPublicRequested(args) ? 2 : 10;
        check(r, "deprecationTime", deprecationTime, {
            ok: at > now + 60 * 60 * 1000 && at < now + years * 365 * 24 * 3600 * 1000,
            expected: `a time at least an hour from now and at most ${years} years ahead${years === 2 ? " (public AMIs)" : ""}; EC2 refuses others when it registers an AMI, so move it forward (or remove it) before it passes`,
        });
    }
    const ssmParameterName = plainString(r, "ssmParameterName", args.ssmParameterName) ?? "";
    check(r, "ssmParameterName", ssmParameterName, {
        ok:
            ssmParameterName === "" ||
            (ssmParameterName.length <= 1011 && SSM_NAME.test(ssmParameterName) && !/^\/?(aws|ssm)/i.test(ssmParameterName) && ssmParameterName.split("/").length <= 16),
        expected: 'an SSM parameter name such as "/images/arch/latest" (letters, digits, _ . - and /, not starting with aws or ssm, at most 15 levels)',
    });
    const verify = args.verify ?? DEFAULTS.verify;
    check(r, "verify", verify, { ok: typeof verify === "boolean", expected: "true or false" });

    return {
        regions,
        sharing: { accountIds, organizationArns, organizationalUnitArns, public: isPublic as boolean },
        deprecationTime,
        ssmParameterName,
        verify,
    };
}
