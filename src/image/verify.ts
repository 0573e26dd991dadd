import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { EncryptionSettings } from "../settings";

/** The smallest current Nitro type: NVMe, ENA, UEFI, as most instances launched from the image. */
export const VERIFY_INSTANCE_TYPE = "t3.nano";
/** The test instance's root is this much larger than the image, so the check sees the root grow. */
export const VERIFY_EXTRA_GIB = 2;

export interface VerifyInputs {
    /** `verificationName()`: the AMI's registration and the check itself, so a new AMI or check is a new run. */
    name: string;
    amiId: pulumi.Input<string>;
    volumeSize: number;
    encryption: EncryptionSettings;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    associatePublicIp: boolean;
    keyName: pulumi.Input<string>;
    clientPrivateKey: pulumi.Input<string>;
    defaultUser: string;
    /** `verifyCommand()`: writes and runs verify.sh on the test instance. */
    command: string;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The command line run on the test instance as the default user: verify.sh, its log, its tail on failure. */
export function verifyCommand(script: string, args: string[]): string {
    const quoted = args.map((a) => `'${a}'`).join(" ");
    return [
        "set -u",
        `echo ${Buffer.from(script).toString("base64")} | base64 -d > /tmp/arch-ami-verify.sh`,
        // Not `if …; fi; rc=$?`: an `if` whose branch did not run exits 0.
        `bash /tmp/arch-ami-verify.sh ${quoted} > /tmp/arch-ami-verify.log 2>&1 && rc=0 || rc=$?`,
        "cat /tmp/arch-ami-verify.log",
        'if [ "$rc" -eq 0 ]; then exit 0; fi',
        'echo "arch-ami: verification of the new AMI failed (verify.sh exit $rc); last lines:" >&2',
        "tail -n 20 /tmp/arch-ami-verify.log >&2",
        "exit $rc",
    ].join("\n");
}

/** cloud-config that pins the test instance's host key (no trust on first use). Holds a private key: secret. */
function userData(hostKey: tls.PrivateKey): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh]).apply(([priv, pub]) =>
            ["#cloud-config", "ssh_keys:", "  ed25519_private: |", ...priv.trim().split("\n").map((l) => `    ${l}`), `  ed25519_public: ${pub.trim()}`, ""].join("\n"),
        ),
    );
}

/**
 * Stage "verify" (one per AMI and check): launch a test instance from the new AMI (the build's subnet,
 * security group and key pair, a root larger than the image), log in as the default user with a pinned
 * host key handed over in user data, run verify.sh, then stop the instance. A failed check fails `up`
 * with the log's tail; `amiId` resolves only after this command succeeded. The instance is stopped, not
 * terminated: Pulumi has no resource that is created and then deleted within one `up`, and a
 * self-terminating instance would be re-created by the next `up` (refresh finds it gone). Stopped, it
 * costs its root volume until the next AMI or `pulumi destroy` removes it.
 */
export function verifyImage(v: VerifyInputs, parent: pulumi.Resource): { check: command.remote.Command; instance: aws.ec2.Instance } {
    const hostKey = new tls.PrivateKey(`${v.name}-host-key`, { algorithm: "ED25519" }, { parent });
    const instance = new aws.ec2.Instance(
        `${v.name}-instance`,
        {
            ami: v.amiId,
            instanceType: VERIFY_INSTANCE_TYPE,
            subnetId: v.subnetId,
            vpcSecurityGroupIds: [v.securityGroupId],
            associatePublicIpAddress: v.associatePublicIp,
            keyName: v.keyName,
            userData: userData(hostKey),
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" },
            rootBlockDevice: {
                volumeType: "gp3",
                volumeSize: v.volumeSize + VERIFY_EXTRA_GIB,
                deleteOnTermination: true,
                ...(v.encryption.enabled ? { encrypted: true } : {}),
            },
            instanceInitiatedShutdownBehavior: "stop",
            tags: pulumi.output(v.tags).apply((t) => ({ ...t, Name: `${v.name}-instance` })),
        },
        // As for the builder: refresh drift of a stopped instance and placement changes never replace it.
        { parent, ignoreChanges: ["associatePublicIpAddress", "instanceType", "subnetId", "vpcSecurityGroupIds"] },
    );
    const check = new command.remote.Command(
        `${v.name}-check`,
        {
            connection: {
                host: v.associatePublicIp ? instance.publicIp : instance.privateIp,
                user: v.defaultUser,
                privateKey: v.clientPrivateKey,
                hostKey: hostKey.publicKeyOpenssh.apply((k) => k.trim()),
                dialErrorLimit: -1,
                perDialTimeout: 10,
            },
            create: v.command,
            logging: "stdoutAndStderr",
        },
        { parent, ignoreChanges: ["connection"], customTimeouts: { create: "30m" } },
    );
    new aws.ec2transitgateway.InstanceState(
        `${v.name}-stopped`,
        { instanceId: instance.id, state: "stopped" },
        { parent, dependsOn: [check], customTimeouts: { create: "15m", update: "15m" } },
    );
    return { check, instance };
}
