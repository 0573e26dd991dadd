import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { REMOTE, provisionCommand } from "./buildConfig";

export interface ProvisionInputs {
    name: string;
    buildHash: string;
    host: pulumi.Input<string>;
    instanceId: pulumi.Input<string>;
    clientKey: tls.PrivateKey;
    hostKey: tls.PrivateKey;
    tarball: pulumi.Input<pulumi.asset.Asset>;
    scriptsDir: string;
    /** The rendered config (provision/README.md). */
    config: pulumi.Input<string>;
    /** Resources that must exist before provisioning (the volume attachment). */
    dependsOn: pulumi.Resource[];
}

/**
 * Stage "provision": upload the tarball and the provisioning scripts, then run provision.sh as root on
 * the builder with its log streaming into `pulumi up`. Everything here is replaced exactly when the
 * build hash or the builder changes; connection changes (a stopped builder has no public IP) are ignored.
 */
export function provisionVolume(p: ProvisionInputs, parent: pulumi.Resource): command.remote.Command {
    const connection: command.types.input.remote.ConnectionArgs = {
        host: p.host,
        user: REMOTE.user,
        privateKey: p.clientKey.privateKeyOpenssh,
        hostKey: p.hostKey.publicKeyOpenssh.apply((k) => k.trim()),
        // A booting instance refuses connections for a minute or more: retry until the timeout.
        dialErrorLimit: -1,
        perDialTimeout: 10,
    };
    const triggers = [p.buildHash, p.instanceId];
    const upload = { parent, ignoreChanges: ["source", "connection"], customTimeouts: { create: "20m" } };
    const tarball = new command.remote.CopyToRemote(
        `${p.name}-upload-tarball`,
        { connection, source: p.tarball, remotePath: REMOTE.tarball, triggers },
        upload,
    );
    const scripts = new command.remote.CopyToRemote(
        `${p.name}-upload-scripts`,
        { connection, source: new pulumi.asset.FileArchive(p.scriptsDir), remotePath: REMOTE.provisionDir, triggers },
        upload,
    );
    return new command.remote.Command(
        `${p.name}-provision`,
        {
            connection,
            create: pulumi.output(p.config).apply(provisionCommand),
            triggers,
            logging: "stdoutAndStderr",
        },
        {
            parent,
            dependsOn: [tarball, scripts, ...p.dependsOn],
            ignoreChanges: ["connection"],
            customTimeouts: { create: "60m" },
        },
    );
}
