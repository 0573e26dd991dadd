// Generated from src/args.ts by `npm run gen:args` (scripts/gen-args.ts). Do not edit: change the TSDoc there.
// test/unit/args.test.ts fails when this file or README.md's argument tables are stale.

/** How the default program reads each argument from stack config: text, number, true/false or JSON. */
export const ARGUMENT_KINDS = {
    name: "string",
    description: "string",
    tags: "json",
    subnetId: "string",
    instanceType: "string",
    sshIngressCidrs: "json",
    associatePublicIp: "boolean",
    builderAmi: "string",
    volumeSize: "number",
    filesystem: "string",
    bootMode: "string",
    tpmSupport: "boolean",
    encryption: "json",
    regions: "json",
    sharing: "json",
    deprecationTime: "string",
    ssmParameterName: "string",
    verify: "boolean",
    retainImages: "boolean",
    kernel: "string",
    packages: "json",
    locale: "string",
    timezone: "string",
    hostname: "string",
    defaultUser: "string",
    files: "json",
    scripts: "json",
    services: "json",
    kernelParameters: "json",
    localPackages: "json",
    aurPackages: "json",
    aurUrl: "string",
    mirror: "string",
    imageMirror: "string",
    repositorySnapshot: "string",
    allowInsecureMirror: "boolean",
    rebuildToken: "string",
    bootstrapMethod: "string",
    bootstrapMirror: "string",
    bootstrapDate: "string",
    bootstrapSha256: "string",
} as const;

/** The constant defaults of `ArchAmiArgs` (the backticked value after "Default:" in each TSDoc). */
export const DEFAULTS = {
    instanceType: "t3.small",
    associatePublicIp: true,
    volumeSize: 4,
    filesystem: "ext4",
    bootMode: "uefi-preferred",
    tpmSupport: false,
    verify: true,
    retainImages: false,
    kernel: "linux",
    locale: "en_US.UTF-8",
    timezone: "UTC",
    defaultUser: "arch",
    aurUrl: "https://aur.archlinux.org",
    mirror: "https://geo.mirror.pkgbuild.com/$repo/os/$arch",
    imageMirror: "https://geo.mirror.pkgbuild.com/$repo/os/$arch",
    allowInsecureMirror: false,
    bootstrapMethod: "official",
    bootstrapMirror: "https://geo.mirror.pkgbuild.com",
    bootstrapDate: "latest",
} as const;

/** The constant defaults of the nested argument types. */
export const NESTED_DEFAULTS = {
    SharingArgs: {
        public: false,
        acknowledgePublic: false,
    },
    FileArgs: {
        mode: "0644",
        owner: "root:root",
        overwrite: false,
    },
} as const;
