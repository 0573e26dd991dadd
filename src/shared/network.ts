import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/** Stage "network": the builder's subnet (default VPC's default subnet unless given) and security group. */
export function createNetwork(
    name: string,
    subnetId: pulumi.Input<string> | undefined,
    sshIngressCidrs: string[],
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>,
    parent: pulumi.Resource,
    ready: pulumi.Input<pulumi.Resource[]>,
): { subnetId: pulumi.Output<string>; securityGroup: aws.ec2.SecurityGroup } {
    const invokeOpts = { parent };
    const subnet =
        subnetId !== undefined
            ? aws.ec2.getSubnetOutput({ id: subnetId }, invokeOpts)
            : aws.ec2.getVpcOutput({ default: true }, invokeOpts).apply((vpc) =>
                  aws.ec2.getSubnetOutput(
                      {
                          vpcId: vpc.id,
                          defaultForAz: true,
                          availabilityZone: aws.getAvailabilityZonesOutput({ state: "available" }, invokeOpts).names[0],
                      },
                      invokeOpts,
                  ),
              );
    const ipv4 = sshIngressCidrs.filter((c) => !c.includes(":"));
    const ipv6 = sshIngressCidrs.filter((c) => c.includes(":"));
    const securityGroup = new aws.ec2.SecurityGroup(
        `${name}-sg`,
        {
            description: "arch-ami builder: SSH from the deployer only",
            vpcId: subnet.vpcId,
            ingress: [
                {
                    description: "SSH from sshIngressCidrs",
                    protocol: "tcp",
                    fromPort: 22,
                    toPort: 22,
                    ...(ipv4.length ? { cidrBlocks: ipv4 } : {}),
                    ...(ipv6.length ? { ipv6CidrBlocks: ipv6 } : {}),
                },
            ],
            egress: [
                { description: "package mirrors and AWS APIs", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
            ],
            tags,
        },
        // `ready`: nothing is created before the preflight accepted the arguments.
        { parent, dependsOn: ready },
    );
    return { subnetId: subnet.id, securityGroup };
}
