import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "./args";
import { ArchAmiBuild } from "./build/archAmiBuild";
import { buildHash, buildName, registrationSuffix } from "./identity";
import { provisionDir, verifyScript } from "./render";
import { ArchAmiImage } from "./image/archAmiImage";
import { publishParameters } from "./image/ssm";
import { checkDefinition, verifyArgs } from "./image/verify";
import { preflight, readyGate } from "./preflight";
import { detectPublicIpv4Cidr } from "./publicIp";
import { resolveSettings } from "./settings";
import { createClientKeys } from "./shared/keys";
import { createNetwork } from "./shared/network";

/**
 * An Arch Linux AMI built from scratch: a Debian builder instance pacstraps Arch onto an empty EBS
 * volume, which is snapshotted and registered as an AMI. The builder is stopped afterwards.
 *
 * Three levels: resources shared by every build (client key, key pair, security group: `src/shared/`) and
 * the SSM parameter; one `ArchAmiBuild` per build hash (`src/build/`); one `ArchAmiImage` per registration
 * (`src/image/`): the AMI registered from the build's snapshot, its check, copies and shares. Nothing is
 * created before the preflight (`src/preflight.ts`) has read the account and accepted the arguments.
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

        // What the account says about the arguments; every resource below waits for it.
        const checked = preflight(name, settings, this);
        const ready = readyGate(checked);

        // Shared by every build.
        const keys = createClientKeys(name, tags, this, ready);
        const network = createNetwork(name, args?.subnetId, sshIngressCidrs, tags, this, ready);
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
                ready,
            },
            { parent: this },
        );
        // This registration: the AMI, its check, copies and shares.
        const image = new ArchAmiImage(
            `${name}-${suffix}`,
            {
                registrationSuffix: suffix,
                buildHash: hash,
                settings,
                snapshotId: build.snapshotId,
                bootstrapDate: build.bootstrapDate,
                homeRegion: checked.homeRegion,
                encrypted: checked.encrypted,
                check: settings.distribution.verify
                    ? checkDefinition(verifyScript(scriptsDir), verifyArgs(settings.image), settings.image.defaultUser, settings.encryption, settings.associatePublicIp)
                    : undefined,
                subnetId: network.subnetId,
                securityGroupId: network.securityGroup.id,
                keyName: keys.keyPair.keyName,
                clientPrivateKey: keys.clientKey.privateKeyOpenssh,
                tags,
                ready,
            },
            { parent: this },
        );
        // Not per registration: one parameter per region that moves from registration to registration.
        if (settings.distribution.ssmParameterName) {
            publishParameters({ name, parameterName: settings.distribution.ssmParameterName, images: image.images, tags, after: image.verified }, this);
        }

        this.amiId = image.amiId;
        this.amiIds = image.amiIds;
        this.amiName = image.amiName;
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
