import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { REMOTE, localPackageRemotePath } from "../render";

export interface UploadInputs {
    buildName: string;
    connection: command.types.input.remote.ConnectionArgs;
    /** The bootstrap tarball (or, on a machine without it, the placeholder: see `tarballAsset`). */
    tarball: pulumi.Input<pulumi.asset.Asset>;
    /** Local folder of the provisioning scripts (`provision/`). */
    scriptsDir: string;
    /** Absolute paths of the `localPackages` on this machine. */
    localPackages: string[];
}

export interface Uploads {
    resources: command.remote.CopyToRemote[];
    /** Where the scripts folder lands on the builder. */
    scriptsRemoteDir: string;
}

/** One upload of a build: a local file or folder and the `remotePath` its `CopyToRemote` is given. */
export interface UploadSpec {
    kind: "file" | "folder";
    /** Local path. */
    source: string;
    remotePath: string;
}

/**
 * Every upload of a build, by what it carries: the component's `CopyToRemote`s (below) and
 * `arch-ami build-local`'s staging (src/local/build.ts) are both made from this, so a local build gets
 * exactly the files the builder gets.
 */
export function uploadSpecs(
    scriptsDir: string,
    localPackages: string[],
): { tarball: Omit<UploadSpec, "source">; scripts: UploadSpec; packages: UploadSpec[] } {
    return {
        // No source: the tarball's path is only known once its command ran (each caller supplies it).
        tarball: { kind: "file", remotePath: REMOTE.tarball },
        scripts: { kind: "folder", source: scriptsDir, remotePath: REMOTE.uploadDir },
        packages: localPackages.map((p) => ({ kind: "file", source: p, remotePath: localPackageRemotePath(p) })),
    };
}

/**
 * Where `CopyToRemote` puts a local folder given without a trailing slash: inside `remotePath`, under the
 * folder's own name, whether `remotePath` exists yet or not (pulumi-command
 * `provider/pkg/provider/remote/copyController.go`, `sftpCopy`). test/unit/uploadLayout.test.ts checks
 * this against an independent model of that function.
 */
export function scriptsLanding(scriptsDir: string): string {
    return path.posix.join(REMOTE.uploadDir, path.basename(scriptsDir));
}

/**
 * Stage "upload" (one per build): the bootstrap tarball, the provisioning scripts and each local package
 * (to `localPackageRemotePath`, a file to a path that does not exist yet: its folder is created), over SFTP. Both
 * ignore `source` and `connection`, which never change meaningfully within one build: the tarball file
 * exists only on the machine that ran this build's tarball command, and a stopped builder has no public
 * address. A new build is a new pair of uploads (new URNs), created from the new build's own inputs.
 */
export function uploadInputs(u: UploadInputs, parent: pulumi.Resource): Uploads {
    const opts = { parent, ignoreChanges: ["source", "connection"], customTimeouts: { create: "20m" } };
    const specs = uploadSpecs(u.scriptsDir, u.localPackages);
    const tarball = new command.remote.CopyToRemote(
        `${u.buildName}-upload-tarball`,
        { connection: u.connection, source: u.tarball, remotePath: specs.tarball.remotePath },
        opts,
    );
    const scripts = new command.remote.CopyToRemote(
        `${u.buildName}-upload-scripts`,
        { connection: u.connection, source: new pulumi.asset.FileArchive(specs.scripts.source), remotePath: specs.scripts.remotePath },
        opts,
    );
    const packages = specs.packages.map(
        (p, i) =>
            new command.remote.CopyToRemote(
                `${u.buildName}-upload-package-${i}`,
                { connection: u.connection, source: new pulumi.asset.FileAsset(p.source), remotePath: p.remotePath },
                opts,
            ),
    );
    return { resources: [tarball, scripts, ...packages], scriptsRemoteDir: scriptsLanding(u.scriptsDir) };
}
