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
 * The build hash: every image-affecting setting, the AMI registration settings, and the content of every
 * provisioning script. Equal hash means an equal image; a new hash means a new builder chain and AMI.
 */
export function buildHash(settings: Settings, scriptsDir: string = provisionDir()): string {
    const scripts = Object.fromEntries(
        listFiles(scriptsDir).map((f) => [f, sha256(fs.readFileSync(path.join(scriptsDir, f)))]),
    );
    const canonical = JSON.stringify({
        image: Object.fromEntries(Object.entries(settings.image).sort(([a], [b]) => a.localeCompare(b))),
        registration: { bootMode: settings.bootMode, tpmSupport: settings.tpmSupport },
        scripts,
    });
    return sha256(canonical);
}

/** Where things live on the builder; the remote command and the local surrogate use the same paths. */
export const REMOTE = {
    user: "admin",
    tarball: "/home/admin/arch-ami-bootstrap.tar.zst",
    provisionDir: "/home/admin/arch-ami-provision",
    config: "/home/admin/arch-ami-build.conf",
} as const;

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
    ];
    return ["# arch-ami build configuration, rendered by the ArchAmi component", ...values.map(([k, v]) => `${k}=${v}`)]
        .join("\n")
        .concat("\n");
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
 * cloud-init, write the rendered config, run provision.sh as root. Its output streams to `pulumi up`.
 */
export function provisionCommand(config: string): string {
    const b64 = Buffer.from(config).toString("base64");
    return [
        "set -eu",
        "if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || echo 'builder cloud-init reported errors; continuing'; fi",
        `echo ${b64} | base64 -d > ${REMOTE.config}`,
        `sudo bash ${REMOTE.provisionDir}/provision.sh ${REMOTE.config}`,
    ].join("\n");
}
