import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { BootstrapMethod } from "./args";
import { ImageSettings, Settings } from "./settings";

/** Folder of the provisioning scripts shipped with the package (`provision/`). */
export function provisionDir(): string {
    let dir = __dirname;
    for (let i = 0; i < 4; i++) {
        const candidate = path.join(dir, "provision");
        if (fs.existsSync(path.join(candidate, "provision.sh"))) {
            return candidate;
        }
        dir = path.dirname(dir);
    }
    throw new Error(`arch-ami: provision/provision.sh not found above ${__dirname}; the package is incomplete`);
}

/** Every file below `dir` as a sorted list of paths relative to it. */
function listFiles(dir: string, prefix = ""): string[] {
    return fs
        .readdirSync(path.join(dir, prefix), { withFileTypes: true })
        .flatMap((e) => {
            const rel = path.posix.join(prefix, e.name);
            return e.isDirectory() ? listFiles(dir, rel) : [rel];
        })
        .sort();
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * The build hash: every image-affecting setting and the content of every provisioning script. Equal hash
 * means an equal image; a new hash means a new build (a new chain of builder resources) and a new AMI.
 * Registration settings (boot mode, TPM, description, name) are not in it: they re-register the AMI from
 * the same snapshot (`registrationSuffix`).
 */
export function buildHash(settings: Settings, scriptsDir: string = provisionDir()): string {
    const scripts = Object.fromEntries(
        listFiles(scriptsDir)
            .filter((f) => !NOT_IN_BUILD.includes(f))
            .map((f) => [f, sha256(fs.readFileSync(path.join(scriptsDir, f)))]),
    );
    const canonical = JSON.stringify({
        image: Object.fromEntries(Object.entries(settings.image).sort(([a], [b]) => a.localeCompare(b))),
        // The volume's encryption: the snapshot and the AMI take it from the volume.
        ...(settings.encryption.enabled ? { encryption: settings.encryption } : {}),
        scripts,
        code: buildCodeDigest(),
    });
    return sha256(canonical);
}

/**
 * The component code that shapes a build's resources, as it runs (src/build/ and this file, compiled or
 * not). A package upgrade that changes how a build is made is a new build: changed inputs inside a
 * finished build would re-run its provisioning against the stopped builder, or restart the builder.
 */
export function buildCodeDigest(srcDir: string = __dirname, self: string = path.basename(__filename)): string {
    const dir = path.join(srcDir, "build");
    const code = (f: string) => /\.(js|ts)$/.test(f) && !f.endsWith(".d.ts");
    const files = [path.join(srcDir, self), ...fs.readdirSync(dir).filter(code).map((f) => path.join(dir, f))];
    return sha256(
        files
            .map((f) => `${path.relative(srcDir, f)} ${sha256(fs.readFileSync(f))}`)
            .sort()
            .join("\n"),
    );
}

/**
 * Files of provision/ that do not shape the image: the post-registration check (it has its own identity)
 * and the path rules the component validates `files` with.
 */
export const NOT_IN_BUILD = ["verify.sh", "owned-paths"];

/** The verification script shipped with the package. */
export function verifyScript(scriptsDir: string = provisionDir()): string {
    return fs.readFileSync(path.join(scriptsDir, "verify.sh"), "utf8");
}

/** Length of the build-hash prefix in the names of a build's resources (`<name>-<hash12>-builder`). */
export const BUILD_NAME_HASH_LENGTH = 12;

/** Name of one build: the component's name and the build hash, so every build has its own URNs. */
export function buildName(resourceName: string, hash: string): string {
    return `${resourceName}-${hash.slice(0, BUILD_NAME_HASH_LENGTH)}`;
}

/**
 * The AMI name's suffix: unique per stack and stable across `up`s. It covers the project, the stack and
 * the component's name (two stacks or two components with the same arguments never register the same
 * name; AMI names are unique per account and region), the build hash and every property that makes EC2
 * register a new AMI (boot mode, TPM), so a re-registration is created under a new name before the old
 * AMI is deregistered. Description is updated in place and not part of it.
 */
export function registrationSuffix(
    stack: { project: string; stack: string; resourceName: string },
    hash: string,
    registration: { bootMode: string; tpmSupport: boolean },
): string {
    return sha256(JSON.stringify([stack.project, stack.stack, stack.resourceName, hash, registration.bootMode, registration.tpmSupport])).slice(0, 12);
}

/** The AMI name: `<prefix>-<12 hex>` from the registration suffix and the snapshot it is registered from. */
export function amiNameFor(prefix: string, suffix: string, snapshotId: string): string {
    return `${prefix}-${sha256(`${suffix} ${snapshotId}`).slice(0, 12)}`;
}

/**
 * Where things live on the builder (Debian's default user `admin`, whose home exists). The tarball is a
 * file uploaded to a path that does not exist yet; the scripts folder is uploaded into `uploadDir` and,
 * given without a trailing slash, lands in `<uploadDir>/provision` (see `scriptsLanding`).
 */
export const REMOTE = {
    user: "admin",
    tarball: "/home/admin/arch-ami-bootstrap.tar.zst",
    uploadDir: "/home/admin/arch-ami",
    config: "/home/admin/arch-ami-build.conf",
    /** Each of `localPackages` is uploaded to `<packagesDir>/<file name>` (a file to a path that does not exist yet). */
    packagesDir: "/home/admin/arch-ami-packages",
} as const;

/** Where a local package file (`localPackages`) lands on the builder. */
export function localPackageRemotePath(localPath: string): string {
    return path.posix.join(REMOTE.packagesDir, path.basename(localPath));
}

/** Device name the target volume is attached as. Nitro ignores it (NVMe); Xen types show /dev/xvdf. */
export const TARGET_DEVICE = "/dev/sdf";

/** Values only known once the builder exists. */
export interface RuntimeSettings {
    /** The target EBS volume id (vol-…). */
    volumeId: string;
    /** Device name the volume is attached as (found there on Xen instance types). */
    deviceName: string;
}

/**
 * Renders the one config file `provision.sh` reads (format and keys: provision/README.md). Values are
 * validated by `resolveSettings`, so none contains a newline.
 */
export function renderConfig(image: ImageSettings, runtime: RuntimeSettings): string {
    const values: [string, string | number][] = [
        ["VOLUME_ID", runtime.volumeId],
        ["DEVICE_NAME", runtime.deviceName],
        ["BOOTSTRAP_TARBALL", REMOTE.tarball],
        ["FILESYSTEM", image.filesystem],
        ["KERNEL", image.kernel],
        ["PACKAGES", image.packages.join(" ")],
        ["LOCALE", image.locale],
        ["TIMEZONE", image.timezone],
        ["HOSTNAME", image.hostname],
        ["DEFAULT_USER", image.defaultUser],
        ["MIRROR", image.mirror],
        ["IMAGE_MIRROR", image.imageMirror],
        ...customizationConfig(image),
    ];
    return ["# arch-ami build configuration, rendered by the ArchAmi component", ...values.map(([k, v]) => `${k}=${v}`)]
        .join("\n")
        .concat("\n");
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/**
 * The customization keys (provision/README.md): lists space-separated, and one `FILE`/`SCRIPT` line per
 * item in order, their content base64-encoded (any text, one line).
 */
function customizationConfig(image: ImageSettings): [string, string][] {
    const c = image.customization;
    return [
        ["SERVICES", c.services.join(" ")],
        ["KERNEL_PARAMETERS", c.kernelParameters.join(" ")],
        ["LOCAL_PACKAGES", c.localPackages.map((p) => localPackageRemotePath(p.file)).join(" ")],
        ["AUR_URL", c.aurUrl],
        ["AUR_PACKAGES", c.aurPackages.join(" ")],
        ...c.files.map((f): [string, string] => ["FILE", `${f.path} ${f.mode} ${f.owner} ${b64(f.content)}`]),
        ...c.scripts.map((x): [string, string] => ["SCRIPT", `${x.name} ${b64(x.content)}`]),
    ];
}

/**
 * The environment of `build-tarball.sh` (provision/README.md). Trust anchors are not settings: the release
 * signing key fingerprints live in the script, so rotating them changes the build hash.
 */
export function tarballEnvironment(image: ImageSettings, method: BootstrapMethod, bootstrapMirror: string): Record<string, string> {
    return {
        ARCH_AMI_BOOTSTRAP_METHOD: method,
        ARCH_AMI_BOOTSTRAP_DATE: image.bootstrapDate,
        ARCH_AMI_BOOTSTRAP_SHA256: image.bootstrapSha256,
        ARCH_AMI_BOOTSTRAP_MIRROR: bootstrapMirror,
        ARCH_AMI_MIRROR: image.mirror,
        ARCH_AMI_ALLOW_INSECURE_MIRROR: String(image.allowInsecureMirror),
    };
}

/**
 * The command line the remote command runs on the builder as the `admin` user: wait for the builder's
 * cloud-init, write the rendered config, run provision.sh (in `scriptsRemoteDir`, where the upload put
 * it) as root. Its output streams to `pulumi up`.
 */
export function provisionCommand(config: string, scriptsRemoteDir: string): string {
    const b64 = Buffer.from(config).toString("base64");
    return [
        "set -eu",
        "if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || echo 'builder cloud-init reported errors; continuing'; fi",
        `echo ${b64} | base64 -d > ${REMOTE.config}`,
        `sudo bash ${scriptsRemoteDir}/provision.sh ${REMOTE.config}`,
    ].join("\n");
}
