import * as pulumi from "@pulumi/pulumi";
import { ArchAmiArgs } from "./args";
import { TARGET_DEVICE, buildHash, provisionDir, renderConfig } from "./buildConfig";
import { createBuilder } from "./builder";
import { registerImage } from "./image";
import { createKeys } from "./keys";
import { createNetwork } from "./network";
import { provisionVolume } from "./provision";
import { detectPublicIpv4Cidr } from "./publicIp";
import { NAME_HASH_LENGTH, resolveSettings } from "./settings";
import { stopBuilder } from "./stop";
import { createTarball, tarballAsset } from "./tarball";

/**
 * An Arch Linux AMI built from scratch: a Debian builder instance pacstraps Arch onto an empty EBS
 * volume, which is snapshotted and registered as an AMI. The builder is stopped afterwards.
 */
export class ArchAmi extends pulumi.ComponentResource {
    /** The AMI id. */
    public readonly amiId: pulumi.Output<string>;
    /** The AMI name (`<name>-<build hash>`). */
    public readonly amiName: pulumi.Output<string>;
    /** The id of the root snapshot behind the AMI. */
    public readonly snapshotId: pulumi.Output<string>;
    /** The id of the (stopped) builder instance. */
    public readonly builderInstanceId: pulumi.Output<string>;
    /** Hash of everything that decides the image; a new hash is a new AMI. */
    public readonly buildHash: pulumi.Output<string>;

    constructor(name: string, args: ArchAmiArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate everything and settle the SSH ingress before anything is registered.
        const settings = resolveSettings(name, args ?? {});
        const tags = args?.tags ?? {};
        const sshIngressCidrs = settings.sshIngressCidrs ?? detectedIngress(name);
        const scriptsDir = provisionDir();
        const hash = buildHash(settings, scriptsDir);
        const amiName = `${settings.amiNamePrefix}-${hash.slice(0, NAME_HASH_LENGTH)}`;

        super("arch-ami:index:ArchAmi", name, {}, opts);

        const keys = createKeys(name, tags, this);
        const network = createNetwork(name, args?.subnetId, sshIngressCidrs, tags, this);
        const tarball = createTarball(name, settings.image, settings.bootstrapMethod, settings.bootstrapMirror, hash, scriptsDir, this);
        const builder = createBuilder(
            {
                name,
                buildHash: hash,
                instanceType: settings.instanceType,
                subnetId: network.subnetId,
                securityGroupId: network.securityGroup.id,
                associatePublicIp: settings.associatePublicIp,
                builderAmi: args?.builderAmi,
                volumeSize: settings.image.volumeSize,
                keys,
                tags,
            },
            this,
        );
        const provisioned = provisionVolume(
            {
                name,
                buildHash: hash,
                host: builder.host,
                instanceId: builder.instance.id,
                clientKey: keys.clientKey,
                hostKey: keys.hostKey,
                tarball: tarballAsset(tarball),
                scriptsDir,
                config: builder.volume.id.apply((volumeId) =>
                    renderConfig(settings.image, { volumeId, deviceName: TARGET_DEVICE }),
                ),
                dependsOn: [builder.attachment],
            },
            this,
        );
        const image = registerImage(
            {
                name,
                buildHash: hash,
                amiName,
                description: settings.description,
                volumeId: builder.volume.id,
                volumeSize: settings.image.volumeSize,
                bootMode: settings.bootMode,
                tpmSupport: settings.tpmSupport,
                tags,
                imageTags: tarball.apply((t) => ({
                    "arch-ami:build-hash": hash,
                    "arch-ami:bootstrap-date": t.date,
                    "arch-ami:kernel": settings.image.kernel,
                    "arch-ami:filesystem": settings.image.filesystem,
                })),
                provisioned,
            },
            this,
        );
        stopBuilder(name, builder.instance.id, image.snapshot, this);

        this.amiId = image.ami.id;
        this.amiName = image.ami.name;
        this.snapshotId = image.snapshot.id;
        this.builderInstanceId = builder.instance.id;
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
