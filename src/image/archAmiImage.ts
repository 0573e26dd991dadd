import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { CheckDefinition, amiNameFor } from "../identity";
import { Settings } from "../settings/types";
import { registerImage } from "./ami";
import { DistributedImage, distribute } from "./distribute";
import { verifyImage } from "./verify";

/** What one registration needs from the component. */
export interface ImageRegistrationInputs {
    /** The registration identity (`registrationSuffix`): project, stack, component name, build hash, boot mode, TPM. */
    registrationSuffix: string;
    buildHash: string;
    settings: Settings;
    snapshotId: pulumi.Output<string>;
    bootstrapDate: pulumi.Output<string>;
    homeRegion: pulumi.Output<string>;
    /** `encryption` set or EBS encryption by default (preflight). */
    encrypted: pulumi.Output<boolean>;
    /** The check, when `verify` is on. */
    check?: CheckDefinition;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    keyName: pulumi.Input<string>;
    clientPrivateKey: pulumi.Input<string>;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Resolves once the preflight accepted the arguments. */
    ready: pulumi.Input<pulumi.Resource[]>;
}

/**
 * One registration: a value, like a build. The AMI registered from a build's snapshot and everything that
 * belongs to it — its check (test instance and remote command), its copies in other regions, launch and
 * create-volume permissions — live here, named `<name>-<reg12>` with every child's name carrying that prefix
 * (a URN holds the parents' types, not their names). A new build or a new registration (boot mode, TPM) is
 * a new `ArchAmiImage` with new URNs: the engine creates it next to the old one and deletes the old one only
 * after the program finished and every step succeeded (pulumi pkg/resource/deploy/step_generator.go
 * `GenerateDeletes`, run by deployment_executor.go after the program's steps). A failed check leaves the old
 * registration, its copies and shares untouched. `retainImages` keeps the AMI, its copies and permissions.
 */
export class ArchAmiImage extends pulumi.ComponentResource {
    /** The AMI id, after the check. */
    public readonly amiId: pulumi.Output<string>;
    /** AMI id by region (home included), after the check. */
    public readonly amiIds: pulumi.Output<Record<string, string>>;
    public readonly amiName: pulumi.Output<string>;
    /** The home AMI and every copy, with ids that resolve after the check. */
    public readonly images: DistributedImage[];
    /** The check command (empty with `verify: false`): whatever exposes the AMI depends on it. */
    public readonly verified: command.remote.Command[];

    constructor(prefix: string, i: ImageRegistrationInputs, opts: pulumi.ComponentResourceOptions) {
        super("arch-ami:index:ArchAmiImage", prefix, {}, opts);
        const s = i.settings;
        // The snapshot's id in the name makes it new for every build even when the arguments repeat earlier
        // ones (a reverted change, destroy then up), so an AMI kept by retainImages never blocks it.
        const amiName = i.snapshotId.apply((id) => amiNameFor(s.amiNamePrefix, i.registrationSuffix, id));
        const ami = registerImage(
            {
                prefix,
                amiName,
                description: s.description,
                snapshotId: i.snapshotId,
                volumeSize: s.image.volumeSize,
                bootMode: s.bootMode,
                tpmSupport: s.tpmSupport,
                deprecationTime: s.distribution.deprecationTime,
                retain: s.retainImages,
                tags: pulumi.all([i.tags, i.bootstrapDate]).apply(([t, date]) => ({
                    ...t,
                    "arch-ami:build-hash": i.buildHash,
                    "arch-ami:bootstrap-date": date,
                    "arch-ami:kernel": s.image.kernel,
                    "arch-ami:filesystem": s.image.filesystem,
                })),
            },
            this,
        );

        const verified: command.remote.Command[] = [];
        if (i.check) {
            const { check } = verifyImage(
                {
                    prefix,
                    definition: i.check,
                    amiId: ami.id,
                    volumeSize: s.image.volumeSize,
                    encrypted: i.encrypted,
                    subnetId: i.subnetId,
                    securityGroupId: i.securityGroupId,
                    keyName: i.keyName,
                    clientPrivateKey: i.clientPrivateKey,
                    tags: i.tags,
                    ready: i.ready,
                },
                this,
            );
            verified.push(check);
        }
        const checked = pulumi.all(verified.map((c) => c.stdout));
        const afterCheck = <T>(o: pulumi.Output<T>): pulumi.Output<T> => pulumi.all([o, checked]).apply(([v]) => v) as pulumi.Output<T>;

        const images = distribute(
            {
                prefix,
                amiNamePrefix: s.amiNamePrefix,
                registrationSuffix: i.registrationSuffix,
                ami,
                snapshotId: i.snapshotId,
                homeRegion: i.homeRegion,
                encrypted: i.encrypted,
                distribution: s.distribution,
                encryption: s.encryption,
                retain: s.retainImages,
                tags: i.tags,
                after: verified,
            },
            this,
        ).map((img) => ({ ...img, id: afterCheck(img.id) }));

        this.images = images;
        this.verified = verified;
        this.amiId = images[0].id;
        this.amiIds = pulumi
            .all([i.homeRegion, ...images.map((img) => img.id)])
            .apply(([home, ...ids]) => Object.fromEntries(images.map((img, n) => [img.region ?? home, ids[n]])));
        this.amiName = ami.name;
        this.registerOutputs({ amiId: this.amiId, amiIds: this.amiIds, amiName: this.amiName });
    }
}
