#!/usr/bin/env bash
# Builds the TEST bootstrap tarball: what the official archlinux-bootstrap tarball provides to
# provision.sh (root.x86_64/ with pacman, pacstrap, arch-chroot, a keyring to populate), plus a small
# package repository at /srv/arch-ami-test-repo whose packages carry the real Arch names provision.sh
# installs. Everything that runs at first boot is a real program from Debian 13 (trixie): systemd as
# PID 1 with udev, networkd, resolved, timesyncd, logind and journald; cloud-init with its Python
# dependencies and netplan; OpenSSH; sudo; dhcpcd; the kernel; growpart; GRUB for both targets;
# sgdisk, mkfs/fsck; pacman-key. Only mkinitcpio (an Arch build tool) is a stand-in (stand-ins/).
# cloud-init's /etc/cloud/cloud.cfg is rendered from cloud-init's own template for the "arch" variant,
# as Arch's package does. Cached.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/image/lib.sh
source "$here/lib.sh"

# Debian packages in the payload (what the test image's userland is made of).
PAYLOAD_DEBS=(kmod locales tzdata busybox-static cpio gzip xz-utils grub-common grub2-common grub-pc-bin
  grub-efi-amd64-bin cloud-guest-utils gdisk btrfs-progs e2fsprogs dosfstools sudo
  systemd systemd-sysv udev systemd-resolved systemd-timesyncd libpam-systemd libnss-resolve libnss-myhostname
  dbus iproute2 openssh-server openssh-client openssh-sftp-server cloud-init netplan.io netplan-generator
  dhcpcd-base netcat-openbsd pacman-package-manager makepkg gnupg login passwd procps less)
# Arch package name -> Debian packages whose files it gets (the rest of the payload is "base").
declare -A SPLIT=(
  [grub]="grub-common grub2-common grub-pc-bin grub-efi-amd64-bin"
  [gptfdisk]=gdisk [btrfs-progs]=btrfs-progs [e2fsprogs]=e2fsprogs [dosfstools]=dosfstools
  [cloud-guest-utils]=cloud-guest-utils [sudo]=sudo
  [systemd]="systemd systemd-sysv udev systemd-resolved systemd-timesyncd libpam-systemd libnss-resolve libnss-myhostname libsystemd-shared"
  [openssh]="openssh-server openssh-client openssh-sftp-server"
  [cloud-init]=cloud-init [netplan]="netplan.io netplan-generator python3-netplan libnetplan1" [dhcpcd]=dhcpcd-base
  [openbsd-netcat]=netcat-openbsd
)
# Packages provision.sh installs that need no program in this test (real names, empty content). base-devel
# and git are what provision.sh installs into the bootstrap root for AUR builds: the tools themselves
# (makepkg, fakeroot, git) are Debian's, already in this Debian-made bootstrap root (BOOTSTRAP_DEBS).
EMPTY_PACKAGES=(efibootmgr base-devel git)
# Kernel module folders kept in the test "linux" package: storage (NVMe, Xen, virtio, SCSI/ATA),
# filesystems, ENA, and what they depend on. The rest (sound, GPUs, most NICs) only slows the tests.
KERNEL_MODULE_DIRS=(arch block crypto fs lib mm virt net drivers/acpi drivers/ata drivers/block drivers/char
  drivers/md drivers/net/ethernet/amazon drivers/net/virtio_net.ko.xz drivers/net/net_failover.ko.xz
  drivers/nvme drivers/scsi drivers/virtio drivers/xen drivers/firmware drivers/input drivers/platform drivers/rtc
  drivers/crypto drivers/hv)
BOOTSTRAP_DEBS=(pacman-package-manager makepkg fakeroot git arch-install-scripts gnupg zstd libarchive-tools util-linux passwd)
REPO_PATH=/srv/arch-ami-test-repo
# Stands in for the AUR: bare git repositories <name>.git (PKGBUILD + .SRCINFO, as the AUR serves them)
# inside the bootstrap root, cloned by provision.sh from AUR_URL=file://$AUR_PATH.
AUR_PATH=/srv/arch-ami-test-aur
# cloud-init/cloud.cfg.tmpl is canonical/cloud-init's config/cloud.cfg.tmpl at this tag: the version
# Debian trixie ships (checked at build time).
CLOUD_INIT_TEMPLATE_VERSION=25.1.4

# As in Arch, installing base brings systemd. The test's local package needs a repository package that
# nothing else installs (arch-ami-test-dep), so the image proves dependencies were resolved.
declare -A DEPENDS=([base]="systemd archlinux-keyring" [arch-ami-test-local]=arch-ami-test-dep)

# make_package NAME DIR DESCRIPTION: writes NAME-$PKGVER-x86_64.pkg.tar.zst from DIR into $REPO, with a
# detached signature (.sig, as makepkg --sign writes it) by the key $SIGNER when set.
PKGVER=1.0-1 SIGNER=""
make_package() {
  local name=$1 dir=$2 desc=$3 size dep file
  file=$REPO/$name-$PKGVER-x86_64.pkg.tar.zst
  size=$(du -sb "$dir" | cut -f1)
  cat >"$dir/.PKGINFO" <<EOF
pkgname = $name
pkgbase = $name
pkgver = $PKGVER
pkgdesc = $desc
url = https://example.invalid/arch-ami-test
builddate = 0
packager = arch-ami tests
size = $size
arch = x86_64
license = custom
EOF
  for dep in ${DEPENDS[$name]:-}; do printf 'depend = %s\n' "$dep" >>"$dir/.PKGINFO"; done
  rm -f "$file" "$file.sig"
  (cd "$dir" && { echo .PKGINFO; find . -mindepth 1 -maxdepth 1 ! -name .PKGINFO -printf '%P\n' | sort; } |
    bsdtar --uid 0 --gid 0 -cf - -T - | zstd -q -T0 -3 -o "$file")
  [[ -z $SIGNER ]] || gpg_sign "$SIGNER" "$file"
  log "package $name $PKGVER ($(du -h "$file" | cut -f1))${SIGNER:+, signed by $SIGNER}"
}

build_payload_root() {
  local root=$1
  # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${PAYLOAD_DEBS[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='mkdir -p "$1/var/tmp/kernel" && chroot "$1" sh -c "cd /var/tmp/kernel && apt-get download -q \$(apt-cache depends linux-image-amd64 | sed -n \"s/.*Depends: \\(linux-image-[0-9].*\\)/\\1/p\" | head -n1)"' \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2
  mv "$root/var/tmp/kernel" "$root.kernel"
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/etc/machine-id "$root"/var/log/*
  # Device nodes and API filesystems belong to the running system, not to a package.
  rm -rf "${root:?}"/dev/* "$root"/proc/* "$root"/sys/* "$root"/run/* "$root"/tmp/*
  # Arch's filesystem/pacman layout bits provision.sh expects.
  mkdir -p "$root/etc/pacman.d" "$root/etc/mkinitcpio.conf.d" "$root/var/lib/pacman"
  chmod 555 "$root/proc" "$root/sys"
  [[ -f $root/etc/locale.gen ]] || : >"$root/etc/locale.gen"
  archify_payload "$root"
  # The keyring comes from the archlinux-keyring package (base depends on it, as Arch's does); Debian's
  # archive keyrings (apt's, unused here) go, so that only the "Arch" keyring is populated, as on Arch.
  rm -f "$root"/usr/share/keyrings/debian-archive-* "$root"/etc/apt/trusted.gpg.d/debian-archive-*
}

# Turns the Debian root into what Arch's packages and filesystem leave: no unit enabled by a Debian
# maintainer script (Arch packages enable nothing; provision.sh enables what the image runs), no host
# keys, Arch's group "wheel" and Arch's hosts line in nsswitch.conf, Arch's cloud-init configuration.
archify_payload() {
  local root=$1
  find "$root/etc/systemd/system" -mindepth 1 -delete
  # Arch has no SysV init scripts (systemd would wrap Debian's /etc/init.d/ssh as a second sshd unit).
  find "$root/etc/init.d" "$root"/etc/rc?.d -mindepth 1 -delete 2>/dev/null || true
  rm -f "$root"/etc/ssh/ssh_host_* "$root/etc/resolv.conf"
  # Debian's D-Bus policy making systemd-localed read-only (Debian manages /etc/default/locale); Arch's
  # systemd lets root set the locale, which cloud-init's locale module does with localectl.
  rm -f "$root/usr/share/dbus-1/system.d/systemd-localed-read-only.conf"
  chroot "$root" groupadd -r wheel
  sed -i -E 's/^hosts:.*/hosts: mymachines resolve [!UNAVAIL=return] files myhostname dns/' "$root/etc/nsswitch.conf"
  arch_openssh_units "$root"
  arch_cloud_init_config "$root"
  arch_pacman_conf >"$root/etc/pacman.conf"
  # Debian's nc is an alternatives link (a maintainer script's); Arch's openbsd-netcat ships /usr/bin/nc.
  rm -f "$root/usr/bin/nc" "$root/etc/alternatives/nc" "$root"/etc/alternatives/nc.*
}
# Arch's stock /etc/pacman.conf options (pacman's package): package signatures required, database signatures
# optional, local package files optional. One repository, [core] (the test repository has no other).
# Without DownloadUser: Debian's pacman package creates no alpm user to download as.
arch_pacman_conf() {
  cat <<'EOF'
[options]
HoldPkg     = pacman glibc
Architecture = auto
CheckSpace
ParallelDownloads = 5
SigLevel    = Required DatabaseOptional
LocalFileSigLevel = Optional

[core]
Include = /etc/pacman.d/mirrorlist
EOF
}


# Arch's openssh ships sshd.service (and sshdgenkeys.service), not Debian's ssh.service/ssh.socket.
arch_openssh_units() {
  local root=$1 units=$1/usr/lib/systemd/system
  rm -f "$units/ssh.service" "$units/ssh.socket" "$units/ssh@.service" "$units/rescue-ssh.target"
  rm -rf "$root/usr/lib/systemd/system-generators/sshd-socket-generator"
  cat >"$units/sshdgenkeys.service" <<'UNIT'
[Unit]
Description=SSH Key Generation
ConditionPathExists=|!/etc/ssh/ssh_host_ecdsa_key
ConditionPathExists=|!/etc/ssh/ssh_host_ecdsa_key.pub
ConditionPathExists=|!/etc/ssh/ssh_host_ed25519_key
ConditionPathExists=|!/etc/ssh/ssh_host_ed25519_key.pub
ConditionPathExists=|!/etc/ssh/ssh_host_rsa_key
ConditionPathExists=|!/etc/ssh/ssh_host_rsa_key.pub

[Service]
ExecStart=/usr/bin/ssh-keygen -A
Type=oneshot
RemainAfterExit=yes
UNIT
  cat >"$units/sshd.service" <<'UNIT'
[Unit]
Description=OpenSSH Daemon
Wants=sshdgenkeys.service
After=sshdgenkeys.service
After=network.target

[Service]
Type=notify
ExecStart=/usr/sbin/sshd -D
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=always
RuntimeDirectory=sshd
RuntimeDirectoryPreserve=yes

[Install]
WantedBy=multi-user.target
UNIT
}

# Arch's cloud-init package: cloud.cfg rendered from the upstream template for the "arch" variant, and
# none of Debian's cloud.cfg.d additions (90_dpkg.cfg's datasource_list would override the image's).
arch_cloud_init_config() {
  local root=$1 version
  version=$(chroot "$root" cloud-init --version 2>&1 | awk '{print $2}')
  [[ $version == "$CLOUD_INIT_TEMPLATE_VERSION"* ]] ||
    die "cloud-init $version in $DEBIAN_SUITE, but cloud-init/cloud.cfg.tmpl is from $CLOUD_INIT_TEMPLATE_VERSION: refresh it"
  find "$root/etc/cloud/cloud.cfg.d" -mindepth 1 ! -name 05_logging.cfg ! -name README -delete
  render_arch "$root" cloud.cfg.tmpl /etc/cloud/cloud.cfg
  grep -q '^  distro: arch' "$root/etc/cloud/cloud.cfg" || die "rendered cloud.cfg is not the arch variant"
  # The systemd units are templates too: Debian's (variant debian) run the local stage before
  # sysinit.target, without D-Bus; Arch's keep the default dependencies (hostnamectl needs D-Bus there).
  local unit generator
  for unit in cloud-init-local cloud-init-main cloud-init-network; do
    [[ -f $root/usr/lib/systemd/system/$unit.service ]] || die "cloud-init package has no $unit.service"
    render_arch "$root" "$unit.service.tmpl" "/usr/lib/systemd/system/$unit.service"
  done
  grep -q '^DefaultDependencies=no' "$root/usr/lib/systemd/system/cloud-init-local.service" && die "cloud-init-local.service is not the arch variant"
  generator=""
  for unit in usr/lib/systemd/system-generators lib/systemd/system-generators; do
    [[ -f $root/$unit/cloud-init-generator && ! -L $root/$unit/cloud-init-generator ]] && generator=$unit/cloud-init-generator && break
  done
  [[ -n $generator ]] || die "cloud-init package has no systemd generator"
  render_arch "$root" cloud-init-generator.tmpl "/$generator"
  chmod 755 "$root/$generator"
}

# render_arch ROOT TEMPLATE DEST: renders test/image/cloud-init/TEMPLATE (canonical/cloud-init's, at the
# version Debian ships) for the "arch" variant with cloud-init's own templater, inside ROOT.
render_arch() {
  local root=$1 template=$2 dest=$3
  cp "$here/cloud-init/$template" "$root/var/tmp/$template"
  chroot "$root" python3 -c 'import sys
from cloudinit import templater
templater.render_template("arch", sys.argv[1], sys.argv[2], sys.argv[2].endswith(".cfg"), prefix="/usr")' "/var/tmp/$template" "$dest"
  rm "$root/var/tmp/$template"
}

# usrmerge: dpkg lists /bin/x, /lib/x, the root holds them below /usr.
canonical_paths() { sed -E 's#^/(bin|sbin|lib|lib64)/#/usr/\1/#'; }

split_payload() {
  local root=$1 out=$2 name deb list
  for name in "${!SPLIT[@]}"; do
    list=$(mktemp)
    for deb in ${SPLIT[$name]}; do
      cat "$root/var/lib/dpkg/info/$deb.list" "$root/var/lib/dpkg/info/$deb:amd64.list" 2>/dev/null || true
    done | canonical_paths | sort -u | while read -r p; do
      # Files and file symlinks only: directories (and the usrmerge links /bin, /lib…) stay in base.
      if [[ ! -d $root$p && (-L $root$p || -f $root$p) ]]; then printf '%s\n' "${p#/}"; fi
    done >"$list"
    mkdir -p "$out/$name"
    tar -C "$root" -cf - -T "$list" | tar -C "$out/$name" -xf -
    (cd "$root" && xargs -d '\n' rm -f <"$list")
    rm -f "$list"
  done
  ln -s nc.openbsd "$out/openbsd-netcat/usr/bin/nc"
  # GRUB's defaults file (Debian creates it in a maintainer script).
  install -Dm644 "$out/grub/usr/share/grub/default/grub" "$out/grub/etc/default/grub"
  # Arch's grub-mkconfig boots the kernel with "rw" (Debian's with "ro"): the root comes up writable, so
  # systemd can create /etc/machine-id, which the image ships without, on the first boot.
  sed -i -E 's/(root=\$\{linux_root_device_thisversion\}) ro /\1 rw /' "$out/grub/etc/grub.d/10_linux"
  grep -q 'linux_root_device_thisversion} rw ' "$out/grub/etc/grub.d/10_linux" || die "could not make grub-mkconfig use rw"
}

kernel_package() {
  local out=$1 debs=$2 tmp ver dir
  tmp=$(mktemp -d)
  dpkg-deb -x "$debs"/linux-image-*.deb "$tmp/x"
  local mods="" d
  for d in "$tmp"/x/usr/lib/modules/* "$tmp"/x/lib/modules/*; do [[ -d $d ]] && mods=$d && break; done
  [[ -n $mods ]] || die "no kernel modules in $(echo "$debs"/linux-image-*.deb)"
  ver=${mods##*/}
  mkdir -p "$out/usr/lib/modules/$ver/kernel"
  cp -a "$mods"/modules.{builtin,builtin.modinfo,order} "$out/usr/lib/modules/$ver/"
  for dir in "${KERNEL_MODULE_DIRS[@]}"; do
    mkdir -p "$out/usr/lib/modules/$ver/kernel/$(dirname "$dir")"
    cp -a "$mods/kernel/$dir" "$out/usr/lib/modules/$ver/kernel/$dir"
  done
  cp "$tmp/x/boot/vmlinuz-$ver" "$out/usr/lib/modules/$ver/vmlinuz"
  echo linux >"$out/usr/lib/modules/$ver/pkgbase"
  depmod -b "$out/usr" "$ver" 2>/dev/null || depmod -b "$out" "$ver"
  rm -rf "$tmp"
}

# mkinitcpio is Arch's initramfs *build* tool; the stand-in builds a busybox initramfs that hands over to
# the real systemd. Everything else in the repository is a real program.
stand_in_packages() {
  local pkgs=$1 root=$2 s=$here/stand-ins
  mkdir -p "$pkgs/mkinitcpio/usr/bin" "$pkgs/mkinitcpio/usr/lib/arch-ami-test" "$pkgs/mkinitcpio/etc"
  install -m755 "$s/mkinitcpio" "$pkgs/mkinitcpio/usr/bin/mkinitcpio"
  install -m755 "$s/initramfs-init" "$pkgs/mkinitcpio/usr/lib/arch-ami-test/initramfs-init"
  install -m755 "$root/usr/bin/busybox" "$pkgs/mkinitcpio/usr/lib/arch-ami-test/busybox"
  printf 'MODULES=()\nHOOKS=(base udev autodetect modconf kms block filesystems fsck)\n' >"$pkgs/mkinitcpio/etc/mkinitcpio.conf"
}

build_repo() {
  local out=$1 work root pkgs name
  work=$(mktemp -d)
  root=$work/payload pkgs=$work/pkgs
  REPO=$out/core/os/x86_64
  mkdir -p "$REPO" "$pkgs"
  build_payload_root "$root"
  split_payload "$root" "$pkgs"
  kernel_package "$pkgs/linux" "$root.kernel"
  stand_in_packages "$pkgs" "$root"
  for name in "${EMPTY_PACKAGES[@]}"; do mkdir -p "$pkgs/$name"; done
  # A repository package only the test's local and "AUR" packages depend on.
  mkdir -p "$pkgs/arch-ami-test-dep/usr/share/arch-ami-test-dep"
  echo "arch-ami test: installed as a dependency" >"$pkgs/arch-ami-test-dep/usr/share/arch-ami-test-dep/README"
  # A repository package nothing depends on: the customization script installs it with the image's pacman.
  mkdir -p "$pkgs/arch-ami-test-extra/usr/share/arch-ami-test-extra"
  echo "arch-ami test: installed by a customization script with pacman" >"$pkgs/arch-ami-test-extra/usr/share/arch-ami-test-extra/README"
  buildroot_package "$pkgs/arch-ami-test-buildroot" 1.0-1
  mv "$root" "$pkgs/base"
  rm -rf "$root.kernel"
  # Every package signed by the current packager key, as Arch's packages are by their packagers' keys.
  for name in "$pkgs"/*; do
    SIGNER=$PACKAGER_NEW make_package "${name##*/}" "$name" "arch-ami test package ${name##*/} (Debian $DEBIAN_SUITE binaries or a test stand-in)"
  done
  # archlinux-keyring: the new keyring (with the current packager key), signed by the older packager key
  # that the tarball's stale keyring already trusts (as a keyring update must be, to be installable).
  keyring_package "$work/keyring" "$KEYRING_NEW"
  PKGVER=$KEYRING_NEW_VERSION SIGNER=$PACKAGER_OLD make_package archlinux-keyring "$work/keyring" "arch-ami test keyring (current)"
  bad_packages "$work/bad"
  # The database signed too (pacman checks it when present: DatabaseOptional).
  GNUPGHOME=$SIGNING repo-add -q -s -k "$PACKAGER_OLD" "$REPO/core.db.tar.gz" "$REPO"/*.pkg.tar.zst
  [[ -f $REPO/core.db.tar.gz.sig ]] || die "repo-add wrote no database signature"
  rm -rf "$work"
}

# buildroot_package DIR VERSION: arch-ami-test-buildroot stands in for the libraries and tools (glibc, gcc…)
# the bootstrap tarball ships older than the repositories: 0.9-1 in the tarball's root, 1.0-1 in the
# repository. The stand-in AUR package records the version it was built on.
buildroot_package() {
  mkdir -p "$1/usr/share/arch-ami-test-buildroot"
  echo "$2" >"$1/usr/share/arch-ami-test-buildroot/version"
}

# keyring_package DIR KEYRING: archlinux-keyring's files, where Arch's pacman-key reads them
# (/usr/share/pacman/keyrings) and where Debian's does (/usr/share/keyrings).
keyring_package() {
  local d
  for d in usr/share/pacman/keyrings usr/share/keyrings; do
    mkdir -p "$1/$d"
    cp "$2"/archlinux* "$1/$d/"
  done
}

# Two packages the negative cases ask for: one signed by a key no keyring knows, one changed after it was
# signed (its signature is the original's; the database's checksum is the changed file's, as when a
# mirror serves a tampered file with a matching database).
bad_packages() {
  local dir=$1 tampered
  mkdir -p "$dir/unknown/usr/share/arch-ami-test-unknown-key" "$dir/tampered/usr/share/arch-ami-test-tampered"
  echo "signed by an unknown key" >"$dir/unknown/usr/share/arch-ami-test-unknown-key/README"
  SIGNER=$UNKNOWN_KEY make_package arch-ami-test-unknown-key "$dir/unknown" "arch-ami test: signed by a key no keyring has"
  echo "as signed" >"$dir/tampered/usr/share/arch-ami-test-tampered/README"
  SIGNER=$PACKAGER_NEW make_package arch-ami-test-tampered "$dir/tampered" "arch-ami test: changed after signing"
  tampered=$REPO/arch-ami-test-tampered-$PKGVER-x86_64.pkg.tar.zst
  mv "$tampered.sig" "$dir/tampered.sig"
  echo "changed after signing" >"$dir/tampered/usr/share/arch-ami-test-tampered/README"
  make_package arch-ami-test-tampered "$dir/tampered" "arch-ami test: changed after signing"
  mv "$dir/tampered.sig" "$tampered.sig"
}

# gpg_sign FPR FILE: FILE.sig, a binary detached signature by FPR (the exact key, not a subkey choice).
gpg_sign() { sgpg --batch --quiet --pinentry-mode loopback --passphrase '' -u "$1!" --detach-sign --no-armor -o "$2.sig" "$2"; }

# A test keyring built the way archlinux-keyring is (archlinux/archlinux-keyring: archlinux.gpg holds main
# and packager keys; archlinux-trusted lists the main keys with owner trust 4, marginal; each packager key
# is certified by at least three main keys, so gpg's default marginals-needed 3 makes it valid after
# pacman-key --populate lsigns the main keys; archlinux-revoked lists revoked keys). The keys live in
# GNUPGHOME=$SIGNING while the tarball is built:
#   KEYRING_OLD (archlinux-keyring 20240101-1, installed in the tarball's root: a stale keyring) has the
#     main keys and the older packager key;
#   KEYRING_NEW (20261201-1, in the repository) adds the current packager key, which signs every other
#     package: pacstrap only succeeds after provision.sh refreshed the keyring;
#   UNKNOWN_KEY is in neither.
KEYRING_OLD="" KEYRING_NEW="" SIGNING="" PACKAGER_OLD="" PACKAGER_NEW="" UNKNOWN_KEY=""
KEYRING_OLD_VERSION=20240101-1 KEYRING_NEW_VERSION=20261201-1
MAIN_KEYS=()
sgpg() { gpg --homedir "$SIGNING" "$@"; }
gen_key() {
  sgpg --batch --quiet --pinentry-mode loopback --passphrase '' --quick-gen-key "$1" ed25519 "$2" never >/dev/null 2>&1
  sgpg --with-colons --list-keys "$1" | awk -F: '/^fpr/ {print $10; exit}'
}
make_test_keyring() {
  local n main
  SIGNING=$(mktemp -d) KEYRING_OLD=$(mktemp -d) KEYRING_NEW=$(mktemp -d)
  for n in 1 2 3; do MAIN_KEYS+=("$(gen_key "arch-ami test main key $n <main-$n@arch-ami.invalid>" cert)"); done
  PACKAGER_OLD=$(gen_key "arch-ami test packager 2024 <packager-2024@arch-ami.invalid>" sign)
  PACKAGER_NEW=$(gen_key "arch-ami test packager 2026 <packager-2026@arch-ami.invalid>" sign)
  UNKNOWN_KEY=$(gen_key "arch-ami test unknown packager <unknown@arch-ami.invalid>" sign)
  for main in "${MAIN_KEYS[@]}"; do
    sgpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' -u "$main!" --quick-sign-key "$PACKAGER_OLD" >/dev/null 2>&1
    sgpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' -u "$main!" --quick-sign-key "$PACKAGER_NEW" >/dev/null 2>&1
  done
  sgpg --export "${MAIN_KEYS[@]}" "$PACKAGER_OLD" >"$KEYRING_OLD/archlinux.gpg"
  sgpg --export "${MAIN_KEYS[@]}" "$PACKAGER_OLD" "$PACKAGER_NEW" >"$KEYRING_NEW/archlinux.gpg"
  for main in "${MAIN_KEYS[@]}"; do printf '%s:4:\n' "$main"; done | tee "$KEYRING_OLD/archlinux-trusted" >"$KEYRING_NEW/archlinux-trusted"
  : >"$KEYRING_OLD/archlinux-revoked"
  : >"$KEYRING_NEW/archlinux-revoked"
  log "test keyring: main keys ${MAIN_KEYS[*]}; packager keys $PACKAGER_OLD (2024), $PACKAGER_NEW (2026); unknown $UNKNOWN_KEY"
}

# The tarball's root as the official one is: Arch's pacman.conf, a keyring package installed (the stale
# one: the tarball's date) and the toolchain stand-in at its older version. pacman -U of the local files
# (LocalFileSigLevel = Optional: unsigned local files install), in the root's own pacman database.
install_bootstrap_packages() {
  local root=$1 dir files
  dir=$(mktemp -d "$root/var/tmp/pkgs.XXXXXX")
  keyring_package "$dir/keyring" "$KEYRING_OLD"
  buildroot_package "$dir/buildroot" 0.9-1
  REPO=$dir PKGVER=$KEYRING_OLD_VERSION make_package archlinux-keyring "$dir/keyring" "arch-ami test keyring (stale)"
  REPO=$dir PKGVER=0.9-1 make_package arch-ami-test-buildroot "$dir/buildroot" "arch-ami test: toolchain stand-in"
  rm -f "$root"/usr/share/keyrings/debian-archive-* "$root"/etc/apt/trusted.gpg.d/debian-archive-*
  mkdir -p "$root/var/lib/pacman"
  # CheckSpace needs the chroot's mounts; the test root has none here (provision.sh turns it off too).
  sed 's/^CheckSpace/#CheckSpace/' "$root/etc/pacman.conf" >"$dir/pacman.conf"
  files=("$dir"/*.pkg.tar.zst)
  chroot "$root" pacman --config "${dir#"$root"}/pacman.conf" -U --noconfirm "${files[@]#"$root"}" >&2
  rm -rf "$dir"
}

build_bootstrap() {
  local out=$1 work root
  work=$(mktemp -d)
  root=$work/root.x86_64
  make_test_keyring
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${BOOTSTRAP_DEBS[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
  build_repo "$root$REPO_PATH"
  # Arch's makepkg.conf builds .pkg.tar.zst (Debian's says .pkg.tar.gz).
  sed -i -E "s/^PKGEXT=.*/PKGEXT='.pkg.tar.zst'/" "$root/etc/makepkg.conf"
  grep -q "^PKGEXT='.pkg.tar.zst'" "$root/etc/makepkg.conf" || die "could not set PKGEXT in makepkg.conf"
  mkdir -p "$out"
  aur_repositories "$root" "$out"
  local_package "$out"
  arch_pacman_conf >"$root/etc/pacman.conf"
  mkdir -p "$root/etc/pacman.d"
  # shellcheck disable=SC2016 # $repo and $arch are pacman's variables
  printf 'Server = file://%s/$repo/os/$arch\n' "$REPO_PATH" >"$root/etc/pacman.d/mirrorlist"
  install_bootstrap_packages "$root"
  printf '%s\n' "$PACKAGER_OLD" >"$out/packager-old" && printf '%s\n' "$PACKAGER_NEW" >"$out/packager-new"
  tar -C "$work" --numeric-owner -cf - root.x86_64 | zstd -q -T0 -3 -o "$out/bootstrap.tar.zst"
  gpgconf --homedir "$SIGNING" --kill all 2>/dev/null || true
  rm -rf "$work" "$KEYRING_OLD" "$KEYRING_NEW" "$SIGNING"
  log "test bootstrap tarball: $(du -h "$out/bootstrap.tar.zst" | cut -f1)"
}

# The local package the image test installs through localPackages (uploaded like the component does):
# $out/local/arch-ami-test-local-1.0-1-x86_64.pkg.tar.zst, depending on the repository's arch-ami-test-dep.
local_package() {
  local out=$1 dir
  dir=$(mktemp -d)
  mkdir -p "$dir/usr/share/arch-ami-test-local" "$out/local"
  echo "arch-ami test: a local package" >"$dir/usr/share/arch-ami-test-local/README"
  REPO=$out/local make_package arch-ami-test-local "$dir" "arch-ami test: a package file given as localPackages"
  rm -rf "$dir"
}

# aur_commit DIR MESSAGE: commits the work tree DIR (a fixed author, as an AUR maintainer).
aur_commit() {
  local dir=$1 msg=$2
  git -C "$dir" add -A
  git -C "$dir" -c user.name="arch-ami tests" -c user.email=test@arch-ami.invalid commit -q -m "$msg"
}

# aur_pkgbuild DIR NAME VERSION DEPENDS BODY: a PKGBUILD whose package() runs BODY, and its .SRCINFO
# (written as `makepkg --printsrcinfo` writes it; the AUR serves both).
aur_pkgbuild() {
  local dir=$1 name=$2 version=$3 depends=$4 body=$5 dep
  cat >"$dir/PKGBUILD" <<PKGBUILD
# Maintainer: arch-ami tests <test@arch-ami.invalid>
pkgname=$name
pkgver=$version
pkgrel=1
pkgdesc="arch-ami test: an AUR package built on the builder"
arch=(any)
url=https://example.invalid/arch-ami-test
license=(custom)
depends=($depends)
makedepends=(git)
options=(!strip)

package() {
$body
}
PKGBUILD
  {
    printf 'pkgbase = %s\n\tpkgdesc = arch-ami test: an AUR package built on the builder\n' "$name"
    printf '\tpkgver = %s\n\tpkgrel = 1\n\turl = https://example.invalid/arch-ami-test\n\tarch = any\n\tlicense = custom\n' "$version"
    printf '\tmakedepends = git\n'
    for dep in $depends; do printf '\tdepends = %s\n' "${dep//\'/}"; done
    printf '\toptions = !strip\n\npkgname = %s\n' "$name"
  } >"$dir/.SRCINFO"
}

# aur_lib_pkgbuild DIR VERSION: arch-ami-aur-lib, a split package (pkgbase arch-ami-aur-lib: the library
# and arch-ami-aur-lib-debug-tools, a real package whose name merely contains "-debug-"). Its build()
# (run by makepkg without fakeroot) records who built it and the build root's toolchain stand-in version;
# the library package ships both records.
aur_lib_pkgbuild() {
  local dir=$1 version=$2
  # shellcheck disable=SC2016 # expanded by makepkg
  cat >"$dir/PKGBUILD" <<PKGBUILD
# Maintainer: arch-ami tests <test@arch-ami.invalid>
pkgbase=arch-ami-aur-lib
pkgname=(arch-ami-aur-lib arch-ami-aur-lib-debug-tools)
pkgver=$version
pkgrel=1
pkgdesc="arch-ami test: an AUR package built on the builder"
arch=(any)
url=https://example.invalid/arch-ami-test
license=(custom)
makedepends=(git)
options=(!strip)

build() {
  id -un >built-by
  cat /usr/share/arch-ami-test-buildroot/version >built-on
}

package_arch-ami-aur-lib() {
  install -d "\$pkgdir/usr/bin" "\$pkgdir/usr/share/arch-ami-aur-lib"
  printf "#!/bin/sh\necho arch-ami-aur-lib %s\n" "\$pkgver" >"\$pkgdir/usr/bin/arch-ami-aur-lib-hello"
  chmod 755 "\$pkgdir/usr/bin/arch-ami-aur-lib-hello"
  install -m644 "\$srcdir/built-by" "\$srcdir/built-on" "\$pkgdir/usr/share/arch-ami-aur-lib/"
}

package_arch-ami-aur-lib-debug-tools() {
  install -d "\$pkgdir/usr/share/arch-ami-aur-lib-debug-tools"
  echo "arch-ami test: a split package named *-debug-*, not a debug package" >"\$pkgdir/usr/share/arch-ami-aur-lib-debug-tools/README"
}
PKGBUILD
  {
    printf 'pkgbase = arch-ami-aur-lib\n\tpkgdesc = arch-ami test: an AUR package built on the builder\n'
    printf '\tpkgver = %s\n\tpkgrel = 1\n\turl = https://example.invalid/arch-ami-test\n\tarch = any\n\tlicense = custom\n' "$version"
    printf '\tmakedepends = git\n\toptions = !strip\n\npkgname = arch-ami-aur-lib\n\npkgname = arch-ami-aur-lib-debug-tools\n'
  } >"$dir/.SRCINFO"
}

# Fingerprints on no keyserver (made up for the test).
AUR_DEMO_PGP_KEYS=(A1B2C3D4E5F60718293A4B5C6D7E8F9012345678 0FEDCBA9876543210FEDCBA9876543210FEDCBA9)

# Two "AUR" packages as bare repositories below $AUR_PATH: arch-ami-aur-demo depends on arch-ami-aur-lib
# (another AUR package: built first) and on the repository's arch-ami-test-dep, and ships a service.
# arch-ami-aur-lib has two commits (1.0, then 2.0); the test pins the first. Writes $out/aur-packages: the
# aurPackages list the image test uses, with the dependency listed second.
aur_repositories() {
  local root=$1 out=$2 work pin
  work=$(mktemp -d)
  mkdir -p "$root$AUR_PATH" "$work/lib" "$work/demo"
  # shellcheck disable=SC2016 # expanded by makepkg
  local demo_body='  install -d "$pkgdir/usr/bin" "$pkgdir/usr/lib/systemd/system"
  printf "#!/bin/sh\nmkdir -p /var/lib/arch-ami-aur-demo\narch-ami-aur-lib-hello >/var/lib/arch-ami-aur-demo/marker\n" >"$pkgdir/usr/bin/arch-ami-aur-demo"
  chmod 755 "$pkgdir/usr/bin/arch-ami-aur-demo"
  printf "[Unit]\nDescription=arch-ami test: a service from an AUR package\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/bin/arch-ami-aur-demo\n\n[Install]\nWantedBy=multi-user.target\n" >"$pkgdir/usr/lib/systemd/system/arch-ami-aur-demo.service"'
  git -C "$work/lib" init -q -b master
  aur_lib_pkgbuild "$work/lib" 1.0
  aur_commit "$work/lib" "arch-ami-aur-lib 1.0"
  pin=$(git -C "$work/lib" rev-parse HEAD)
  aur_lib_pkgbuild "$work/lib" 2.0
  aur_commit "$work/lib" "arch-ami-aur-lib 2.0"
  git -C "$work/demo" init -q -b master
  aur_pkgbuild "$work/demo" arch-ami-aur-demo 1.0 "arch-ami-aur-lib 'arch-ami-test-dep>=1.0'" "$demo_body"
  # Two validpgpkeys (no signed source): provision.sh fetches each from the keyserver as the build user
  # (offline both fail: warnings, makepkg has nothing to verify), which leaves the build user's dirmngr.
  printf 'validpgpkeys=(%s %s)\n' "${AUR_DEMO_PGP_KEYS[@]}" >>"$work/demo/PKGBUILD"
  sed -i "s/^\toptions = !strip$/\tvalidpgpkeys = ${AUR_DEMO_PGP_KEYS[0]}\n\tvalidpgpkeys = ${AUR_DEMO_PGP_KEYS[1]}\n&/" "$work/demo/.SRCINFO"
  grep -c validpgpkeys "$work/demo/.SRCINFO" | grep -qx 2 || die "could not add validpgpkeys to arch-ami-aur-demo's .SRCINFO"
  aur_commit "$work/demo" "arch-ami-aur-demo 1.0"
  git clone -q --bare "$work/lib" "$root$AUR_PATH/arch-ami-aur-lib.git"
  git clone -q --bare "$work/demo" "$root$AUR_PATH/arch-ami-aur-demo.git"
  rm -rf "$work"
  # The build user provision.sh creates does not own these (the real AUR is another machine): let git read them.
  printf '[safe]\n\tdirectory = %s/*\n' "$AUR_PATH" >>"$root/etc/gitconfig"
  printf 'arch-ami-aur-demo arch-ami-aur-lib@%s\n' "$pin" >"$out/aur-packages"
}

main() {
  require_root
  require_commands mmdebstrap:mmdebstrap bsdtar:libarchive-tools zstd:zstd repo-add:pacman-package-manager \
    gpg:gnupg depmod:kmod apt-get:apt dpkg-deb:dpkg git:git
  local key
  key=$(cat "${BASH_SOURCE[0]}" "$here/lib.sh" "$here/../../local/lib.sh" "$here"/stand-ins/* "$here"/cloud-init/* | sha256sum | cut -c1-16)
  cached "$TEST_CACHE" test-bootstrap "$key" build_bootstrap
  printf '%s\n' "$TEST_CACHE/test-bootstrap/bootstrap.tar.zst"
}

main "$@"
