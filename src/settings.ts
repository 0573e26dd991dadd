import * as net from "node:net";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs, BootMode, BootstrapMethod, Filesystem, Kernel } from "./args";
import { DEFAULTS, NESTED_DEFAULTS } from "./argSpec";
import { check, fail, oneOf, plainObject, plainString, stringList } from "./validate";
import { CustomizationSettings, MAX_COMMAND_BYTES, resolveCustomization } from "./customization";
import { REMOTE, TARGET_DEVICE, provisionCommand, provisionDir, renderConfig } from "./buildConfig";

/** The constant defaults, generated from the TSDoc in args.ts (the one place they are written). */
export { DEFAULTS, NESTED_DEFAULTS } from "./argSpec";

/** The Arch Linux Archive: daily repository snapshots and every bootstrap release. */
export const ARCHIVE = "https://archive.archlinux.org";
/** The first bootstrap release published as `.tar.zst` (earlier ones are `.tar.gz`, which provision.sh does not read). */
export const FIRST_ZSTD_RELEASE = "2024.04.01";
/** Words YAML 1.1 reads as booleans or null: cloud-init would see no user name. */
const YAML_NON_STRING = /^(y|yes|n|no|true|false|on|off|null|~)$/i;

/** Length of the build-hash suffix appended to the AMI name. */
export const NAME_HASH_LENGTH = 12;

/** Settings that decide the image's content: any change is a new build hash and a new AMI. */
export interface ImageSettings {
    volumeSize: number;
    filesystem: Filesystem;
    kernel: Kernel;
    packages: string[];
    locale: string;
    timezone: string;
    /** Empty: not pinned, the instance takes the metadata hostname. */
    hostname: string;
    defaultUser: string;
    mirror: string;
    imageMirror: string;
    allowInsecureMirror: boolean;
    /** Only enters the build hash. */
    rebuildToken: string;
    bootstrapDate: string;
    bootstrapSha256: string;
    /** Files, scripts, services, kernel parameters, local and AUR packages (all empty by default). */
    customization: CustomizationSettings;
}

/** Encryption of the build's volume (and so of its snapshot and AMI). Part of the build hash. */
export interface EncryptionSettings {
    enabled: boolean;
    /** Empty: the AWS-managed key. */
    kmsKeyId: string;
}

/** Where the AMI goes and who may use it; none of it changes the image or the build hash. */
export interface DistributionSettings {
    regions: { region: string; kmsKeyId: string }[];
    sharing: { accountIds: string[]; organizationArns: string[]; organizationalUnitArns: string[]; public: boolean };
    /** Empty: not deprecated. */
    deprecationTime: string;
    /** Empty: no parameter. */
    ssmParameterName: string;
    verify: boolean;
}

/** Every argument, validated, with defaults applied. */
export interface Settings {
    image: ImageSettings;
    amiNamePrefix: string;
    description: string;
    bootMode: BootMode;
    tpmSupport: boolean;
    instanceType: string;
    associatePublicIp: boolean;
    bootstrapMethod: BootstrapMethod;
    bootstrapMirror: string;
    /** Undefined: the latest official Debian 13 AMI. */
    builderAmi?: pulumi.Input<string>;
    /** Keep superseded AMIs and their snapshots (and the last ones on destroy). */
    retainImages: boolean;
    encryption: EncryptionSettings;
    distribution: DistributionSettings;
    /** Undefined: detect the deployer's public IPv4 at run time. */
    sshIngressCidrs?: string[];
    /** Absolute paths of the `localPackages` on the deploying machine (uploaded; only their content is hashed). */
    localPackagePaths: string[];
}


const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]+$/;
const PACKAGE = /^[a-z0-9@_+][a-z0-9@._+-]*$/;
const LOCALE = /^[A-Za-z]{1,8}(_[A-Za-z]{2,3})?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?$/;
const TIMEZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const DATE = /^(\d{4})\.(\d{2})\.(\d{2})$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;

function isDate(v: string): boolean {
    const m = DATE.exec(v);
    if (!m) {
        return false;
    }
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

/** True when `cidr` is an IPv4 or IPv6 network in CIDR notation. */
export function isCidr(cidr: string): boolean {
    const [addr, bits, ...rest] = cidr.split("/");
    if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) {
        return false;
    }
    const kind = net.isIP(addr);
    return (kind === 4 && +bits <= 32) || (kind === 6 && +bits <= 128);
}

function isTimezone(tz: string): boolean {
    if (!TIMEZONE.test(tz) || tz.split("/").some((p) => p === "." || p === "..")) {
        return false;
    }
    try {
        new Intl.DateTimeFormat("en", { timeZone: tz });
        return true;
    } catch {
        return false;
    }
}

function isHostname(h: string): boolean {
    return h.length <= 253 && h.split(".").every((l) => HOST_LABEL.test(l));
}


/**
 * Validates every argument and applies defaults. Throws a `pulumi.ResourceError` naming the argument and
 * what it accepts; it runs before the component registers anything.
 */
export function resolveSettings(resourceName: string, args: ArchAmiArgs): Settings {
    const r = resourceName;
    const s = (arg: keyof ArchAmiArgs) => plainString(r, arg, args[arg]);

    const namePrefix = s("name") ?? r;
    check(r, "name", namePrefix, {
        ok: namePrefix.length >= 3 && namePrefix.length <= 128 - NAME_HASH_LENGTH - 1 && AMI_NAME.test(namePrefix),
        expected: `3 to ${128 - NAME_HASH_LENGTH - 1} characters of A-Z a-z 0-9 ( ) [ ] space . / - ' @ _ (the build hash is appended)`,
    });

    const volumeSize = args.volumeSize ?? DEFAULTS.volumeSize;
    check(r, "volumeSize", volumeSize, {
        ok: Number.isInteger(volumeSize) && volumeSize >= 2 && volumeSize <= 16384,
        expected: "a whole number of GiB from 2 to 16384",
    });

    const filesystem = args.filesystem ?? DEFAULTS.filesystem;
    check(r, "filesystem", filesystem, oneOf(Filesystem, filesystem));
    const bootMode = args.bootMode ?? DEFAULTS.bootMode;
    check(r, "bootMode", bootMode, oneOf(BootMode, bootMode));
    const kernel = args.kernel ?? DEFAULTS.kernel;
    check(r, "kernel", kernel, oneOf(Kernel, kernel));

    const tpmSupport = args.tpmSupport ?? DEFAULTS.tpmSupport;
    check(r, "tpmSupport", tpmSupport, {
        ok: typeof tpmSupport === "boolean" && !(tpmSupport && bootMode === BootMode.LegacyBios),
        expected: `false, or true only with bootMode "uefi" or "uefi-preferred" (NitroTPM needs UEFI; bootMode is "${bootMode}")`,
    });

    const packages = stringList(r, "packages", args.packages) ?? [];
    for (const p of packages) {
        check(r, "packages", p, {
            ok: p.length <= 127 && PACKAGE.test(p),
            expected: "Arch package names: lowercase letters, digits and @ . _ + -, not starting with . or -",
        });
    }

    const locale = s("locale") ?? DEFAULTS.locale;
    check(r, "locale", locale, { ok: LOCALE.test(locale), expected: 'a locale as in /etc/locale.gen, e.g. "en_US.UTF-8"' });
    const timezone = s("timezone") ?? DEFAULTS.timezone;
    check(r, "timezone", timezone, { ok: isTimezone(timezone), expected: 'a tz database zone, e.g. "UTC" or "Europe/Berlin"' });
    const hostname = s("hostname") ?? "";
    check(r, "hostname", hostname, {
        ok: hostname === "" || isHostname(hostname),
        expected: "a hostname: dot-separated labels of a-z 0-9 and inner '-', each 1-63 characters",
    });
    const defaultUser = s("defaultUser") ?? DEFAULTS.defaultUser;
    check(r, "defaultUser", defaultUser, {
        ok: USER.test(defaultUser) && defaultUser !== "root" && !YAML_NON_STRING.test(defaultUser),
        expected:
            "a user name of a-z 0-9 _ - (starting with a letter or _, at most 32, not root, " +
            "not a word YAML reads as a boolean or null: y, yes, n, no, true, false, on, off, null)",
    });

    const allowInsecureMirror = args.allowInsecureMirror ?? DEFAULTS.allowInsecureMirror;
    check(r, "allowInsecureMirror", allowInsecureMirror, { ok: typeof allowInsecureMirror === "boolean", expected: "true or false" });
    const secure = (arg: string, url: string) =>
        check(r, arg, url, {
            ok: allowInsecureMirror || !url.startsWith("http://"),
            expected:
                'an https:// URL: plain http lets anyone on the path serve stale repository databases or withhold ' +
                "updates; use https, or set allowInsecureMirror: true to accept that risk",
        });

    const snapshot = s("repositorySnapshot");
    if (snapshot !== undefined) {
        check(r, "repositorySnapshot", snapshot, { ok: isDate(snapshot), expected: 'a date "YYYY.MM.DD"' });
    }
    const mirror = snapshot
        ? `${ARCHIVE}/repos/${snapshot.replace(/\./g, "/")}/$repo/os/$arch`
        : (s("mirror") ?? DEFAULTS.mirror);
    check(r, "mirror", mirror, {
        ok: /^(https?|file):\/\/\S+$/.test(mirror) && mirror.includes("$repo"),
        expected: `an http(s) or file URL without spaces containing "$repo", e.g. "${DEFAULTS.mirror}"`,
    });
    secure("mirror", mirror);
    const imageMirror = s("imageMirror") ?? DEFAULTS.imageMirror;
    check(r, "imageMirror", imageMirror, {
        ok: /^https?:\/\/\S+$/.test(imageMirror) && imageMirror.includes("$repo"),
        expected: `an http(s) URL without spaces containing "$repo" that instances can reach, e.g. "${DEFAULTS.imageMirror}"`,
    });
    secure("imageMirror", imageMirror);

    const bootstrapMethod = args.bootstrapMethod ?? DEFAULTS.bootstrapMethod;
    check(r, "bootstrapMethod", bootstrapMethod, oneOf(BootstrapMethod, bootstrapMethod));
    // With a repository snapshot, the bootstrap release of that month (releases are dated the 1st), from the Archive.
    const snapshotRelease = snapshot ? `${snapshot.slice(0, 8)}01` : undefined;
    const explicitDate = s("bootstrapDate");
    const bootstrapDate = explicitDate ?? snapshotRelease ?? DEFAULTS.bootstrapDate;
    check(r, "bootstrapDate", bootstrapDate, {
        ok: bootstrapDate === "latest" || isDate(bootstrapDate),
        expected: '"latest" or a release date "YYYY.MM.DD"',
    });
    if (bootstrapDate !== "latest" && bootstrapDate < FIRST_ZSTD_RELEASE) {
        const arg = explicitDate === undefined ? "repositorySnapshot" : "bootstrapDate";
        fail(
            r,
            arg,
            `a bootstrap release from ${FIRST_ZSTD_RELEASE} on (the first .tar.zst release; earlier ones are .tar.gz, ` +
                `which arch-ami does not read)` +
                (arg === "repositorySnapshot" ? '; or keep the snapshot and set "bootstrapDate" to a later release' : ""),
            arg === "repositorySnapshot" ? snapshot : bootstrapDate,
        );
    }
    const bootstrapSha256 = (s("bootstrapSha256") ?? "").toLowerCase();
    check(r, "bootstrapSha256", bootstrapSha256, {
        ok: bootstrapSha256 === "" || /^[0-9a-f]{64}$/.test(bootstrapSha256),
        expected: "64 hexadecimal digits",
    });
    check(r, "bootstrapSha256", bootstrapSha256, {
        ok: bootstrapSha256 === "" || bootstrapMethod !== BootstrapMethod.Pacstrap,
        expected: 'no value with bootstrapMethod "pacstrap" (a tarball built here is new every time; it can never match a pin)',
    });
    const bootstrapMirror = s("bootstrapMirror") ?? (snapshot ? ARCHIVE : DEFAULTS.bootstrapMirror);
    check(r, "bootstrapMirror", bootstrapMirror, {
        ok: /^(https?|file):\/\/[^\s$]+$/.test(bootstrapMirror),
        expected: 'an http(s) or file URL without spaces, e.g. "https://geo.mirror.pkgbuild.com"',
    });
    secure("bootstrapMirror", bootstrapMirror);
    const rebuildToken = s("rebuildToken") ?? "";
    check(r, "rebuildToken", rebuildToken, { ok: rebuildToken.length <= 256 && !/[\r\n]/.test(rebuildToken), expected: "at most 256 characters on one line" });

    const { customization, localPackagePaths } = resolveCustomization(r, args, {
        aurUrlDefault: DEFAULTS.aurUrl,
        allowInsecureMirror,
        ownedPaths: path.join(provisionDir(), "owned-paths"),
        defaultUser,
    });

    const description = s("description") ?? `Arch Linux (${kernel}, ${filesystem}) built by arch-ami`;
    check(r, "description", description, { ok: description.length <= 255, expected: "at most 255 characters" });
    const instanceType = s("instanceType") ?? DEFAULTS.instanceType;
    check(r, "instanceType", instanceType, { ok: INSTANCE_TYPE.test(instanceType), expected: 'an EC2 instance type, e.g. "t3.small"' });
    const associatePublicIp = args.associatePublicIp ?? DEFAULTS.associatePublicIp;
    check(r, "associatePublicIp", associatePublicIp, { ok: typeof associatePublicIp === "boolean", expected: "true or false" });

    const retainImages = args.retainImages ?? DEFAULTS.retainImages;
    check(r, "retainImages", retainImages, { ok: typeof retainImages === "boolean", expected: "true or false" });

    const encryption = resolveEncryption(r, args);
    const distribution = resolveDistribution(r, args, encryption);

    const sshIngressCidrs = stringList(r, "sshIngressCidrs", args.sshIngressCidrs);
    check(r, "sshIngressCidrs", sshIngressCidrs, {
        ok: associatePublicIp || sshIngressCidrs !== undefined,
        expected:
            "the CIDRs the builder's private address is reached from (VPN, Direct Connect, a bastion's subnet), e.g. " +
            '["10.0.0.0/16"]: with associatePublicIp false the default (this machine\'s public IPv4) can never be where ' +
            "the connection comes from",
    });
    if (sshIngressCidrs !== undefined) {
        check(r, "sshIngressCidrs", sshIngressCidrs, { ok: sshIngressCidrs.length > 0, expected: "at least one CIDR" });
        for (const c of sshIngressCidrs) {
            check(r, "sshIngressCidrs", c, { ok: isCidr(c), expected: 'CIDRs such as "203.0.113.7/32" or "2001:db8::/64"' });
        }
    }

    const image: ImageSettings = {
        volumeSize,
        filesystem,
        kernel,
        packages,
        locale,
        timezone,
        hostname,
        defaultUser,
        mirror,
        imageMirror,
        allowInsecureMirror,
        rebuildToken,
        bootstrapDate,
        bootstrapSha256,
        customization,
    };
    checkCommandSize(r, image);

    return {
        image,
        amiNamePrefix: namePrefix,
        description,
        bootMode,
        tpmSupport,
        instanceType,
        associatePublicIp,
        bootstrapMethod,
        bootstrapMirror,
        builderAmi: args.builderAmi,
        retainImages,
        encryption,
        distribution,
        sshIngressCidrs,
        localPackagePaths,
    };
}

/**
 * The provisioning command carries the rendered config in its command line, which Linux limits (see
 * MAX_COMMAND_BYTES): measured on the real rendering, with the longest volume id and the real upload folder.
 */
function checkCommandSize(r: string, image: ImageSettings): void {
    const config = renderConfig(image, { volumeId: "vol-0123456789abcdef0", deviceName: TARGET_DEVICE });
    const bytes = Buffer.byteLength(provisionCommand(config, path.posix.join(REMOTE.uploadDir, path.basename(provisionDir()))));
    if (bytes <= MAX_COMMAND_BYTES) return;
    const c = image.customization;
    const sum = (xs: { content: string }[]) => xs.reduce((n, x) => n + Buffer.byteLength(x.content) + 64, 0);
    const arg = sum(c.files) >= sum(c.scripts) ? (c.files.length ? "files" : "packages") : "scripts";
    fail(
        r,
        arg,
        `files, scripts and lists that render a provisioning command of at most ${MAX_COMMAND_BYTES} bytes (this one has ` +
            `${bytes}; the config travels in the remote command's command line, one argument Linux limits to 128 KiB). ` +
            "Ship larger content as a package (localPackages), or let a script download it",
        `${c.files.length} files and ${c.scripts.length} scripts`,
    );
}

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

function resolveEncryption(r: string, args: ArchAmiArgs): EncryptionSettings {
    const e = plainObject(r, "encryption", args.encryption);
    return { enabled: e !== undefined, kmsKeyId: kmsKey(r, "encryption.kmsKeyId", e?.kmsKeyId, homeRegion()) };
}

function isUtcTime(v: string): boolean {
    const m = RFC3339_UTC.exec(v);
    if (!m) {
        return false;
    }
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
    return d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3] && +m[4] < 24 && +m[5] < 60 && +m[6] < 60;
}

const isPublicRequested = (args: ArchAmiArgs) => (args.sharing as { public?: unknown } | undefined)?.public === true;

function resolveDistribution(r: string, args: ArchAmiArgs, encryption: EncryptionSettings): DistributionSettings {
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
            ok: !(shared && (encryption.enabled || c.kmsKeyId !== "") && c.kmsKeyId === ""),
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
