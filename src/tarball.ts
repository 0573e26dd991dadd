import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ImageSettings } from "./settings";
import { BootstrapMethod } from "./args";
import { tarballEnvironment } from "./buildConfig";

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
    const last = stdout.trim().split("\n").pop() ?? "";
    const info = JSON.parse(last) as TarballInfo;
    if (typeof info.path !== "string" || !/^[0-9a-f]{64}$/.test(info.sha256) || typeof info.date !== "string") {
        throw new Error(`arch-ami: build-tarball.sh printed an unexpected last line: ${last}`);
    }
    return info;
}

/**
 * Stage "tarball": a local command that downloads (or pacstraps) the Arch bootstrap tarball into the
 * user's cache. It runs the script's content, not its path, so its inputs are the same on every machine;
 * it runs again whenever the build hash changes, so the file exists wherever a rebuild happens.
 */
export function createTarball(
    name: string,
    image: ImageSettings,
    method: BootstrapMethod,
    bootstrapMirror: string,
    buildHash: string,
    scriptsDir: string,
    parent: pulumi.Resource,
): pulumi.Output<TarballInfo> {
    const script = fs.readFileSync(path.join(scriptsDir, "build-tarball.sh"), "utf8");
    const cmd = new command.local.Command(
        `${name}-tarball`,
        {
            create: script,
            interpreter: ["/bin/bash", "-c"],
            environment: tarballEnvironment(image, method, bootstrapMirror),
            triggers: [buildHash],
            logging: "stderr",
        },
        { parent, customTimeouts: { create: "30m" } },
    );
    return cmd.stdout.apply(parseTarballInfo);
}

/**
 * The upload source for the tarball. On a machine that does not hold the file (a later `up` elsewhere,
 * nothing changed) a placeholder stands in; the upload ignores source changes and is replaced only by
 * its triggers, so the placeholder is never uploaded.
 */
export function tarballAsset(info: pulumi.Output<TarballInfo>): pulumi.Output<pulumi.asset.Asset> {
    return info.apply((t) =>
        fs.existsSync(t.path)
            ? new pulumi.asset.FileAsset(t.path)
            : new pulumi.asset.StringAsset(`bootstrap tarball ${t.sha256} is not on this machine; upload unchanged`),
    );
}
