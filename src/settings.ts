import * as net from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs, BootMode, BootstrapMethod, Filesystem, Kernel } from "./args";

/** Defaults of every optional argument that has one; the README's argument table lists the same. */
export const DEFAULTS = {
    instanceType: "t3.small",
    associatePublicIp: true,
    volumeSize: 4,
    filesystem: Filesystem.Ext4,
    bootMode: BootMode.UefiPreferred,
    tpmSupport: false,
    kernel: Kernel.Linux,
    locale: "en_US.UTF-8",
    timezone: "UTC",
    defaultUser: "arch",
    mirror: "https://geo.mirror.pkgbuild.com/$repo/os/$arch",
    imageMirror: "https://geo.mirror.pkgbuild.com/$repo/os/$arch",
    allowInsecureMirror: false,
    rebuildToken: "",
    bootstrapDate: "latest",
    bootstrapMethod: BootstrapMethod.Official,
    bootstrapMirror: "https://geo.mirror.pkgbuild.com",
} as const;

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
    /** Undefined: detect the deployer's public IPv4 at run time. */
    sshIngressCidrs?: string[];
}

type Check = { ok: boolean; expected: string };

function fail(resourceName: string, arg: string, expected: string, got: unknown): never {
    throw new pulumi.ResourceError(
        `ArchAmi "${resourceName}": argument "${arg}" is invalid: got ${JSON.stringify(got)}; ` +
            `expected ${expected}. Fix "${arg}" and run again (nothing was created).`,
        undefined,
        true,
    );
}

function check(resourceName: string, arg: string, value: unknown, c: Check): void {
    if (!c.ok) {
        fail(resourceName, arg, c.expected, value);
    }
}

function oneOf<T extends string>(values: Record<string, T>, v: unknown): Check {
    const accepted = Object.values(values);
    return { ok: accepted.includes(v as T), expected: `one of ${accepted.map((a) => `"${a}"`).join(", ")}` };
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

function stringList(resourceName: string, arg: string, v: unknown): string[] | undefined {
    if (v === undefined) {
        return undefined;
    }
    check(resourceName, arg, v, {
        ok: Array.isArray(v) && v.every((x) => typeof x === "string"),
        expected: "a list of strings",
    });
    return v as string[];
}

function plainString(resourceName: string, arg: string, v: unknown): string | undefined {
    if (v === undefined) {
        return undefined;
    }
    check(resourceName, arg, v, { ok: typeof v === "string", expected: "a plain string (not an Output)" });
    return v as string;
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
        expected: 'an http(s) or file URL without spaces containing "$repo", e.g. "https://geo.mirror.pkgbuild.com/$repo/os/$arch"',
    });
    secure("mirror", mirror);
    const imageMirror = s("imageMirror") ?? DEFAULTS.imageMirror;
    check(r, "imageMirror", imageMirror, {
        ok: /^https?:\/\/\S+$/.test(imageMirror) && imageMirror.includes("$repo"),
        expected: 'an http(s) URL without spaces containing "$repo" that instances can reach, e.g. "https://geo.mirror.pkgbuild.com/$repo/os/$arch"',
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
    const rebuildToken = s("rebuildToken") ?? DEFAULTS.rebuildToken;
    check(r, "rebuildToken", rebuildToken, { ok: rebuildToken.length <= 256 && !/[\r\n]/.test(rebuildToken), expected: "at most 256 characters on one line" });

    const description = s("description") ?? `Arch Linux (${kernel}, ${filesystem}) built by arch-ami`;
    check(r, "description", description, { ok: description.length <= 255, expected: "at most 255 characters" });
    const instanceType = s("instanceType") ?? DEFAULTS.instanceType;
    check(r, "instanceType", instanceType, { ok: INSTANCE_TYPE.test(instanceType), expected: 'an EC2 instance type, e.g. "t3.small"' });
    const associatePublicIp = args.associatePublicIp ?? DEFAULTS.associatePublicIp;
    check(r, "associatePublicIp", associatePublicIp, { ok: typeof associatePublicIp === "boolean", expected: "true or false" });

    const sshIngressCidrs = stringList(r, "sshIngressCidrs", args.sshIngressCidrs);
    if (sshIngressCidrs !== undefined) {
        check(r, "sshIngressCidrs", sshIngressCidrs, { ok: sshIngressCidrs.length > 0, expected: "at least one CIDR" });
        for (const c of sshIngressCidrs) {
            check(r, "sshIngressCidrs", c, { ok: isCidr(c), expected: 'CIDRs such as "203.0.113.7/32" or "2001:db8::/64"' });
        }
    }

    return {
        image: {
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
        },
        amiNamePrefix: namePrefix,
        description,
        bootMode,
        tpmSupport,
        instanceType,
        associatePublicIp,
        bootstrapMethod,
        bootstrapMirror,
        sshIngressCidrs,
    };
}
