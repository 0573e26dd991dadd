import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/**
 * Stage "stop" (one per build): once the snapshot is taken the builder has nothing left to do; a stopped
 * instance costs only its EBS storage. Its build's removal (a newer build, or `pulumi destroy`)
 * terminates it.
 */
export function stopBuilder(
    buildName: string,
    instanceId: pulumi.Input<string>,
    after: pulumi.Resource,
    parent: pulumi.Resource,
): aws.ec2transitgateway.InstanceState {
    return new aws.ec2transitgateway.InstanceState(
        `${buildName}-builder-stopped`,
        { instanceId, state: "stopped" },
        { parent, dependsOn: [after], customTimeouts: { create: "15m", update: "15m" } },
    );
}
