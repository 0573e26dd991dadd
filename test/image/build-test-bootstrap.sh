#!/usr/bin/env bash
# Builds the TEST bootstrap tarball: what the official archlinux-bootstrap tarball provides to
# provision.sh (root.x86_64/ with pacman, pacstrap, arch-chroot, a keyring to populate), plus a small
# package repository at /srv/arch-ami-test-repo whose packages carry the real Arch names provision.sh
# installs. Real programs come from Debian packages (kernel + modules, busybox, GRUB for both targets,
# growpart, sgdisk, mkfs/fsck); Arch-only tools are minimal stand-ins (stand-ins/). Cached.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test/image/lib.sh
source "$here/lib.sh"

# Debian packages in the payload (what the test image's userland is made of).
PAYLOAD_DEBS=(kmod locales tzdata busybox-static cpio gzip grub-common grub2-common grub-pc-bin
  grub-efi-amd64-bin cloud-guest-utils gdisk btrfs-progs e2fsprogs dosfstools sudo)
# Arch package name -> Debian packages whose files it gets (the rest of the payload is "base").
declare -A SPLIT=(
  [grub]="grub-common grub2-common grub-pc-bin grub-efi-amd64-bin"
  [gptfdisk]=gdisk [btrfs-progs]=btrfs-progs [e2fsprogs]=e2fsprogs [dosfstools]=dosfstools
  [cloud-guest-utils]=cloud-guest-utils [sudo]=sudo
)
# Packages provision.sh installs that need no program in this test (real names, empty content).
EMPTY_PACKAGES=(efibootmgr netplan)
# --- issue 9 additions (kept apart for merging) ---
# dhcpcd: provision.sh names cloud-init's dhcp-client provider explicitly. archlinux-keyring: provision.sh
# refreshes the bootstrap root's keyring from the repository before pacstrap (it carries the test keyring).
EMPTY_PACKAGES+=(dhcpcd)
KEYRING_DIR="" # set by build_bootstrap: the test keyring, in the bootstrap root and as package archlinux-keyring
# Kernel module folders kept in the test "linux" package: storage (NVMe, Xen, virtio, SCSI/ATA),
# filesystems, ENA, and what they depend on. The rest (sound, GPUs, most NICs) only slows the tests.
KERNEL_MODULE_DIRS=(arch block crypto fs lib mm virt drivers/acpi drivers/ata drivers/block drivers/char
  drivers/md drivers/net/ethernet/amazon drivers/nvme drivers/scsi drivers/virtio drivers/xen)
BOOTSTRAP_DEBS=(pacman-package-manager makepkg arch-install-scripts gnupg zstd libarchive-tools util-linux)
REPO_PATH=/srv/arch-ami-test-repo

# As in Arch, installing base brings systemd (here: the test init and systemctl stand-ins).
declare -A DEPENDS=([base]=systemd)

# make_package NAME DIR DESCRIPTION: writes NAME-1.0-1-x86_64.pkg.tar.zst from DIR into $REPO.
make_package() {
  local name=$1 dir=$2 desc=$3 size dep
  size=$(du -sb "$dir" | cut -f1)
  cat >"$dir/.PKGINFO" <<EOF
pkgname = $name
pkgbase = $name
pkgver = 1.0-1
pkgdesc = $desc
url = https://example.invalid/arch-ami-test
builddate = 0
packager = arch-ami tests
size = $size
arch = x86_64
license = custom
EOF
  for dep in ${DEPENDS[$name]:-}; do printf 'depend = %s\n' "$dep" >>"$dir/.PKGINFO"; done
  (cd "$dir" && { echo .PKGINFO; find . -mindepth 1 -maxdepth 1 ! -name .PKGINFO -printf '%P\n' | sort; } |
    bsdtar --uid 0 --gid 0 -cf - -T - | zstd -q -T0 -3 -o "$REPO/$name-1.0-1-x86_64.pkg.tar.zst")
  log "package $name ($(du -h "$REPO/$name-1.0-1-x86_64.pkg.tar.zst" | cut -f1))"
}

build_payload_root() {
  local root=$1
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${PAYLOAD_DEBS[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/etc/machine-id "$root"/var/log/*
  # Device nodes and API filesystems belong to the running system, not to a package.
  rm -rf "${root:?}"/dev/* "$root"/proc/* "$root"/sys/* "$root"/run/* "$root"/tmp/*
  # Arch's filesystem/pacman layout bits provision.sh expects.
  mkdir -p "$root/etc/pacman.d" "$root/etc/mkinitcpio.conf.d" "$root/var/lib/pacman"
  chmod 555 "$root/proc" "$root/sys"
  [[ -f $root/etc/locale.gen ]] || : >"$root/etc/locale.gen"
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
  # GRUB's defaults file (Debian creates it in a maintainer script).
  install -Dm644 "$out/grub/usr/share/grub/default/grub" "$out/grub/etc/default/grub"
}

kernel_package() {
  local out=$1 tmp deb ver dir
  tmp=$(mktemp -d)
  deb=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
  (cd "$tmp" && apt-get download -q "$deb" >&2)
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  ver=$(basename "$(find "$tmp/x/lib/modules" -mindepth 1 -maxdepth 1 -type d)")
  mkdir -p "$out/usr/lib/modules/$ver/kernel"
  cp -a "$tmp/x/lib/modules/$ver"/modules.{builtin,builtin.modinfo,order} "$out/usr/lib/modules/$ver/"
  for dir in "${KERNEL_MODULE_DIRS[@]}"; do
    mkdir -p "$out/usr/lib/modules/$ver/kernel/$(dirname "$dir")"
    cp -a "$tmp/x/lib/modules/$ver/kernel/$dir" "$out/usr/lib/modules/$ver/kernel/$dir"
  done
  cp "$tmp/x/boot/vmlinuz-$ver" "$out/usr/lib/modules/$ver/vmlinuz"
  echo linux >"$out/usr/lib/modules/$ver/pkgbase"
  depmod -b "$out/usr" "$ver" 2>/dev/null || depmod -b "$out" "$ver"
  rm -rf "$tmp"
}

stand_in_packages() {
  local pkgs=$1 root=$2 s=$here/stand-ins unit
  mkdir -p "$pkgs/mkinitcpio/usr/bin" "$pkgs/mkinitcpio/usr/lib/arch-ami-test" "$pkgs/mkinitcpio/etc"
  install -m755 "$s/mkinitcpio" "$pkgs/mkinitcpio/usr/bin/mkinitcpio"
  install -m755 "$s/initramfs-init" "$pkgs/mkinitcpio/usr/lib/arch-ami-test/initramfs-init"
  install -m755 "$root/usr/bin/busybox" "$pkgs/mkinitcpio/usr/lib/arch-ami-test/busybox"
  printf 'MODULES=()\nHOOKS=(base udev autodetect modconf kms block filesystems fsck)\n' >"$pkgs/mkinitcpio/etc/mkinitcpio.conf"

  mkdir -p "$pkgs/systemd/usr/bin" "$pkgs/systemd/usr/sbin" "$pkgs/systemd/usr/lib/systemd/system"
  install -m755 "$s/systemctl" "$pkgs/systemd/usr/bin/systemctl"
  install -m755 "$s/init" "$pkgs/systemd/usr/sbin/init"
  for unit in systemd-networkd systemd-resolved systemd-timesyncd systemd-time-wait-sync; do
    printf '[Unit]\nDescription=%s (test stand-in)\n\n[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n' \
      "$unit" >"$pkgs/systemd/usr/lib/systemd/system/$unit.service"
  done

  mkdir -p "$pkgs/openssh/usr/lib/systemd/system" "$pkgs/openssh/etc/ssh/sshd_config.d"
  printf '[Unit]\nDescription=OpenSSH Daemon (test stand-in)\n\n[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n' \
    >"$pkgs/openssh/usr/lib/systemd/system/sshd.service"
  printf 'Include /etc/ssh/sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys\n' >"$pkgs/openssh/etc/ssh/sshd_config"

  mkdir -p "$pkgs/cloud-init/usr/lib/systemd/system" "$pkgs/cloud-init/etc/cloud/cloud.cfg.d"
  for unit in cloud-init-main cloud-init-local cloud-init-network cloud-config cloud-final; do
    printf '[Unit]\nDescription=%s (test stand-in)\n\n[Service]\nExecStart=/bin/true\n\n[Install]\nWantedBy=cloud-init.target\n' \
      "$unit" >"$pkgs/cloud-init/usr/lib/systemd/system/$unit.service"
  done
  printf '[Unit]\nDescription=Cloud-init target (test stand-in)\n\n[Install]\nWantedBy=multi-user.target\n' \
    >"$pkgs/cloud-init/usr/lib/systemd/system/cloud-init.target"
  printf 'users:\n  - default\ndisable_root: true\n' >"$pkgs/cloud-init/etc/cloud/cloud.cfg"
  # issue 9: the hotplug socket provision.sh enables (real cloud-init ships it).
  printf '[Unit]\nDescription=cloud-init hotplug hook socket (test stand-in)\n\n[Socket]\nListenFIFO=/run/cloud-init/hook-hotplug-cmd\n\n[Install]\nWantedBy=cloud-init.target\n' \
    >"$pkgs/cloud-init/usr/lib/systemd/system/cloud-init-hotplugd.socket"
}

build_repo() {
  local out=$1 work root pkgs name
  work=$(mktemp -d)
  root=$work/payload pkgs=$work/pkgs
  REPO=$out/core/os/x86_64
  mkdir -p "$REPO" "$pkgs"
  build_payload_root "$root"
  split_payload "$root" "$pkgs"
  kernel_package "$pkgs/linux"
  stand_in_packages "$pkgs" "$root"
  for name in "${EMPTY_PACKAGES[@]}"; do mkdir -p "$pkgs/$name"; done
  mkdir -p "$pkgs/archlinux-keyring/usr/share/pacman/keyrings"
  cp -a "$KEYRING_DIR/." "$pkgs/archlinux-keyring/usr/share/pacman/keyrings/"
  mv "$root" "$pkgs/base"
  for name in "$pkgs"/*; do
    make_package "${name##*/}" "$name" "arch-ami test package ${name##*/} (Debian $DEBIAN_SUITE binaries or a test stand-in)"
  done
  repo-add -q "$REPO/core.db.tar.gz" "$REPO"/*.pkg.tar.zst
  rm -rf "$work"
}

# A throwaway keyring (written to DIR), so `pacman-key --populate` works as with archlinux-keyring.
test_keyring() {
  local dir=$1 gnupg fpr
  gnupg=$(mktemp -d)
  gpg --homedir "$gnupg" --batch --quiet --passphrase '' --quick-gen-key 'arch-ami test <test@arch-ami.invalid>' ed25519 sign never 2>/dev/null
  fpr=$(gpg --homedir "$gnupg" --with-colons --list-keys | awk -F: '/^fpr/ {print $10; exit}')
  mkdir -p "$dir"
  gpg --homedir "$gnupg" --export >"$dir/archlinux.gpg"
  printf '%s:4:\n' "$fpr" >"$dir/archlinux-trusted"
  : >"$dir/archlinux-revoked"
  gpgconf --homedir "$gnupg" --kill all 2>/dev/null || true
  rm -rf "$gnupg"
}

build_bootstrap() {
  local out=$1 work root
  work=$(mktemp -d)
  root=$work/root.x86_64
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${BOOTSTRAP_DEBS[*]}")" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
  KEYRING_DIR=$work/keyrings
  test_keyring "$KEYRING_DIR"
  build_repo "$root$REPO_PATH"
  cat >"$root/etc/pacman.conf" <<EOF
# arch-ami TEST bootstrap: an unsigned local repository built by the tests (the official tarball ships
# Arch's stock pacman.conf with SigLevel = Required DatabaseOptional).
[options]
Architecture = x86_64
SigLevel = Never
CheckSpace

[core]
Include = /etc/pacman.d/mirrorlist
EOF
  mkdir -p "$root/etc/pacman.d"
  # shellcheck disable=SC2016 # $repo and $arch are pacman's variables
  printf 'Server = file://%s/$repo/os/$arch\n' "$REPO_PATH" >"$root/etc/pacman.d/mirrorlist"
  mkdir -p "$root/usr/share/pacman/keyrings"
  cp -a "$KEYRING_DIR/." "$root/usr/share/pacman/keyrings/"
  mkdir -p "$out"
  tar -C "$work" --numeric-owner -cf - root.x86_64 | zstd -q -T0 -3 -o "$out/bootstrap.tar.zst"
  rm -rf "$work"
  log "test bootstrap tarball: $(du -h "$out/bootstrap.tar.zst" | cut -f1)"
}

main() {
  require_root
  require_commands mmdebstrap:mmdebstrap bsdtar:libarchive-tools zstd:zstd repo-add:pacman-package-manager \
    gpg:gnupg depmod:kmod apt-get:apt dpkg-deb:dpkg
  local key
  key=$(cat "${BASH_SOURCE[0]}" "$here/lib.sh" "$here"/stand-ins/* | sha256sum | cut -c1-16)
  cached test-bootstrap "$key" build_bootstrap
  printf '%s\n' "$TEST_CACHE/test-bootstrap/bootstrap.tar.zst"
}

main "$@"
