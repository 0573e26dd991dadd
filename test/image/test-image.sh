#!/usr/bin/env bash
# test-image.sh --out PATH [--negative-cases] [--filesystem ext4|btrfs]
# Builds a raw Arch disk image through the real provisioning path, offline: the test bootstrap tarball
# and package repository, the local surrogate VM (Debian under QEMU) with the target disk attached as an
# NVMe drive whose serial is a volume id, the same uploads and the same command line as the ArchAmi
# component's remote command. Exit 0 only when provisioning succeeded; the image is left at PATH and the
# surrogate's serial log at PATH.log. --negative-cases first runs the refusal cases (unknown volume,
# mounted disk, corrupt tarball, missing package, a package signed by an unknown key, a tampered package, a
# failure inside "configure", a failing customization script followed by a check that the volume was left
# unmounted) on the same VM and checks each fails as it should; the real run after them proves a re-run
# after a failure is clean; a last command checks the builder (no gpg daemon left, nothing mounted). The ext4 image is the
# customized one (files, scripts, a service, a kernel parameter, a local package and two packages from
# the stand-in AUR) and is built without a hostname (the product default); the btrfs image pins one.
set -Eeuo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=test/image/lib.sh
source "$here/lib.sh"

VOLUME_ID=vol-0a1b2c3d4e5f67890
DISK_GIB=4
declare -A EXPECT=()

OUT="" NEGATIVE=0 FILESYSTEM=ext4
REMOTE_USER="" REMOTE_TARBALL="" REMOTE_PROVISION_DIR=""
# What the test bootstrap build leaves next to the tarball: the local package and the aurPackages list.
LOCAL_PACKAGE="" AUR_PACKAGES=""

parse_args() {
  while (($#)); do
    case $1 in
      --out) OUT=$2; shift 2 ;;
      --negative-cases) NEGATIVE=1; shift ;;
      --filesystem) FILESYSTEM=$2; shift 2 ;;
      *) die "unknown argument $1 (usage: test-image.sh --out PATH [--negative-cases] [--filesystem ext4|btrfs])" ;;
    esac
  done
  [[ -n $OUT ]] || die "--out PATH is required"
}

ensure_prerequisites() {
  require_root
  # The project's one list of Debian prerequisites; installs only what is missing.
  "$repo/scripts/setup" --apt-only || die "could not install the Debian prerequisites (scripts/setup --apt-only)"
  [[ -x $repo/node_modules/.bin/tsx ]] || die "node_modules missing: run npm ci in $repo"
}

render() { "$repo/node_modules/.bin/tsx" "$here/render-command.ts" "$@"; }

# The upload layout comes from the component (REMOTE in src/buildConfig.ts), not from this script.
read_layout() {
  local key value
  while IFS='=' read -r key value; do
    case $key in
      REMOTE_USER) REMOTE_USER=$value ;;
      REMOTE_TARBALL) REMOTE_TARBALL=$value ;;
      REMOTE_PROVISION_DIR) REMOTE_PROVISION_DIR=$value ;;
    esac
  done < <(render --paths)
  [[ $REMOTE_USER == admin && $REMOTE_TARBALL == /home/admin/* && $REMOTE_PROVISION_DIR == /home/admin/* ]] ||
    die "the surrogate plays Debian's admin user; the component uploads elsewhere ($REMOTE_TARBALL)"
}

# add_command NAME EXPECTED_EXIT TEXT: queue a command the surrogate runs as the admin user.
add_command() {
  local n
  n=$(printf '%02d-%s' "$(find "$UPLOAD/commands" -type f | wc -l)" "$1")
  printf '%s\n' "$3" >"$UPLOAD/commands/$n"
  EXPECT[$n]=$2
}

negative_cases() {
  local dev=/dev/nvme0n1 tb=$REMOTE_TARBALL
  add_command unknown-volume 3 "$(render --volume-id vol-0fffffffffffffff0)"
  add_command mounted-disk 3 "sudo mkfs.ext4 -q -F $dev && sudo mkdir -p /mnt/busy && sudo mount $dev /mnt/busy
($(render --volume-id "$VOLUME_ID")); rc=\$?; sudo umount /mnt/busy; sudo wipefs -q -a $dev; exit \$rc"
  # The disk is left as it was: a marker written to its first sector beforehand is still there (exit 99
  # otherwise).
  add_command corrupt-tarball 4 "mv $tb $tb.good && head -c 300000 $tb.good > $tb
printf arch-ami-untouched | sudo dd of=$dev conv=notrunc status=none
($(render --volume-id "$VOLUME_ID")); rc=\$?; mv $tb.good $tb
[ \"\$(sudo head -c 18 $dev)\" = arch-ami-untouched ] || rc=99
sudo dd if=/dev/zero of=$dev bs=512 count=1 status=none; exit \$rc"
  add_command missing-package 1 "$(render --volume-id "$VOLUME_ID" --packages arch-ami-no-such-package)"
  # Package signatures (the test repository is signed; pacman.conf: SigLevel = Required DatabaseOptional).
  add_command unknown-key 1 "$(render --volume-id "$VOLUME_ID" --packages arch-ami-test-unknown-key)"
  add_command tampered-package 1 "$(render --volume-id "$VOLUME_ID" --packages arch-ami-test-tampered)"
  add_command fail-in-configure 1 "$(render --volume-id "$VOLUME_ID" --corrupt-config TIMEZONE=Arch/Nowhere)"
  add_command failing-script 5 "$(render --volume-id "$VOLUME_ID" --customize failing-script)"
  # The failed run released its mounts: nothing of the target disk and nothing under the work folder is
  # mounted (checked before the real run, which would release leftovers itself).
  add_command left-unmounted 0 "lsblk -nrpo NAME,MOUNTPOINT $dev; findmnt -rno TARGET | grep /var/tmp/arch-ami && exit 1
! lsblk -nrpo MOUNTPOINT $dev | grep -q ."
}

stage_upload() {
  local tarball=$1
  UPLOAD=$WORKDIR/upload
  mkdir -p "$UPLOAD/home" "$UPLOAD/commands" "$UPLOAD/results"
  # Where the component's own CopyToRemote inputs put each file (pulumi-command's copy rule, modelled).
  LOCAL_PACKAGE=$(dirname "$tarball")/local/arch-ami-test-local-1.0-1-x86_64.pkg.tar.zst
  AUR_PACKAGES=$(<"$(dirname "$tarball")/aur-packages")
  [[ -f $LOCAL_PACKAGE ]] || die "the test bootstrap build left no local package at $LOCAL_PACKAGE"
  "$repo/node_modules/.bin/tsx" "$here/stage-uploads.ts" --tarball "$tarball" --into "$UPLOAD/home" --local-package "$LOCAL_PACKAGE"
  [[ -f $UPLOAD/home/${REMOTE_TARBALL#/home/admin/} && -f $UPLOAD/home/${REMOTE_PROVISION_DIR#/home/admin/}/provision.sh ]] ||
    die "the staged uploads lack the tarball or provision.sh where the remote command expects them"
  ((NEGATIVE)) && negative_cases
  if [[ $FILESYSTEM == ext4 ]]; then
    add_command provision 0 "$(render --volume-id "$VOLUME_ID" --filesystem ext4 --hostname "" --customize full \
      --aur-packages "$AUR_PACKAGES" --local-package "$LOCAL_PACKAGE")"
  else
    add_command provision 0 "$(render --volume-id "$VOLUME_ID" --filesystem "$FILESYSTEM")"
  fi
  # After everything: no gpg daemon (pacman's keyrings, the build user's gpg) left running on the builder,
  # nothing of the target disk or the work folder mounted.
  add_command builder-clean 0 "left=0; for p in /proc/[0-9]*; do c=\$(cat \$p/comm 2>/dev/null) || continue
case \$c in gpg-agent|dirmngr|keyboxd|scdaemon) echo \"left running: \$c (pid \${p#/proc/}, root \$(sudo readlink \$p/root))\"; left=1 ;; esac; done
findmnt -rno TARGET | grep /var/tmp/arch-ami && left=1
lsblk -nrpo MOUNTPOINT /dev/nvme0n1 | grep . && left=1
exit \$left"
}

run_surrogate() {
  local surrogate=$1 serial=${VOLUME_ID//-/}
  qemu-img create -q -f qcow2 -b "$surrogate/disk.raw" -F raw "$WORKDIR/surrogate.qcow2"
  truncate -s "${DISK_GIB}G" "$WORKDIR/target.raw"
  log "booting the local surrogate (QEMU, TCG); target disk: NVMe serial $serial"
  timeout 3600 qemu-system-x86_64 -nodefaults -accel tcg -cpu max -smp 2 -m 2048 -display none -monitor none -no-reboot \
    -serial stdio -kernel "$surrogate/vmlinuz" -initrd "$surrogate/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=0 quiet" \
    -drive "file=$WORKDIR/surrogate.qcow2,if=virtio,format=qcow2" \
    -drive "file=$WORKDIR/target.raw,if=none,id=target,format=raw,discard=unmap" \
    -device "nvme,drive=target,serial=$serial" \
    -virtfs "local,path=$UPLOAD,mount_tag=upload,security_model=none,id=upload" \
    -nic none </dev/null | tee "$OUT.log"
}

check_results() {
  local n got ok=1
  for n in $(printf '%s\n' "${!EXPECT[@]}" | sort); do
    got=$(cat "$UPLOAD/results/$n" 2>/dev/null || echo missing)
    if [[ $got == "${EXPECT[$n]}" ]]; then log "surrogate command $n: exit $got as expected"
    else log "surrogate command $n: exit $got, expected ${EXPECT[$n]}"; ok=0; fi
    printf '%s %s\n' "$n" "$got" >>"$OUT.results"
  done
  ((ok)) || die "the surrogate run did not end as expected (log: $OUT.log)"
}

main() {
  parse_args "$@"
  ensure_prerequisites
  local surrogate tarball
  surrogate=$("$here/build-surrogate.sh")
  tarball=$("$here/build-test-bootstrap.sh")
  WORKDIR=$(mktemp -d "${TMPDIR:-/var/tmp}/arch-ami-test-image.XXXXXX")
  trap 'rm -rf "$WORKDIR"' EXIT
  mkdir -p "$(dirname "$OUT")"
  rm -f "$OUT" "$OUT.log" "$OUT.results"
  read_layout
  stage_upload "$tarball"
  run_surrogate "$surrogate"
  check_results
  mv "$WORKDIR/target.raw" "$OUT"
  log "image: $OUT ($(du -h --apparent-size "$OUT" | cut -f1) raw, $(du -h "$OUT" | cut -f1) allocated)"
}

main "$@"
