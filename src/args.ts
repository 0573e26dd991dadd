import * as pulumi from "@pulumi/pulumi";

/** Root filesystem of the image. */
export const Filesystem = {
    /** ext4, the default. */
    Ext4: "ext4",
    /** btrfs with zstd compression. */
    Btrfs: "btrfs",
} as const;
/** Root filesystem of the image. */
export type Filesystem = (typeof Filesystem)[keyof typeof Filesystem];

/** How EC2 boots instances launched from the image. */
export const BootMode = {
    /** UEFI where the instance type supports it, legacy BIOS elsewhere (the disk carries both loaders). */
    UefiPreferred: "uefi-preferred",
    /** UEFI only (required for NitroTPM). */
    Uefi: "uefi",
    /** Legacy BIOS only. */
    LegacyBios: "legacy-bios",
} as const;
/** How EC2 boots instances launched from the image. */
export type BootMode = (typeof BootMode)[keyof typeof BootMode];

/** The Arch kernel package installed in the image. */
export const Kernel = {
    /** The current stable kernel. */
    Linux: "linux",
    /** The long-term support kernel. */
    LinuxLts: "linux-lts",
} as const;
/** The Arch kernel package installed in the image. */
export type Kernel = (typeof Kernel)[keyof typeof Kernel];

/** How the bootstrap tarball (the Arch root that runs pacstrap on the builder) is obtained. */
export const BootstrapMethod = {
    /** Download the official archlinux-bootstrap tarball and verify its release signature (no root, no Arch host). */
    Official: "official",
    /** Build it here with pacstrap (needs root, pacstrap and a populated host pacman keyring; uses `mirror`). */
    Pacstrap: "pacstrap",
} as const;
/** How the bootstrap tarball is obtained. */
export type BootstrapMethod = (typeof BootstrapMethod)[keyof typeof BootstrapMethod];

/** Encryption of the image's volume, snapshot and AMI. */
export interface EncryptionArgs {
    /** KMS key ARN in the home region. Default: the account's default EBS key (the AWS-managed `aws/ebs` unless the account set another), and an AWS-managed key cannot be shared with other accounts (checked before anything is built). */
    kmsKeyId?: string;
}

/** A copy of the AMI in another region. */
export interface RegionCopyArgs {
    /** The region, e.g. `eu-central-1`: enabled for the account and not the home region (checked before anything is built). Required. */
    region: string;
    /** KMS key in that region to encrypt the copy with. Default: encrypted with `aws/ebs` there when `encryption` is set, else unencrypted. */
    kmsKeyId?: string;
}

/** Who may launch the AMI and its copies. */
export interface SharingArgs {
    /** AWS account ids (12 digits); they also get create-volume permission on the snapshots. Default: none. */
    accountIds?: string[];
    /** AWS Organizations organization ARNs (`arn:aws:organizations::<account>:organization/o-…`). Default: none. */
    organizationArns?: string[];
    /** AWS Organizations organizational unit ARNs (`arn:aws:organizations::<account>:ou/o-…/ou-…`). Default: none. */
    organizationalUnitArns?: string[];
    /** Make the AMI and its copies public (launchable by every AWS account). Needs `acknowledgePublic`, no `encryption` and no EBS encryption by default in the home region (checked before anything is built). Default: `false`. */
    public?: boolean;
    /** Must be `true` together with `public: true`: confirms that everyone may launch the image and read everything in it. Default: `false`. */
    acknowledgePublic?: boolean;
}

/** A file written into the image (`files`). */
export interface FileArgs {
    /** Absolute path in the image, e.g. `/etc/myapp/config.toml`: letters, digits, `/` and `. _ - + @ = , : ~`, no `..`; not below /proc, /sys, /dev, /run, /tmp, /var/tmp or /var/log; parents are created (root, 0755). Required. */
    path: string;
    /** The file's text: a plain string, never a Pulumi secret (every launcher of the AMI can read every file in it). Required. */
    content: string;
    /** Permission bits as three or four octal digits, e.g. `0600`. Default: `0644`. */
    mode?: string;
    /** Owner as `user:group`, both existing in the image at build time (cloud-init creates the default user only at first boot). Default: `root:root`. */
    owner?: string;
    /** Allow replacing a file the provisioning writes (fstab, mirrorlist, cloud-init's 90-arch-ami.cfg, …: provision/owned-paths). Default: `false`. */
    overwrite?: boolean;
}

/** A script run inside the new system (`scripts`). */
export interface ScriptArgs {
    /** Name shown in its step header and in a failure: letters, digits and `. _ -`, at most 64, unique among the scripts. Required. */
    name: string;
    /** The script, run with `bash -e` as root in arch-chroot (network and the image's pacman available). Required. */
    content: string;
}

/** Arguments of an {@link ArchAmi}. Every argument is optional. */
export interface ArchAmiArgs {
    /** AMI name prefix: 3–115 characters of letters, digits and `()[] ./-'@_`; the AMI is named `<name>-<suffix12>`, the suffix a hash of project, stack, resource name, build hash, boot mode, TPM and snapshot (unique per stack, stable across `up`s). Default: the resource name. */
    name?: string;
    /** AMI description. Default: "Arch Linux (<kernel>, <filesystem>) built by arch-ami". */
    description?: string;
    /** Tags applied to every AWS resource the component creates, AMI and snapshot included. Changing them updates in place. Default: none. */
    tags?: pulumi.Input<{ [key: string]: pulumi.Input<string> }>;

    /** Subnet of the builder instance (builder placement: applies from the next build). Default: the default VPC's default subnet of the first availability zone. */
    subnetId?: pulumi.Input<string>;
    /** Builder instance type, x86_64 (builder placement: applies from the next build). Default: `t3.small` (Nitro, cheap). */
    instanceType?: string;
    /** CIDRs allowed to reach the builder over SSH; required with `associatePublicIp: false`. A failed detection is an error asking for this argument, never `0.0.0.0/0`. Default: this machine's public IPv4 as a /32, detected at run time. */
    sshIngressCidrs?: string[];
    /** Give the builder a public IPv4 and connect to it; `false` connects to its private address (builder in a private subnet reached over VPN/Direct Connect). Default: `true`. */
    associatePublicIp?: boolean;
    /** Builder AMI id (Debian-based, user `admin`); a newer default AMI never triggers a rebuild (builder placement: applies from the next build). Default: the latest official Debian 13 amd64 AMI (owner 136693071363). */
    builderAmi?: pulumi.Input<string>;

    /** Size of the image's root volume in GiB, 2–16384. Default: `4`. */
    volumeSize?: number;
    /** Root filesystem: `ext4` or `btrfs` (zstd-compressed). Default: `ext4`. */
    filesystem?: Filesystem;
    /** Boot mode registered on the AMI: `uefi-preferred`, `uefi` or `legacy-bios`. Default: `uefi-preferred`. */
    bootMode?: BootMode;
    /** Register the AMI with NitroTPM 2.0 (needs bootMode `uefi` or `uefi-preferred`). Default: `false`. */
    tpmSupport?: boolean;
    /** Encrypt the target volume, its snapshot and the AMI (with the account's default EBS key unless `kmsKeyId` is given). Part of the build: changing it builds again. Default: not encrypted, unless the account has EBS encryption by default. */
    encryption?: EncryptionArgs;
    /** Copy the AMI to these regions (`aws.ec2.AmiCopy`, through the same provider and credentials). Default: none. */
    regions?: RegionCopyArgs[];
    /** Launch permissions on the AMI and every copy. Default: private to this account. */
    sharing?: SharingArgs;
    /** When the AMI and its copies are deprecated: an RFC 3339 UTC time such as `2027-06-30T00:00:00Z` (a fixed value, not relative). Default: never. */
    deprecationTime?: string;
    /** Publish the AMI id in this SSM parameter (data type `aws:ec2:image`) in the home region and every copy's region, e.g. `/images/arch/latest`. Default: none. */
    ssmParameterName?: string;
    /** Launch a test instance from the new AMI, log in as `defaultUser` and run `provision/verify.sh` before `amiId` resolves and before the AMI is copied, shared or published; on success the instance powers itself off and AWS terminates it. Default: `true`. */
    verify?: boolean;
    /** Keep superseded AMIs, their copies, launch permissions and snapshots in the account (Packer's behaviour) instead of deregistering and deleting them when a new build or registration replaces them; `pulumi destroy` then also leaves the current ones. Default: `false`. */
    retainImages?: boolean;
    /** Kernel package: `linux` or `linux-lts`. Default: `linux`. */
    kernel?: Kernel;
    /** Extra Arch packages to install (names as pacman knows them). Default: none. */
    packages?: string[];
    /** System locale, as in /etc/locale.gen (e.g. `de_DE.UTF-8`). Default: `en_US.UTF-8`. */
    locale?: string;
    /** Time zone from the tz database (e.g. `Europe/Berlin`). Default: `UTC`. */
    timezone?: string;
    /** Hostname pinned in the image: instances keep it (cloud-init's `preserve_hostname` is set). Default: none, each instance takes its name from the EC2 metadata service at first boot. */
    hostname?: string;
    /** Login user cloud-init creates with the instance's key pair and passwordless sudo; words YAML reads as booleans or null (`yes`, `no`, `on`, `off`, `true`, `false`, `null`, `y`, `n`) are refused. Default: `arch`. */
    defaultUser?: string;

    /** Files written into the image after its configuration, in order (see README "Customizing"). Default: none. */
    files?: FileArgs[];
    /** Shell scripts run in order as root inside the new system (arch-chroot) after packages, configuration and files, before cleanup, with `bash -e`; a failing script fails the build, naming it. Default: none. */
    scripts?: ScriptArgs[];
    /** systemd units to enable after files and scripts, e.g. `docker.service`, `fstrim.timer` (a unit missing from the image fails the build, naming it). Default: none. */
    services?: string[];
    /** Kernel parameters appended to the default command line (`console=tty0 console=ttyS0,115200 nvme_core.io_timeout=4294967295`), e.g. `mitigations=auto`; no quotes, spaces, `$` or backslashes. Default: none. */
    kernelParameters?: string[];
    /** Paths on the deploying machine of package files (`*.pkg.tar.zst`, e.g. built from the AUR) uploaded with the build and installed with their dependencies from the repositories; their content is part of the build. Default: none. */
    localPackages?: string[];
    /** AUR packages built on the builder (by an unprivileged user, with `makepkg`, in dependency order among themselves) and installed; `name` or `name@<commit>` to pin the AUR git commit. Their build scripts are third-party code: README "Customizing". Default: none. */
    aurPackages?: string[];
    /** Base URL of the AUR git repositories: packages are cloned from `<aurUrl>/<name>.git` (`https://`, or `file://` on the builder; `http://` only with `allowInsecureMirror`). Default: `https://aur.archlinux.org`. */
    aurUrl?: string;

    /** Arch mirror the build installs from, a URL containing `$repo` and `$arch` (`https://`, or `file://` on the builder; `http://` only with `allowInsecureMirror`). Default: `https://geo.mirror.pkgbuild.com/$repo/os/$arch`. */
    mirror?: string;
    /** Mirror written into the image's `/etc/pacman.d/mirrorlist` (what instances update from), independent of the build mirror. Default: `https://geo.mirror.pkgbuild.com/$repo/os/$arch`. */
    imageMirror?: string;
    /** Pin the build's package repositories to a day of the Arch Linux Archive (`YYYY.MM.DD`); overrides `mirror`, and (unless given) picks `bootstrapDate` (that month's release) and `bootstrapMirror` (the Archive). The image still gets `imageMirror`. Default: none (not pinned). */
    repositorySnapshot?: string;
    /** Accept `http://` for `mirror`, `imageMirror` and `bootstrapMirror`. Package signatures still protect packages, but not the freshness of the repository databases. Default: `false`. */
    allowInsecureMirror?: boolean;
    /** Any string; changing it forces a new build (and AMI) with otherwise unchanged arguments, e.g. to pick up Arch updates with `bootstrapDate: "latest"` and no `repositorySnapshot`. Default: none (empty). */
    rebuildToken?: string;
    /** How the bootstrap tarball is obtained: `official` or `pacstrap`. Default: `official`. */
    bootstrapMethod?: BootstrapMethod;
    /** Base URL holding `iso/<date>/` with the official bootstrap tarballs; a pinned date it lacks is fetched from the Arch Linux Archive. Default: `https://geo.mirror.pkgbuild.com`, or `https://archive.archlinux.org` with `repositorySnapshot`. */
    bootstrapMirror?: string;
    /** Release date of the official bootstrap tarball (`YYYY.MM.DD`, 2024.04.01 or later: older releases are `.tar.gz`) or `latest`. Default: `latest`, or the release of the `repositorySnapshot` month. */
    bootstrapDate?: string;
    /** Expected sha256 of the official bootstrap tarball (not with `bootstrapMethod: pacstrap`); the build stops when it differs. Default: none (the release signature is always checked). */
    bootstrapSha256?: string;
}
