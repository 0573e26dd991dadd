import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { provisionCommand } from "../render";

export interface ProvisionInputs {
    buildName: string;
    connection: command.types.input.remote.ConnectionArgs;
    /** Where the scripts folder landed on the builder (`Uploads.scriptsRemoteDir`). */
    scriptsRemoteDir: string;
    /** The rendered config (provision/README.md). */
    config: pulumi.Input<string>;
    /** Resources that must exist before provisioning (the uploads and the volume attachment). */
    dependsOn: pulumi.Resource[];
}

/**
 * Stage "provision" (one per build): run provision.sh as root on the builder, its log streaming into
 * `pulumi up`. It runs once per build: its command line changes only with the build (the config holds
 * the build's volume id), and `connection` is ignored because a stopped builder loses its public address.
 * It has no delete command, so removing a finished build never connects to its stopped builder.
 */
export function provisionVolume(p: ProvisionInputs, parent: pulumi.Resource): command.remote.Command {
    return new command.remote.Command(
        `${p.buildName}-provision`,
        {
            connection: p.connection,
            create: pulumi.output(p.config).apply((c) => provisionCommand(c, p.scriptsRemoteDir)),
            logging: "stdoutAndStderr",
        },
        { parent, dependsOn: p.dependsOn, ignoreChanges: ["connection"], customTimeouts: { create: "60m" } },
    );
}
