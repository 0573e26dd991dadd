// The default program (Pulumi.yaml): one ArchAmi configured from stack config keys under "arch-ami:".
import * as pulumi from "@pulumi/pulumi";
import { ArchAmi, ArchAmiArgs, BootMode, BootstrapMethod, Filesystem, Kernel } from "../src";

const cfg = new pulumi.Config("arch-ami");

const args: ArchAmiArgs = {
    name: cfg.get("name"),
    description: cfg.get("description"),
    tags: cfg.getObject<Record<string, string>>("tags"),
    subnetId: cfg.get("subnetId"),
    instanceType: cfg.get("instanceType"),
    sshIngressCidrs: cfg.getObject<string[]>("sshIngressCidrs"),
    associatePublicIp: cfg.getBoolean("associatePublicIp"),
    builderAmi: cfg.get("builderAmi"),
    retainImages: cfg.getBoolean("retainImages"),
    volumeSize: cfg.getNumber("volumeSize"),
    filesystem: cfg.get("filesystem") as Filesystem | undefined,
    bootMode: cfg.get("bootMode") as BootMode | undefined,
    tpmSupport: cfg.getBoolean("tpmSupport"),
    kernel: cfg.get("kernel") as Kernel | undefined,
    packages: cfg.getObject<string[]>("packages"),
    locale: cfg.get("locale"),
    timezone: cfg.get("timezone"),
    hostname: cfg.get("hostname"),
    defaultUser: cfg.get("defaultUser"),
    mirror: cfg.get("mirror"),
    imageMirror: cfg.get("imageMirror"),
    repositorySnapshot: cfg.get("repositorySnapshot"),
    allowInsecureMirror: cfg.getBoolean("allowInsecureMirror"),
    rebuildToken: cfg.get("rebuildToken"),
    bootstrapMethod: cfg.get("bootstrapMethod") as BootstrapMethod | undefined,
    bootstrapMirror: cfg.get("bootstrapMirror"),
    bootstrapDate: cfg.get("bootstrapDate"),
    bootstrapSha256: cfg.get("bootstrapSha256"),
};

const arch = new ArchAmi("arch", args);

export const amiId = arch.amiId;
export const amiName = arch.amiName;
export const snapshotId = arch.snapshotId;
export const builderInstanceId = arch.builderInstanceId;
export const buildHash = arch.buildHash;
