import * as pulumi from "@pulumi/pulumi";
import { TARGET_DEVICE, renderConfig, REMOTE } from "../render";
import { Settings } from "../settings/types";
import { createBuilder } from "./builder";
import { createHostKey } from "./hostKey";
import { provisionVolume } from "./provision";
import { snapshotVolume } from "./snapshot";
import { stopBuilder } from "./stop";
import { createTarball, tarballAsset } from "./tarball";
import { uploadInputs } from "./upload";

/** What one build needs from the component. */
export interface BuildInputs {
    /** The build hash: every image-affecting setting and the provisioning scripts' content. */
    buildHash: string;
    settings: Settings;
    scriptsDir: string;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    keyName: pulumi.Input<string>;
    clientPrivateKey: pulumi.Input<string>;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Resolves once the preflight accepted the arguments: the build's first resources wait for it. */
    ready: pulumi.Input<pulumi.Resource[]>;
}

/**
 * One build: a value, not a mutable resource. Everything that makes one image — host key, tarball,
 * builder, volume, attachment, uploads, provisioning, snapshot, stop — lives here, and this component's
 * name and every child's name carry the build hash (`<name>-<hash12>`), so their URNs are the build's
 * own (a URN holds the parents' types, not their names). A new hash is a complete new chain that never
 * sees the old one's inputs; the engine deletes the old chain after the new one has succeeded.
 */
export class ArchAmiBuild extends pulumi.ComponentResource {
    /** The root snapshot of the image. */
    public readonly snapshotId: pulumi.Output<string>;
    /** The (stopped) builder instance. */
    public readonly builderInstanceId: pulumi.Output<string>;
    /** Release date of the bootstrap tarball used. */
    public readonly bootstrapDate: pulumi.Output<string>;

    constructor(buildName: string, b: BuildInputs, opts: pulumi.ComponentResourceOptions) {
        super("arch-ami:index:ArchAmiBuild", buildName, {}, opts);
        const s = b.settings;
        const tags = pulumi.output(b.tags).apply((t) => ({ ...t, "arch-ami:build-hash": b.buildHash }));

        // The host key and the tarball command depend on nothing else here: they wait for the preflight, and
        // everything else of the build waits for them or for the shared resources, which wait too.
        const hostKey = createHostKey(buildName, this, b.ready);
        const tarball = createTarball(buildName, s.image, s.bootstrapMethod, s.bootstrapMirror, b.scriptsDir, this, b.ready);
        const builder = createBuilder(
            {
                buildName,
                buildHash: b.buildHash,
                instanceType: s.instanceType,
                subnetId: b.subnetId,
                securityGroupId: b.securityGroupId,
                associatePublicIp: s.associatePublicIp,
                builderAmi: s.builderAmi,
                volumeSize: s.image.volumeSize,
                encryption: s.encryption,
                keyName: b.keyName,
                hostKey,
                tags,
            },
            this,
        );
        const connection = {
            host: builder.host,
            user: REMOTE.user,
            privateKey: b.clientPrivateKey,
            hostKey: hostKey.publicKeyOpenssh.apply((k) => k.trim()),
            // A booting instance refuses connections for a minute or more: retry, but boundedly (the same
            // bound as the check, src/image/verify.ts VERIFY_CONNECTION: a wrong key fails in minutes).
            dialErrorLimit: 60,
            perDialTimeout: 10,
        };
        const uploads = uploadInputs({ buildName, connection, tarball: tarballAsset(tarball.info, tarball.urn), scriptsDir: b.scriptsDir, localPackages: s.localPackagePaths }, this);
        const provisioned = provisionVolume(
            {
                buildName,
                connection,
                scriptsRemoteDir: uploads.scriptsRemoteDir,
                config: builder.volume.id.apply((volumeId) => renderConfig(s.image, { volumeId, deviceName: TARGET_DEVICE })),
                dependsOn: [...uploads.resources, builder.attachment],
            },
            this,
        );
        const snapshot = snapshotVolume(
            {
                buildName,
                volumeId: builder.volume.id,
                description: `arch-ami build ${b.buildHash} root`,
                tags: pulumi.output(tags).apply((t) => ({ ...t, Name: `${buildName}-snapshot` })),
                retain: s.retainImages,
                provisioned,
            },
            this,
        );
        stopBuilder(buildName, builder.instance.id, snapshot, this);

        this.snapshotId = snapshot.id;
        this.builderInstanceId = builder.instance.id;
        this.bootstrapDate = tarball.info.apply((t) => t.date);
        this.registerOutputs({ snapshotId: this.snapshotId, builderInstanceId: this.builderInstanceId, bootstrapDate: this.bootstrapDate });
    }
}
