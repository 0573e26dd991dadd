// The validated settings: what every argument resolves to, with defaults applied. Types only, so every module
// (the rendering, the identities, the resources) can use them without importing the validation.
import * as pulumi from "@pulumi/pulumi";
import { BootMode, BootstrapMethod, Filesystem, Kernel } from "../args";
import { CustomizationSettings } from "../customization";

/** Length of the build-hash suffix appended to the AMI name. */
export const NAME_HASH_LENGTH = 12;

/** Settings that decide the image's content: any change is a new build hash and a new AMI. */
export interface ImageSettings {
    volumeSize: number;
    filesystem: Filesystem;
    kernel: Kernel;
    packages: string[];
    locale: string;
    timezone: string;
    /** Empty: not pinned, the instance takes the metadata hostname. */
    hostname: string;
    defaultUser: string;
    mirror: string;
    imageMirror: string;
    allowInsecureMirror: boolean;
    /** Only enters the build hash. */
    rebuildToken: string;
    bootstrapDate: string;
    bootstrapSha256: string;
    /** Files, scripts, services, kernel parameters, local and AUR packages (all empty by default). */
    customization: CustomizationSettings;
}

/** Encryption of the build's volume (and so of its snapshot and AMI). Part of the build hash. */
export interface EncryptionSettings {
    enabled: boolean;
    /** Empty: the AWS-managed key. */
    kmsKeyId: string;
}

/** Where the AMI goes and who may use it; none of it changes the image or the build hash. */
export interface DistributionSettings {
    regions: { region: string; kmsKeyId: string }[];
    sharing: { accountIds: string[]; organizationArns: string[]; organizationalUnitArns: string[]; public: boolean };
    /** Empty: not deprecated. */
    deprecationTime: string;
    /** Empty: no parameter. */
    ssmParameterName: string;
    verify: boolean;
}

/** Every argument, validated, with defaults applied. */
export interface Settings {
    image: ImageSettings;
    amiNamePrefix: string;
    description: string;
    bootMode: BootMode;
    tpmSupport: boolean;
    instanceType: string;
    associatePublicIp: boolean;
    bootstrapMethod: BootstrapMethod;
    bootstrapMirror: string;
    /** Undefined: the latest official Debian 13 AMI. */
    builderAmi?: pulumi.Input<string>;
    /** Keep superseded AMIs and their snapshots (and the last ones on destroy). */
    retainImages: boolean;
    encryption: EncryptionSettings;
    distribution: DistributionSettings;
    /** Undefined: detect the deployer's public IPv4 at run time. */
    sshIngressCidrs?: string[];
    /** Absolute paths of the `localPackages` on the deploying machine (uploaded; only their content is hashed). */
    localPackagePaths: string[];
}
