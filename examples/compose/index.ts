import * as aws from "@pulumi/aws";
import { ArchAmi, Filesystem, Kernel } from "arch-ami";

const image = new ArchAmi("web-image", {
    filesystem: Filesystem.Btrfs,
    kernel: Kernel.LinuxLts,
    packages: ["nginx"],
    volumeSize: 6,
    tags: { app: "web" },
});

const template = new aws.ec2.LaunchTemplate("web", {
    imageId: image.amiId,
    instanceType: "t3.small",
    metadataOptions: { httpTokens: "required" },
    userData: Buffer.from("#cloud-config\nruncmd:\n  - [systemctl, enable, --now, nginx]\n").toString("base64"),
    tagSpecifications: [{ resourceType: "instance", tags: { app: "web" } }],
});

const vpc = aws.ec2.getVpcOutput({ default: true });
const subnets = aws.ec2.getSubnetsOutput({ filters: [{ name: "vpc-id", values: [vpc.id] }] });

const group = new aws.autoscaling.Group("web", {
    minSize: 1,
    maxSize: 2,
    vpcZoneIdentifiers: subnets.ids,
    // A new AMI id gives a new template version; the instance refresh rolls it out.
    launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
    instanceRefresh: { strategy: "Rolling" },
});

export const amiId = image.amiId;
export const launchTemplateId = template.id;
export const autoScalingGroup = group.name;
