import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as tls from "@pulumi/tls";
import { TARGET_DEVICE } from "../render";
import { EncryptionSettings } from "../settings/types";

/** Owner of the official Debian AMIs. */
export const DEBIAN_OWNER = "136693071363";
/** Name pattern of the builder's default AMI: Debian 13 (trixie), amd64. */
export const DEBIAN_NAME = "debian-13-amd64-*";

/**
 * Builder properties that are fixed for the life of one build: changing the argument behind them takes
 * effect at the next build (a new build hash), never on the existing, stopped builder. Without this a
 * new Debian AMI or a subnet change would replace the builder (and with it the volume and the snapshot
 * source) inside a finished build, an instance type change would start the stopped builder, and a
 * refresh of the stopped builder (which reads back `associatePublicIpAddress: false`,
 * terraform-provider-aws #33775) would force a replacement. None of them changes the image.
 */
export const BUILDER_IGNORED = ["ami", "instanceType", "subnetId", "associatePublicIpAddress", "vpcSecurityGroupIds"];

export interface BuilderInputs {
    /** `<component name>-<build hash 12>`: every resource of the build carries it. */
    buildName: string;
    buildHash: string;
    instanceType: string;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    associatePublicIp: boolean;
    builderAmi?: pulumi.Input<string>;
    volumeSize: number;
    /** Encrypt the target volume (the snapshot and the AMI inherit it). */
    encryption: EncryptionSettings;
    keyName: pulumi.Input<string>;
    hostKey: tls.PrivateKey;
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
function userData(buildHash: string, hostKey: tls.PrivateKey): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh]).apply(([priv, pub]) =>
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

const named = (tags: pulumi.Input<Record<string, pulumi.Input<string>>>, name: string) =>
    pulumi.output(tags).apply((t) => ({ ...t, Name: name }));

/** Stage "builder" (one per build): the Debian surrogate instance and the empty target volume attached to it. */
export function createBuilder(a: BuilderInputs, parent: pulumi.Resource): Builder {
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
        `${a.buildName}-builder`,
        {
            ami,
            instanceType: a.instanceType,
            subnetId: a.subnetId,
            vpcSecurityGroupIds: [a.securityGroupId],
            associatePublicIpAddress: a.associatePublicIp,
            keyName: a.keyName,
            userData: userData(a.buildHash, a.hostKey),
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
            rootBlockDevice: { volumeType: "gp3", volumeSize: 8, encrypted: true, deleteOnTermination: true, tags: a.tags },
            instanceInitiatedShutdownBehavior: "stop",
            tags: named(a.tags, `${a.buildName}-builder`),
        },
        { parent, ignoreChanges: BUILDER_IGNORED },
    );
    const volume = new aws.ebs.Volume(
        `${a.buildName}-volume`,
        {
            availabilityZone: instance.availabilityZone,
            size: a.volumeSize,
            type: "gp3",
            ...(a.encryption.enabled ? { encrypted: true, ...(a.encryption.kmsKeyId ? { kmsKeyId: a.encryption.kmsKeyId } : {}) } : {}),
            tags: named(a.tags, `${a.buildName}-volume`),
        },
        { parent },
    );
    // ForceNew on every property: if it is ever replaced, detach first (AttachVolume fails with
    // VolumeInUse while the volume is still attached to the old instance).
    const attachment = new aws.ec2.VolumeAttachment(
        `${a.buildName}-attachment`,
        { deviceName: TARGET_DEVICE, volumeId: volume.id, instanceId: instance.id, stopInstanceBeforeDetaching: true },
        { parent, deleteBeforeReplace: true },
    );
    const host = a.associatePublicIp ? instance.publicIp : instance.privateIp;
    return { instance, volume, attachment, host };
}
