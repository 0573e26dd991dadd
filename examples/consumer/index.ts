import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

const config = new pulumi.Config();
// The stack that ran `pulumi up` of arch-ami's default program (or any program exporting amiId).
const images = new pulumi.StackReference(config.require("amiStack"));
const amiId = images.requireOutput("amiId") as pulumi.Output<string>;

const server = new aws.ec2.Instance("arch-server", {
    ami: amiId,
    instanceType: "t3.micro",
    keyName: config.require("keyName"),
    metadataOptions: { httpTokens: "required" },
    rootBlockDevice: { volumeSize: 8, volumeType: "gp3" }, // larger than the AMI: cloud-init grows the root
    tags: { Name: "arch-server" },
});

export const instanceId = server.id;
export const publicIp = server.publicIp;
export const login = pulumi.interpolate`ssh arch@${server.publicIp}`;
