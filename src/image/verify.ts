import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as tls from "@pulumi/tls";
import { CheckDefinition, checkId } from "../identity";
import { EncryptionSettings, ImageSettings } from "../settings/types";

/** The smallest current Nitro type: NVMe, ENA, UEFI, as most instances launched from the image. */
export const VERIFY_INSTANCE_TYPE = "t3.nano";
/** The test instance's root is this much larger than the image, so the check sees the root grow. */
export const VERIFY_EXTRA_GIB = 2;
/** Seconds between the check's success and the power-off that makes AWS terminate the test instance. */
export const POWER_OFF_DELAY_SECONDS = 5;

/**
 * How the check dials the test instance. pulumi-command provider/pkg/provider/remote/connection.go
 * (`dialWithRetry`, `reachedDialingErrorLimit`): every failed `ssh.Dial` (refused, timed out, or rejected
 * authentication) counts against `dialErrorLimit`, and the retries wait 0.1 s growing 1.5x up to 5 s
 * (sdk/go/common/util/retry/until.go defaults); it gives up when dials > dialErrorLimit, so 61 dials (60
 * retries) span about 4.5 minutes when each fails at once (an instance still booting, a wrong key or user)
 * and at most 61 x (10 s + 5 s) ≈ 15 minutes when
 * each times out: an authentication mistake fails the `up` within minutes, never hangs for an hour.
 */
export const VERIFY_CONNECTION = { dialErrorLimit: 60, perDialTimeout: 10 } as const;

/**
 * verify.sh's arguments for an image: every package it must hold (base, the kernel, `packages`) and a
 * synchronized clock. The same on AWS (the check) and in `arch-ami boot-local --verify`.
 */
export function verifyArgs(image: ImageSettings): string[] {
    return ["--packages", ["base", image.kernel, ...image.packages].join(" "), "--require-time-sync"];
}

/** Stands for the test instance's id in the hashed command text (the real id is substituted when deploying). */
export const INSTANCE_ID_PLACEHOLDER = "@@ARCH_AMI_TEST_INSTANCE_ID@@";
const PRIVATE_KEY_PLACEHOLDER = "@@ARCH_AMI_HOST_KEY_PRIVATE@@";
const PUBLIC_KEY_PLACEHOLDER = "@@ARCH_AMI_HOST_KEY_PUBLIC@@";

/**
 * The command line run on the test instance as the default user: verify.sh, its log, its tail on failure.
 * On success its last action schedules a power-off a few seconds later (a transient systemd timer, so the
 * command returns and the SSH session ends first); the instance is launched with shutdown behaviour
 * `terminate`, so AWS terminates it. On failure the instance is left running and the message says which
 * one and how it goes away.
 */
export function verifyCommand(script: string, args: string[], instanceId: string = INSTANCE_ID_PLACEHOLDER): string {
    const quoted = args.map((a) => `'${a}'`).join(" ");
    return [
        "set -u",
        `echo ${Buffer.from(script).toString("base64")} | base64 -d > /tmp/arch-ami-verify.sh`,
        // Not `if …; fi; rc=$?`: an `if` whose branch did not run exits 0.
        `bash /tmp/arch-ami-verify.sh ${quoted} > /tmp/arch-ami-verify.log 2>&1 && rc=0 || rc=$?`,
        "cat /tmp/arch-ami-verify.log",
        'if [ "$rc" -eq 0 ]; then',
        `  if ! sudo -n systemd-run --quiet --on-active=${POWER_OFF_DELAY_SECONDS} systemctl poweroff; then`,
        `    echo "arch-ami: the check passed, but the power-off of test instance ${instanceId} could not be scheduled; it keeps running until the next new AMI or pulumi destroy, or: aws ec2 terminate-instances --instance-ids ${instanceId}" >&2`,
        "  fi",
        "  exit 0",
        "fi",
        'echo "arch-ami: verification of the new AMI failed (verify.sh exit $rc); last lines:" >&2',
        "tail -n 20 /tmp/arch-ami-verify.log >&2",
        `echo "arch-ami: test instance ${instanceId} is left running for inspection; it is terminated by the next successful up that no longer needs it (a fixed check or a new AMI) or by pulumi destroy, or now: aws ec2 terminate-instances --instance-ids ${instanceId}" >&2`,
        "exit $rc",
    ].join("\n");
}

/** cloud-config that pins the test instance's host key (no trust on first use), with placeholders for the key. */
export function userDataTemplate(): string {
    return ["#cloud-config", "ssh_keys:", "  ed25519_private: |", `    ${PRIVATE_KEY_PLACEHOLDER}`, `  ed25519_public: ${PUBLIC_KEY_PLACEHOLDER}`, ""].join("\n");
}

/** The template with the host key filled in. Holds a private key: secret. */
function userData(template: string, hostKey: tls.PrivateKey): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh]).apply(([priv, pub]) =>
            template
                .replace(PRIVATE_KEY_PLACEHOLDER, priv.trim().split("\n").join("\n    "))
                .replace(PUBLIC_KEY_PLACEHOLDER, pub.trim()),
        ),
    );
}

export function checkDefinition(script: string, args: string[], defaultUser: string, encryption: EncryptionSettings, associatePublicIp: boolean): CheckDefinition {
    return {
        command: verifyCommand(script, args),
        userData: userDataTemplate(),
        instanceType: VERIFY_INSTANCE_TYPE,
        extraGiB: VERIFY_EXTRA_GIB,
        defaultUser,
        encryption,
        connection: { associatePublicIp, ...VERIFY_CONNECTION },
        shutdownBehavior: "terminate",
    };
}

export interface VerifyInputs {
    /** The registration's prefix (`<name>-<reg12>`); the check's resources are `<prefix>-verify-<check12>-…`. */
    prefix: string;
    definition: CheckDefinition;
    amiId: pulumi.Input<string>;
    volumeSize: number;
    /** Whether the image is encrypted (`encryption` or EBS encryption by default): the test root is too. */
    encrypted: pulumi.Input<boolean>;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    keyName: pulumi.Input<string>;
    clientPrivateKey: pulumi.Input<string>;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Resolves once the preflight accepted the arguments (the host key depends on nothing else). */
    ready: pulumi.Input<pulumi.Resource[]>;
}

/**
 * Stage "verify" (one per registration and check): launch a test instance from the AMI (the build's subnet,
 * security group and key pair, a root larger than the image, shutdown behaviour `terminate`), log in as the
 * default user with a pinned host key handed over in user data, run verify.sh, and on success power the
 * instance off, so AWS terminates it. A failed check fails `up` with the log's tail and leaves the instance
 * running. The check's command names its instance, so a new instance (a replaced AMI) runs it again there,
 * and its connection is never ignored: nothing dials a terminated instance with stale settings. Tags are
 * ignored on the instance: an update of a terminated instance fails (ec2_instance.go resourceInstanceUpdate
 * reads it back as NotFound).
 */
export function verifyImage(v: VerifyInputs, parent: pulumi.Resource): { check: command.remote.Command; instance: aws.ec2.Instance; name: string } {
    const d = v.definition;
    const name = `${v.prefix}-verify-${checkId(d)}`;
    const hostKey = new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, { parent, dependsOn: v.ready });
    const instance = new aws.ec2.Instance(
        `${name}-instance`,
        {
            ami: v.amiId,
            instanceType: d.instanceType,
            subnetId: v.subnetId,
            vpcSecurityGroupIds: [v.securityGroupId],
            associatePublicIpAddress: d.connection.associatePublicIp,
            keyName: v.keyName,
            userData: userData(d.userData, hostKey),
            metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" },
            rootBlockDevice: pulumi.output(v.encrypted).apply((encrypted) => ({
                volumeType: "gp3",
                volumeSize: v.volumeSize + d.extraGiB,
                deleteOnTermination: true,
                ...(encrypted ? { encrypted: true } : {}),
            })),
            instanceInitiatedShutdownBehavior: d.shutdownBehavior,
            tags: pulumi.output(v.tags).apply((t) => ({ ...t, Name: `${name}-instance` })),
        },
        // The instance terminates itself after a passed check; a placement change (subnet, security group,
        // builder type settings) must not launch a new one for an AMI already verified. A new check or a new
        // AMI is a new instance anyway (its name, its `ami`).
        { parent, ignoreChanges: ["associatePublicIpAddress", "instanceType", "subnetId", "vpcSecurityGroupIds", "tags"], customTimeouts: { create: "15m", delete: "20m" } },
    );
    const check = new command.remote.Command(
        `${name}-check`,
        {
            connection: {
                host: d.connection.associatePublicIp ? instance.publicIp : instance.privateIp,
                user: d.defaultUser,
                privateKey: v.clientPrivateKey,
                hostKey: hostKey.publicKeyOpenssh.apply((k) => k.trim()),
                dialErrorLimit: d.connection.dialErrorLimit,
                perDialTimeout: d.connection.perDialTimeout,
            },
            // The command names its instance: a new instance (a replaced AMI, a refresh that found the terminated
            // instance gone) changes `create` and `connection`, and pulumi-command's Update runs `create` again
            // with the new inputs (provider/pkg/provider/remote/commandController.go Update), on that instance.
            create: instance.id.apply((id) => d.command.split(INSTANCE_ID_PLACEHOLDER).join(id)),
            logging: "stdoutAndStderr",
        },
        { parent, customTimeouts: { create: "30m" } },
    );
    return { check, instance, name };
}
