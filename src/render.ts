// How a build is laid out and rendered on the builder: where the package's scripts are, where things land
// on the builder, the config provision.sh reads, the tarball script's environment and the provisioning
// command line. Part of the code that makes a build (identity.ts buildCodeDigest).
import * as fs from "node:fs";
import * as path from "node:path";
import { BootstrapMethod } from "./args";
import { ImageSettings } from "./settings/types";

/**
 * Folder of the provisioning scripts shipped with the package (`provision/`): the nearest `provision/`
 * holding provision.sh in `from` or up to three folders above it (src/ in the repository, bin/src/ when built).
 */
export function provisionDir(from: string = __dirname): string {
    let dir = from;
    for (let i = 0; i < 4; i++) {
        const candidate = path.join(dir, "provision");
        if (fs.existsSync(path.join(candidate, "provision.sh"))) {
            return candidate;
        }
        dir = path.dirname(dir);
    }
    throw new Error(`arch-ami: provision/provision.sh not found in ${from} or the three folders above it; the package is incomplete`);
}


/** The verification script shipped with the package. */
export function verifyScript(scriptsDir: string = provisionDir()): string {
    return fs.readFileSync(path.join(scriptsDir, "verify.sh"), "utf8");
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
        // The tests' trust-anchor override, emptied: pulumi-command runs a local command with the deployer's
        // whole environment and then these (provider/pkg/provider/local/commandOutputs.go, `cmd.Env =
        // os.Environ()` then the command's own; Go's os/exec keeps the last value of a duplicate key), so a
        // value left in the user's shell never replaces the pinned Arch release keys.
        ARCH_AMI_TEST_TRUST_ANCHORS: "",
        ARCH_AMI_TEST_MODE: "",
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
