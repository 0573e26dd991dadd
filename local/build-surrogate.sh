#!/usr/bin/env bash
# build-surrogate.sh CACHE_DIR: prints the folder of the local surrogate VM, building it into
# CACHE_DIR/surrogate when missing or out of date. The surrogate is a Debian 13 root like the EC2 builder's
# (Debian's official AMI: the admin user with passwordless sudo), as a sparse raw virtio disk plus the
# kernel and initrd QEMU boots directly. A systemd unit plays the remote command (local/surrogate-run): it
# brings up the network QEMU's user networking provides, copies the upload share to /home/admin exactly
# as the component uploads it, runs the queued command lines as admin, reports each exit code on the
# share and powers off.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=local/lib.sh
source "$here/lib.sh"

DEBIAN_SUITE=trixie
DEBIAN_MIRROR=${ARCH_AMI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The builder's tools provision.sh uses, plus what the EC2 AMI has that a download needs (iproute2 to bring
# the network up, ca-certificates and curl).
SURROGATE_PACKAGES=(linux-image-amd64 systemd-sysv udev kmod gdisk dosfstools e2fsprogs btrfs-progs
  zstd util-linux fdisk sudo dbus iproute2 ca-certificates curl)
# Sparse: the file holds only what is written. Room for the bootstrap root, its package cache and AUR builds.
DISK_SIZE=24G

write_surrogate_unit() {
  local root=$1
  install -Dm755 "$here/surrogate-run" "$root/usr/local/bin/surrogate-run"
  cat >"$root/etc/systemd/system/surrogate-run.service" <<'UNIT'
[Unit]
Description=arch-ami local surrogate: run the uploaded provisioning like the remote command
After=systemd-udev-settle.service local-fs.target
Wants=systemd-udev-settle.service

[Service]
Type=oneshot
ExecStart=/usr/local/bin/surrogate-run
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/surrogate-run.service \
    "$root/etc/systemd/system/multi-user.target.wants/surrogate-run.service"
  # No login prompts or slow waits: this VM only runs the provisioning.
  ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
  ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
  ln -sf /dev/null "$root/etc/systemd/system/systemd-networkd-wait-online.service"
  printf '9p\n9pnet\n9pnet_virtio\n' >"$root/etc/modules-load.d/upload.conf"
  printf 'surrogate\n' >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 surrogate\n' >"$root/etc/hosts"
  # Like Debian's cloud images: the admin user has passwordless sudo.
  printf 'admin ALL=(ALL) NOPASSWD:ALL\n' >"$root/etc/sudoers.d/admin"
  chmod 0440 "$root/etc/sudoers.d/admin"
  printf '/dev/vda / ext4 rw 0 1\n' >"$root/etc/fstab"
}

build_surrogate() {
  local out=$1 root
  mkdir -p "$out"
  root=$(mktemp -d)
  # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${SURROGATE_PACKAGES[*]}")" \
    --customize-hook='chroot "$1" useradd -m -s /bin/bash admin' \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >&2
  write_surrogate_unit "$root"
  cp -L "$root/vmlinuz" "$out/vmlinuz"
  cp -L "$root/initrd.img" "$out/initrd.img"
  rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
  mkfs.ext4 -q -L surrogate -d "$root" "$out/disk.raw" "$DISK_SIZE"
  rm -rf "$root"
}

main() {
  local cache=${1:?usage: build-surrogate.sh CACHE_DIR}
  require_root
  require_commands mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs
  local key
  key=$(cat "${BASH_SOURCE[0]}" "$here/surrogate-run" "$here/lib.sh" | sha256sum | cut -c1-16)
  cached "$cache" surrogate "$key" build_surrogate
  printf '%s\n' "$cache/surrogate"
}

main "$@"
