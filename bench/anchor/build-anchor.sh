#!/usr/bin/env bash
# Builds the anchor of `npm run bench:firstboot`: a stock Debian 13 (trixie) EC2 cloud root with Debian's
# own cloud-init, as a raw GPT disk (BIOS boot + ESP + ext4 root) that boots under SeaBIOS and OVMF.
# Usage: build-anchor.sh            -> prints the path of the cached disk.raw (built when missing)
#        build-anchor.sh customize ROOT   (internal: mmdebstrap's customize hook)
#
# What it follows: Debian's official cloud images, built by debian-cloud-images
# (https://salsa.debian.org/cloud-team/debian-cloud-images, read through the GitHub fork
# mozi1924/debian-cloud-images at 743a0133). Its src/debian_cloud_images/resources/image.yaml gives the
# `ec2` vendor the FAI classes SYSTEM_BOOT, SYSTEM_BOOT_DEFAULT, CLOUD, EC2, LINUX_VARIANT_CLOUD,
# TIME_SYSTEMD, IPV6_DHCP on top of DEBIAN, AMD64 and (release trixie) TRIXIE, LINUX_VERSION_BASE, EXTRAS;
# every file cited below is under config_space/13/ (the trixie config space). "Stock": Debian's packages
# and defaults, its cloud-init config, nothing tuned for speed. Where this differs from the official
# image it is said beside the code (the build tool: mmdebstrap instead of FAI; no vfat mount here).
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=test/image/lib.sh
source "$repo/test/image/lib.sh"

# package_config/{SYSTEM_BOOT,CLOUD,EC2,AMD64,EXTRAS} for the classes above, all "install-norec"
# (mmdebstrap installs no Recommends either). package_config/DEBIAN is empty.
SYSTEM_BOOT_PACKAGES=(sudo e2fsprogs libpam-systemd systemd-resolved libnss-resolve libnss-myhostname
  netplan.io polkitd unattended-upgrades apparmor zstd apt-utils init iptables iputils-ping
  linux-sysctl-defaults less nano netbase vim-tiny whiptail
  systemd-timesyncd) # TIME_SYSTEMD
CLOUD_PACKAGES=(openssh-server ssh-import-id cloud-initramfs-growroot)
EC2_PACKAGES=(awscli cloud-init cloud-guest-utils amazon-ec2-utils)
AMD64_PACKAGES=(linux-image-cloud-amd64 grub-cloud-amd64 dosfstools) # LINUX_VERSION_BASE+LINUX_VARIANT_CLOUD
EXTRAS_PACKAGES=(apt-listchanges bash-completion bind9-host less man-db manpages socat pciutils reportbug
  traceroute vim psmisc tcpdump ca-certificates curl ethtool uuid-runtime screen xz-utils)

# hooks/partition.AMD64: GPT, p14 BIOS boot at 2048 (6144 sectors), p15 ESP at 8192 (253952 sectors),
# p1 root from 262144 to the end. The ec2 vendor's disk is 8 GiB (image.yaml `size: 8`); the anchor is
# 3 GiB (the generic vendors' size) so that the harness's enlargement to 8 GiB has something to grow, as
# it has for our 4 GiB image.
DISK_SIZE=3G
ESP_START=8192
ESP_SECTORS=253952
ROOT_START=262144
# class/BASE.var draws these per build; fixed here so the cached image is reproducible from the script.
PARTUUID_ROOT=6b3c0f8e-51a2-4d1e-9c47-2f0a9d5e8b11
PARTUUID_ESP=0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f
FSUUID_ROOT=5e0f6a7b-8c9d-4e1f-a2b3-c4d5e6f7a8b9

# --- inside mmdebstrap (customize hook): the config files and scripts of the classes above -----------

write_cloud_config() {
  local root=$1
  # files/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg/EC2: the EC2 image's default user is `admin`
  # (DEBIAN's variant, used by generic/genericcloud, names it `debian`).
  install -d "$root/etc/cloud/cloud.cfg.d"
  cat >"$root/etc/cloud/cloud.cfg.d/01_debian_cloud.cfg" <<'EOF'
apt:
  generate_mirrorlists: true

system_info:
  default_user:
    name: admin
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/bash
    lock_passwd: True
    gecos: Debian
    groups: [adm, audio, cdrom, dialout, dip, floppy, plugdev, sudo, video]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash

  package_mirrors:
  - arches: [default]
    failsafe:
      primary: https://cdn-aws.deb.debian.org/debian
      security: https://cdn-aws.deb.debian.org/debian-security
EOF
}

write_system_files() {
  local root=$1
  # files/etc/systemd/timesyncd.conf.d/01_debian_cloud.conf/EC2
  install -d "$root/etc/systemd/timesyncd.conf.d"
  printf '[Time]\nFallbackNTP=169.254.169.123 fd00:ec2::123\n' >"$root/etc/systemd/timesyncd.conf.d/01_debian_cloud.conf"
  # files/etc/default/grub.d/10_cloud.cfg/SYSTEM_BOOT and 15_timeout.cfg/CLOUD
  install -d "$root/etc/default/grub.d"
  printf 'GRUB_DISABLE_LINUX_UUID=true\nGRUB_DISABLE_LINUX_PARTUUID=\n' >"$root/etc/default/grub.d/10_cloud.cfg"
  printf 'GRUB_TIMEOUT=0\n' >"$root/etc/default/grub.d/15_timeout.cfg"
  # The one change for the harness, not from Debian: its machines have no display adapter (-nodefaults),
  # and trixie's grub-cloud-amd64 (/etc/default/grub: GRUB_TERMINAL_OUTPUT="gfxterm serial") then hangs
  # under SeaBIOS right after "Booting `Debian GNU/Linux'" (seen on the serial console; UEFI only prints
  # "no suitable video mode found"). Text output, as bookworm's grub-cloud-amd64 had
  # (GRUB_TERMINAL="console serial"), and no graphics mode handed to Linux. EC2's BIOS (Xen HVM) machines
  # do have a VGA adapter.
  printf 'GRUB_TERMINAL_OUTPUT="console serial"\nGRUB_GFXPAYLOAD_LINUX=text\n' >"$root/etc/default/grub.d/90_harness_no_display.cfg"
  # files/etc/modprobe.d/blacklist.conf/CLOUD (files/etc/kernel-img.conf/SYSTEM_BOOT: bootstrap_root)
  printf 'blacklist pcspkr\nblacklist floppy\n' >"$root/etc/modprobe.d/blacklist.conf"
  # files/etc/fstab/AMD64
  printf 'PARTUUID=%s / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1\nPARTUUID=%s /boot/efi vfat defaults,umask=077 0 2\n' \
    "$PARTUUID_ROOT" "$PARTUUID_ESP" >"$root/etc/fstab"
  install -d "$root/boot/efi"
  # files/etc/initramfs-tools/scripts/init-top/no-v6-dad.sh/EC2
  install -D -m755 /dev/stdin "$root/etc/initramfs-tools/scripts/init-top/no-v6-dad.sh" <<'EOF'
#!/bin/sh
PREREQ=""
prereqs() { echo "$PREREQ"; }
case $1 in prereqs) prereqs; exit 0 ;; esac
. /scripts/functions
echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
log_success_msg "Disabled IPv6 DAD"
EOF
  # files/etc/grub.d/enable_cloud/AMD64 (grub-cloud-amd64's postinst installs only when it is there;
  # here GRUB is installed by install_grub below, on the real disk, as scripts/SYSTEM_BOOT/20-grub does)
  : >"$root/etc/grub.d/enable_cloud"
}

# scripts/DEBIAN/11-misc (sshd_config), scripts/SYSTEM_BOOT/20-enable-systemd-{networkd,resolved}.
configure_services() {
  local root=$1
  chroot "$root" shadowconfig on
  sed -i -e 's/^#PasswordAuthentication yes/PasswordAuthentication no/' \
    -e 's/^PermitRootLogin .*/PermitRootLogin without-password/' "$root/etc/ssh/sshd_config"
  printf 'ClientAliveInterval 120\n' >>"$root/etc/ssh/sshd_config"
  chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service
}

customize() {
  local root=$1
  write_cloud_config "$root"
  write_system_files "$root"
  configure_services "$root"
  chroot "$root" update-initramfs -u -k all
}

# --- the disk -----------------------------------------------------------------------------------------

# scripts/LAST/10-cleanup: no host keys, empty hostname and machine-id, no apt lists or caches.
cleanup_root() {
  local root=$1
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/tmp/*
  rm -f "$root"/etc/ssh/ssh_host_* "$root"/var/lib/dbus/machine-id "$root"/etc/mailname \
    "$root"/var/log/alternatives.log "$root"/var/log/bootstrap.log "$root"/var/log/dpkg.log
  rm -rf "$root"/var/log/apt
  : >"$root/etc/hostname"
  : >"$root/etc/machine-id"
}

bootstrap_root() {
  local root=$1 packages
  packages=("${SYSTEM_BOOT_PACKAGES[@]}" "${CLOUD_PACKAGES[@]}" "${EC2_PACKAGES[@]}" "${AMD64_PACKAGES[@]}" "${EXTRAS_PACKAGES[@]}")
  # hooks/extrbase.BASE: `debootstrap --variant minbase`, then the class packages (SYSTEM_BOOT lists the
  # few "Packages from important" it wants; no ifupdown). hooks/instsoft.DEBIAN puts kernel-img.conf in
  # place before the packages (the kernel's postinst reads it).
  # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
    --essential-hook='printf "do_symlinks = no\n" >"$1/etc/kernel-img.conf"' \
    --customize-hook="bash '$here/build-anchor.sh' customize \"\$1\"" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2
  cleanup_root "$root"
}

partition_disk() {
  local disk=$1
  truncate -s "$DISK_SIZE" "$disk"
  sgdisk --clear \
    --new=14:2048:+6144 --typecode=14:EF02 \
    --new=15:$ESP_START:+$ESP_SECTORS --typecode=15:EF00 --partition-guid=15:"$PARTUUID_ESP" \
    --new=1:$ROOT_START:0 --typecode=1:8304 --partition-guid=1:"$PARTUUID_ROOT" \
    "$disk" >&2
}

# Runs a command in the root mounted at $1 with /dev, /proc, /sys of the host (grub-probe needs them).
in_mounted() {
  local mnt=$1
  shift
  mount --bind /dev "$mnt/dev"
  mount -t proc proc "$mnt/proc"
  mount -t sysfs sys "$mnt/sys"
  local rc=0
  chroot "$mnt" "$@" || rc=$?
  umount "$mnt/sys" "$mnt/proc" "$mnt/dev"
  return "$rc"
}

# scripts/SYSTEM_BOOT/20-grub and grub-cloud-amd64's postinst (`grub-install --target=i386-pc <disk>`;
# `grub-install --target=x86_64-efi --no-nvram --uefi-secure-boot --force-extra-removable`), then
# grub-mkconfig, which writes root=PARTUUID=… (10_cloud.cfg) and grub-cloud-amd64's serial console
# command line. The BIOS part runs grub-install itself on the loop device.
install_grub() {
  local mnt=$1 loop=$2 efi=$3
  in_mounted "$mnt" grub-install --target=i386-pc "$loop"
  install_grub_efi "$mnt" "$efi"
  in_mounted "$mnt" grub-mkconfig -o /boot/grub/grub.cfg
  # grub-mkconfig (10_linux) writes root=PARTUUID=… only when /dev/disk/by-partuuid has the partition,
  # which no udev creates for a loop device here; 20-grub has the same problem and substitutes the
  # PARTUUID into grub-mkconfig's output with sed, as this does.
  sed -i "s|root=${loop}p1 |root=PARTUUID=${PARTUUID_ROOT} |" "$mnt/boot/grub/grub.cfg"
  if grep -q "root=${loop}" "$mnt/boot/grub/grub.cfg" || ! grep -q "root=PARTUUID=${PARTUUID_ROOT} " "$mnt/boot/grub/grub.cfg"; then
    die "grub.cfg does not boot root=PARTUUID=${PARTUUID_ROOT}"
  fi
}

# grub-install refuses an --efi-directory that is not a FAT file system ("doesn't look like an EFI
# partition"), and this host cannot mount vfat; so the ESP's files are laid out here as Debian's
# grub-install --uefi-secure-boot --force-extra-removable lays them out (from the trixie packages in the
# root): shim (shim-signed) as the removable EFI/BOOT/BOOTX64.EFI with the signed GRUB
# (grub-efi-amd64-signed) and MokManager beside it, the same set plus fallback and BOOTX64.CSV in
# EFI/debian, and EFI/debian/grub.cfg, which Debian's signed GRUB reads (its built-in prefix is
# /EFI/debian) and which finds /boot/grub by the root file system's UUID, as grub-install's load.cfg does.
# GRUB's x86_64-efi modules go to /boot/grub/x86_64-efi as grub-install copies them.
install_grub_efi() {
  local mnt=$1 efi=$2 d
  install -d "$mnt/boot/grub/x86_64-efi"
  cp "$mnt"/usr/lib/grub/x86_64-efi/*.mod "$mnt"/usr/lib/grub/x86_64-efi/*.lst "$mnt/boot/grub/x86_64-efi/"
  for d in debian BOOT; do
    install -d "$efi/EFI/$d"
    cp "$mnt/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$efi/EFI/$d/grubx64.efi"
    cp "$mnt/usr/lib/shim/mmx64.efi.signed" "$efi/EFI/$d/mmx64.efi"
  done
  cp "$mnt/usr/lib/shim/shimx64.efi.signed" "$efi/EFI/debian/shimx64.efi"
  cp "$mnt/usr/lib/shim/fbx64.efi.signed" "$efi/EFI/debian/fbx64.efi"
  cp "$mnt/usr/lib/shim/BOOTX64.CSV" "$efi/EFI/debian/BOOTX64.CSV"
  cp "$mnt/usr/lib/shim/shimx64.efi.signed" "$efi/EFI/BOOT/BOOTX64.EFI"
  printf "search.fs_uuid %s root\nset prefix=(\$root)'/boot/grub'\nconfigfile \$prefix/grub.cfg\n" "$FSUUID_ROOT" >"$efi/EFI/debian/grub.cfg"
}

# The ESP: a vfat file system made and filled without mounting (mtools), copied into partition 15.
write_esp() {
  local disk=$1 efi_dir=$2 esp
  esp=$(mktemp)
  truncate -s $((ESP_SECTORS * 512)) "$esp"
  mkfs.vfat "$esp" >&2
  mcopy -s -i "$esp" "$efi_dir"/* ::/
  dd if="$esp" of="$disk" bs=512 seek=$ESP_START conv=notrunc status=none
  rm -f "$esp"
}

# The loop device and mount point of the disk being built, released on exit (also after a failure).
LOOP=""
MNT=""
release_disk() {
  if [[ -n $MNT ]]; then
    umount -R "$MNT" 2>/dev/null || true
    rmdir "$MNT"
    MNT=""
  fi
  if [[ -n $LOOP ]]; then
    partx -d "$LOOP" 2>/dev/null || true
    losetup -d "$LOOP"
    LOOP=""
  fi
}

build_disk() {
  local out=$1 root=$2 disk efi
  disk="$out/disk.raw"
  partition_disk "$disk"
  LOOP=$(losetup --find --show "$disk")
  MNT=$(mktemp -d)
  partx -a "$LOOP"
  # hooks/partition.AMD64's ext4 feature list, filled from the bootstrapped root.
  mkfs.ext4 -q -O none,sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr,has_journal,extent,huge_file,flex_bg,metadata_csum,metadata_csum_seed,64bit,dir_nlink,extra_isize,orphan_file \
    -U "$FSUUID_ROOT" -d "$root" "${LOOP}p1"
  tune2fs -c 0 -i 0 "${LOOP}p1" >&2
  mount "${LOOP}p1" "$MNT"
  efi=$(mktemp -d)
  install_grub "$MNT" "$LOOP" "$efi"
  release_disk
  write_esp "$disk" "$efi"
  rm -rf "$efi"
}

build_anchor() {
  local out=$1 root
  mkdir -p "$out"
  root=$(mktemp -d)
  bootstrap_root "$root"
  chroot "$root" dpkg-query -W cloud-init linux-image-cloud-amd64 systemd openssh-server grub-cloud-amd64 >"$out/versions"
  build_disk "$out" "$root"
  rm -rf "$root"
}

main() {
  if [[ ${1:-} == customize ]]; then
    customize "$2"
    return
  fi
  require_root
  trap release_disk EXIT
  require_commands mmdebstrap:mmdebstrap sgdisk:gdisk mkfs.ext4:e2fsprogs mkfs.vfat:dosfstools mcopy:mtools partx:util-linux
  local key dir
  key=$(cat "${BASH_SOURCE[0]}" "$repo/test/image/lib.sh" | sha256sum | cut -c1-16)
  dir="$TEST_CACHE/anchor/$key"
  if [[ ! -f $dir/disk.raw ]]; then
    log "building the anchor (Debian $DEBIAN_SUITE EC2 cloud root) into $dir"
    rm -rf "$dir" "$dir.tmp"
    build_anchor "$dir.tmp"
    mv "$dir.tmp" "$dir"
  fi
  printf '%s\n' "$dir/disk.raw"
}

main "$@"
