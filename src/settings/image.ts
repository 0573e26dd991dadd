// Validation of the arguments that decide the image's content (all of it enters the build hash).
import * as path from "node:path";
import { ArchAmiArgs, BootstrapMethod, Filesystem, Kernel } from "../args";
import { DEFAULTS } from "../argSpec";
import { MAX_COMMAND_BYTES, resolveCustomization } from "../customization";
import { REMOTE, TARGET_DEVICE, provisionCommand, provisionDir, renderConfig } from "../render";
import { check, fail, oneOf, plainString, stringList } from "../validate";
import { ImageSettings } from "./types";

/** The Arch Linux Archive: daily repository snapshots and every bootstrap release. */
export const ARCHIVE = "https://archive.archlinux.org";
/** The first bootstrap release published as `.tar.zst` (earlier ones are `.tar.gz`, which provision.sh does not read):
 * archlinux/archiso CHANGELOG.rst, [76] (2024-03-30) keeps releng's tarball gzip, the next version makes it zstd. */
export const FIRST_ZSTD_RELEASE = "2024.05.01";
/** Words YAML 1.1 reads as booleans or null: cloud-init would see no user name. */
const YAML_NON_STRING = /^(y|yes|n|no|true|false|on|off|null|~)$/i;

const PACKAGE = /^[a-z0-9@_+][a-z0-9@._+-]*$/;
const LOCALE = /^[A-Za-z]{1,8}(_[A-Za-z]{2,3})?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?$/;
const TIMEZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/;
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const DATE = /^(\d{4})\.(\d{2})\.(\d{2})$/;

function isDate(v: string): boolean {
    const m = DATE.exec(v);
    if (!m) {
        return false;
    }
    // A real calendar day: the date written back is the one given (2026.02.30 comes back as 2026-03-02).
    const d = new Date(0);
    d.setUTCFullYear(+m[1], +m[2] - 1, +m[3]);
    return d.toISOString().slice(0, 10) === `${m[1]}-${m[2]}-${m[3]}`;
}

/** A zone name of the tz database (ICU knows it) made only of the characters zone names use, so that
 * /usr/share/zoneinfo/<zone> stays inside that folder: no "." at all, hence no ".." segment. */
function isTimezone(tz: string): boolean {
    if (!TIMEZONE.test(tz)) {
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

/** The image settings and how the bootstrap tarball is obtained (the tarball command's settings). */
export interface ResolvedImage {
    image: ImageSettings;
    bootstrapMethod: BootstrapMethod;
    bootstrapMirror: string;
    /** Absolute paths of the `localPackages` on the deploying machine. */
    localPackagePaths: string[];
}

/** Validates the image's arguments (content, mirrors, bootstrap, customization) and applies defaults. */
export function resolveImage(r: string, args: ArchAmiArgs): ResolvedImage {
    const s = (arg: keyof ArchAmiArgs) => plainString(r, arg, args[arg]);

    const volumeSize = args.volumeSize ?? DEFAULTS.volumeSize;
    check(r, "volumeSize", volumeSize, {
        ok: Number.isInteger(volumeSize) && volumeSize >= 2 && volumeSize <= 16384,
        expected: "a whole number of GiB from 2 to 16384",
    });

    const filesystem = args.filesystem ?? DEFAULTS.filesystem;
    check(r, "filesystem", filesystem, oneOf(Filesystem, filesystem));
    const kernel = args.kernel ?? DEFAULTS.kernel;
    check(r, "kernel", kernel, oneOf(Kernel, kernel));

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
    return { image, bootstrapMethod, bootstrapMirror, localPackagePaths };
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
