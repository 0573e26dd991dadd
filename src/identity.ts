// The identities of a build, a registration and a check: what makes each of them new. A new build hash is a
// new ArchAmiBuild, a new registration suffix a new ArchAmiImage, a new check id a new test instance.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { provisionDir } from "./render";
import { Settings } from "./settings/types";

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
export function buildHash(settings: Settings, scriptsDir: string = provisionDir(), srcDir: string = __dirname): string {
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
        code: buildCodeDigest(srcDir),
    });
    return sha256(canonical);
}

/** The top-level modules that make a build besides src/build/: the identities and the rendering. */
export const BUILD_CODE_MODULES = ["identity", "render"];

/**
 * The component code that shapes a build's resources, as it runs (src/build/, identity and render, compiled
 * or not: `ext` is this module's own extension). A package upgrade that changes how a build is made is a new
 * build: changed inputs inside a finished build would re-run its provisioning against the stopped builder,
 * or restart the builder.
 */
export function buildCodeDigest(srcDir: string = __dirname, ext: string = path.extname(__filename)): string {
    const dir = path.join(srcDir, "build");
    const code = (f: string) => /\.(js|ts)$/.test(f) && !f.endsWith(".d.ts");
    const files = [...BUILD_CODE_MODULES.map((m) => path.join(srcDir, `${m}${ext}`)), ...fs.readdirSync(dir).filter(code).map((f) => path.join(dir, f))];
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


/** Everything that defines a verification, as deployed (the instance id and the host key are filled in later). */
export interface CheckDefinition {
    /** The command with a placeholder for the instance id: verify.sh, its arguments and the whole wrapper. */
    command: string;
    /** The test instance's user data with placeholders for the host key. */
    userData: string;
    instanceType: string;
    extraGiB: number;
    defaultUser: string;
    encryption: { enabled: boolean; kmsKeyId: string };
    connection: { associatePublicIp: boolean; dialErrorLimit: number; perDialTimeout: number };
    shutdownBehavior: string;
}

/**
 * The check's identity: 12 hex of everything in its definition. Its resources are named
 * `<registration>-verify-<check id>-…`, so a changed check is a new test instance and a new run.
 */
export function checkId(def: CheckDefinition): string {
    return sha256(JSON.stringify(def)).slice(0, 12);
}
