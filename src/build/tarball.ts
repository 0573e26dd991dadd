import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ImageSettings } from "../settings/types";
import { BootstrapMethod } from "../args";
import { tarballEnvironment } from "../render";

/** What build-tarball.sh reports on its last line of output. */
export interface TarballInfo {
    /** Local path of the tarball (on the machine that ran `pulumi up` last). */
    path: string;
    sha256: string;
    /** Release date of the bootstrap tarball, YYYY.MM.DD. */
    date: string;
}

/** Parses build-tarball.sh's last output line: `{"path": …, "sha256": …, "date": …}`. */
export function parseTarballInfo(stdout: string): TarballInfo {
    const lines = stdout.trim().split("\n");
    const last = lines[lines.length - 1];
    const info = JSON.parse(last) as TarballInfo;
    if (typeof info.path !== "string" || !/^[0-9a-f]{64}$/.test(info.sha256) || typeof info.date !== "string") {
        throw new Error(`arch-ami: build-tarball.sh printed an unexpected last line: ${last}`);
    }
    return info;
}

/**
 * Stage "tarball" (one per build): a local command that downloads (or pacstraps) the Arch bootstrap
 * tarball into the user's cache. It runs the script's content, not its path, so its inputs are the same
 * on every machine. It belongs to the build, so every new build runs it (on the machine doing that `up`,
 * which therefore holds the file its upload reads).
 */
export function createTarball(
    buildName: string,
    image: ImageSettings,
    method: BootstrapMethod,
    bootstrapMirror: string,
    scriptsDir: string,
    parent: pulumi.Resource,
    ready: pulumi.Input<pulumi.Resource[]>,
): { info: pulumi.Output<TarballInfo>; urn: pulumi.Output<string> } {
    const script = fs.readFileSync(path.join(scriptsDir, "build-tarball.sh"), "utf8");
    const cmd = new command.local.Command(
        `${buildName}-tarball`,
        {
            create: script,
            interpreter: ["/bin/bash", "-c"],
            environment: tarballEnvironment(image, method, bootstrapMirror),
            logging: "stderr",
        },
        // Everything in the environment that shapes the tarball is in the build hash (the build's name);
        // bootstrapMethod and bootstrapMirror say how to get it, which must not re-run a finished build.
        { parent, dependsOn: ready, ignoreChanges: ["environment"], customTimeouts: { create: "30m" } },
    );
    return { info: cmd.stdout.apply(parseTarballInfo), urn: cmd.urn };
}

/** First bytes of the text uploaded in place of a tarball that is not on this machine (provision.sh refuses it). */
export const PLACEHOLDER_MARKER = "arch-ami placeholder";

/**
 * The upload source for the tarball. The tarball command runs only in a real update, so in a preview its
 * output is unknown: the preview gets a known placeholder, since pulumi-command 1.2.1's CopyToRemote
 * Check rejects an unknown source ("either asset or archive must be set", pulumi-command #754).
 * On a machine that does not hold the file (a later `up` elsewhere, same build) a placeholder stands in:
 * the upload ignores `source`, which never changes within a build, so it is neither read from disk nor
 * uploaded. Only an upload that does not exist yet (a first `up` interrupted after the tarball command,
 * retried on another machine) would send it; provision.sh then stops with the text below, which says
 * how to recover.
 */
export function tarballAsset(info: pulumi.Output<TarballInfo>, tarballCommandUrn: pulumi.Output<string>): pulumi.Output<pulumi.asset.Asset> {
    if (pulumi.runtime.isDryRun()) {
        return pulumi.output(new pulumi.asset.StringAsset(`${PLACEHOLDER_MARKER}: preview (the tarball command runs during the update)\n`));
    }
    return pulumi.all([info, tarballCommandUrn]).apply(([t, urn]) =>
        fs.existsSync(t.path)
            ? new pulumi.asset.FileAsset(t.path)
            : new pulumi.asset.StringAsset(
                  `${PLACEHOLDER_MARKER}: the bootstrap tarball ${t.sha256} is not on the machine that ran this update.\n` +
                      `Run the tarball command again on this machine: pulumi up --replace '${urn}'\n`,
              ),
    );
}
