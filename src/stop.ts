import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/**
 * Stage "stop": once the snapshot is taken the builder has nothing left to do; a stopped instance costs
 * only its EBS storage. `pulumi destroy` terminates it.
 */
export function stopBuilder(
    name: string,
    instanceId: pulumi.Input<string>,
    after: pulumi.Resource,
    parent: pulumi.Resource,
): aws.ec2transitgateway.InstanceState {
    return new aws.ec2transitgateway.InstanceState(
        `${name}-builder-stopped`,
        { instanceId, state: "stopped" },
        { parent, dependsOn: [after], customTimeouts: { create: "15m", update: "15m" } },
    );
}
