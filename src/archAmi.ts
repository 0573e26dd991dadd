import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import { ArchAmiArgs } from "./args";
import { ArchAmiBuild } from "./build/archAmiBuild";
import { amiNameFor, buildHash, buildName, provisionDir, registrationSuffix, verificationName, verifyScript } from "./buildConfig";
import { registerImage } from "./image/ami";
import { distribute } from "./image/distribute";
import { verifyCommand, verifyImage } from "./image/verify";
import { detectPublicIpv4Cidr } from "./publicIp";
import { resolveSettings } from "./settings";
import { createClientKeys } from "./shared/keys";
import { createNetwork } from "./shared/network";

/**
 * An Arch Linux AMI built from scratch: a Debian builder instance pacstraps Arch onto an empty EBS
 * volume, which is snapshotted and registered as an AMI. The builder is stopped afterwards.
 *
 * Two levels: resources shared by every build (client key, key pair, security group: `src/shared/`),
 * one `ArchAmiBuild` per build hash (`src/build/`), and the AMI registered from the current build's
 * snapshot, verified and distributed (`src/image/`).
 */
export class ArchAmi extends pulumi.ComponentResource {
    /** The AMI id; it resolves only after the verification (`verify`) succeeded. */
    public readonly amiId: pulumi.Output<string>;
    /** AMI id by region: the home region and every copy; resolves after the verification. */
    public readonly amiIds: pulumi.Output<Record<string, string>>;
    /** The AMI name (`<name>-<suffix>`, unique per stack, build and registration). */
    public readonly amiName: pulumi.Output<string>;
    /** The id of the root snapshot behind the AMI. */
    public readonly snapshotId: pulumi.Output<string>;
    /** The id of the (stopped) builder instance of the current build. */
    public readonly builderInstanceId: pulumi.Output<string>;
    /** Hash of everything that decides the image; a new hash is a new build and a new AMI. */
    public readonly buildHash: pulumi.Output<string>;

    constructor(name: string, args: ArchAmiArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate everything and settle the SSH ingress before anything is registered.
        const settings = resolveSettings(name, args ?? {});
        const tags = args?.tags ?? {};
        const sshIngressCidrs = settings.sshIngressCidrs ?? detectedIngress(name);
        const scriptsDir = provisionDir();
        const hash = buildHash(settings, scriptsDir);
        const suffix = registrationSuffix({ project: pulumi.getProject(), stack: pulumi.getStack(), resourceName: name }, hash, settings);

        super("arch-ami:index:ArchAmi", name, {}, opts);

        // Shared by every build.
        const keys = createClientKeys(name, tags, this);
        const network = createNetwork(name, args?.subnetId, sshIngressCidrs, tags, this);
        // This build.
        const build = new ArchAmiBuild(
            buildName(name, hash),
            {
                buildHash: hash,
                settings,
                scriptsDir,
                subnetId: network.subnetId,
                securityGroupId: network.securityGroup.id,
                keyName: keys.keyPair.keyName,
                clientPrivateKey: keys.clientKey.privateKeyOpenssh,
                tags,
            },
            { parent: this },
        );
        // The AMI, registered from this build's snapshot. The snapshot's id in the name makes it new for every
        // build even when the arguments repeat earlier ones (a reverted change, destroy then up), so an AMI
        // kept by retainImages never blocks it (AMI names are unique per account and region).
        const amiName = build.snapshotId.apply((id) => amiNameFor(settings.amiNamePrefix, suffix, id));
        const ami = registerImage(
            {
                name,
                amiName,
                description: settings.description,
                snapshotId: build.snapshotId,
                volumeSize: settings.image.volumeSize,
                bootMode: settings.bootMode,
                tpmSupport: settings.tpmSupport,
                deprecationTime: settings.distribution.deprecationTime,
                retain: settings.retainImages,
                tags: pulumi.all([tags, build.bootstrapDate]).apply(([t, date]) => ({
                    ...t,
                    "arch-ami:build-hash": hash,
                    "arch-ami:bootstrap-date": date,
                    "arch-ami:kernel": settings.image.kernel,
                    "arch-ami:filesystem": settings.image.filesystem,
                })),
            },
            this,
        );

        // The check of this AMI: a test instance, verify.sh as the default user, then stopped.
        const verified: command.remote.Command[] = [];
        if (settings.distribution.verify) {
            const script = verifyScript(scriptsDir);
            const verifyArgs = ["--packages", ["base", settings.image.kernel, ...settings.image.packages].join(" "), "--require-time-sync"];
            const { check } = verifyImage(
                {
                    name: verificationName(name, suffix, script, verifyArgs),
                    amiId: ami.id,
                    volumeSize: settings.image.volumeSize,
                    encryption: settings.encryption,
                    subnetId: network.subnetId,
                    securityGroupId: network.securityGroup.id,
                    associatePublicIp: settings.associatePublicIp,
                    keyName: keys.keyPair.keyName,
                    clientPrivateKey: keys.clientKey.privateKeyOpenssh,
                    defaultUser: settings.image.defaultUser,
                    command: verifyCommand(script, verifyArgs),
                    tags,
                },
                this,
            );
            verified.push(check);
        }
        const homeRegion = aws.getRegionOutput({}, { parent: this }).region;
        const amiIds = distribute(
            {
                name,
                amiNamePrefix: settings.amiNamePrefix,
                registrationSuffix: suffix,
                ami,
                snapshotId: build.snapshotId,
                homeRegion,
                distribution: settings.distribution,
                encryption: settings.encryption,
                retain: settings.retainImages,
                tags,
                after: verified,
            },
            this,
        );
        const checked = pulumi.all(verified.map((c) => c.stdout));
        const afterVerification = <T>(o: pulumi.Output<T>): pulumi.Output<T> => pulumi.all([o, checked]).apply(([v]) => v) as pulumi.Output<T>;

        this.amiId = afterVerification(ami.id);
        this.amiIds = afterVerification(amiIds);
        this.amiName = ami.name;
        this.snapshotId = build.snapshotId;
        this.builderInstanceId = build.builderInstanceId;
        this.buildHash = pulumi.output(hash);
        this.registerOutputs({
            amiId: this.amiId,
            amiIds: this.amiIds,
            amiName: this.amiName,
            snapshotId: this.snapshotId,
            builderInstanceId: this.builderInstanceId,
            buildHash: this.buildHash,
        });
    }
}

function detectedIngress(name: string): string[] {
    const cidr = detectPublicIpv4Cidr();
    if (cidr === undefined) {
        throw new pulumi.ResourceError(
            `ArchAmi "${name}": argument "sshIngressCidrs" is not set and this machine's public IPv4 could not be ` +
                `detected. Set sshIngressCidrs to the CIDRs the builder may be reached from over SSH, e.g. ` +
                `["203.0.113.7/32"] (nothing was created).`,
            undefined,
            true,
        );
    }
    return [cidr];
}
