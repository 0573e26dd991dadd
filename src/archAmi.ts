import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "./args";
import { ArchAmiBuild } from "./build/archAmiBuild";
import { buildHash, buildName, provisionDir, registrationSuffix } from "./buildConfig";
import { registerImage } from "./image";
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
 * snapshot (`src/image.ts`).
 */
export class ArchAmi extends pulumi.ComponentResource {
    /** The AMI id. */
    public readonly amiId: pulumi.Output<string>;
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
        const amiName = `${settings.amiNamePrefix}-${suffix}`;

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
        // The AMI, registered from this build's snapshot.
        const ami = registerImage(
            {
                name,
                amiName,
                description: settings.description,
                snapshotId: build.snapshotId,
                volumeSize: settings.image.volumeSize,
                bootMode: settings.bootMode,
                tpmSupport: settings.tpmSupport,
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

        this.amiId = ami.id;
        this.amiName = ami.name;
        this.snapshotId = build.snapshotId;
        this.builderInstanceId = build.builderInstanceId;
        this.buildHash = pulumi.output(hash);
        this.registerOutputs({
            amiId: this.amiId,
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
