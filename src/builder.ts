import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { TARGET_DEVICE } from "./buildConfig";
import { BuilderKeys } from "./keys";

/** Owner of the official Debian AMIs. */
export const DEBIAN_OWNER = "136693071363";
/** Name pattern of the builder's default AMI: Debian 13 (trixie), amd64. */
export const DEBIAN_NAME = "debian-13-amd64-*";

export interface BuilderInputs {
    name: string;
    buildHash: string;
    instanceType: string;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    associatePublicIp: boolean;
    builderAmi?: pulumi.Input<string>;
    volumeSize: number;
    keys: BuilderKeys;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export interface Builder {
    instance: aws.ec2.Instance;
    volume: aws.ebs.Volume;
    attachment: aws.ec2.VolumeAttachment;
    /** Address the remote connections use. */
    host: pulumi.Output<string>;
}

/** cloud-config that installs the pinned host key (no trust on first use). Holds a private key: secret. */
function userData(buildHash: string, keys: BuilderKeys): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all([keys.hostKey.privateKeyOpenssh, keys.hostKey.publicKeyOpenssh]).apply(([priv, pub]) =>
            [
                "#cloud-config",
                `# arch-ami builder for build ${buildHash}`,
                "ssh_deletekeys: true",
                "ssh_genkeytypes: []",
                "ssh_keys:",
                "  ed25519_private: |",
                ...priv.trim().split("\n").map((l) => `    ${l}`),
                `  ed25519_public: ${pub.trim()}`,
                "",
            ].join("\n"),
        ),
    );
}

/** Stage "builder": the Debian surrogate instance and the empty target volume attached to it. */
export function createBuilder(a: BuilderInputs, parent: pulumi.Resource): Builder {
    const chain = { parent, replacementTrigger: a.buildHash };
    const ami =
        a.builderAmi ??
        aws.ec2
            .getAmiOutput(
                {
                    owners: [DEBIAN_OWNER],
                    mostRecent: true,
                    filters: [
                        { name: "name", values: [DEBIAN_NAME] },
                        { name: "architecture", values: ["x86_64"] },
                    ],
                },
                { parent },
            )
            .apply((i) => i.id);
    const instance = new aws.ec2.Instance(
        `${a.name}-builder`,
        {
            ami,
            instanceType: a.instanceType,
            subnetId: a.subnetId,
            vpcSecurityGroupIds: [a.securityGroupId],
            associatePublicIpAddress: a.associatePublicIp,
            keyName: a.keys.keyPair.keyName,
            userData: userData(a.buildHash, a.keys),
            userDataReplaceOnChange: true,
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
            rootBlockDevice: { volumeType: "gp3", volumeSize: 8, encrypted: true, deleteOnTermination: true, tags: a.tags },
            instanceInitiatedShutdownBehavior: "stop",
            tags: pulumi.output(a.tags).apply((t) => ({ ...t, Name: `${a.name}-builder` })),
        },
        // A newer Debian AMI does not change the image: never rebuild for it.
        { ...chain, ignoreChanges: ["ami"] },
    );
    const volume = new aws.ebs.Volume(
        `${a.name}-volume`,
        {
            availabilityZone: instance.availabilityZone,
            size: a.volumeSize,
            type: "gp3",
            tags: pulumi.output(a.tags).apply((t) => ({ ...t, Name: `${a.name}-volume` })),
        },
        chain,
    );
    const attachment = new aws.ec2.VolumeAttachment(
        `${a.name}-attachment`,
        { deviceName: TARGET_DEVICE, volumeId: volume.id, instanceId: instance.id, stopInstanceBeforeDetaching: true },
        chain,
    );
    const host = a.associatePublicIp ? instance.publicIp : instance.privateIp;
    return { instance, volume, attachment, host };
}
