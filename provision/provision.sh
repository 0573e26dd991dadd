#!/usr/bin/env bash
# provision.sh CONFIG
# Turns the empty EBS volume named in CONFIG into an EC2-ready Arch Linux system. Runs as root on the
# builder (the EC2 surrogate, or the local surrogate VM in tests). Interface: provision/README.md.
set -Eeuo pipefail

# ---- variants as data --------------------------------------------------------------------------------
# dhcpcd: cloud-init needs a dhcp-client, which two packages provide; name it, never let pacman pick (ISC
# dhclient is end-of-life). openbsd-netcat: cloud-init >= 24.3 talks to its own socket with `nc -U`
# (cloud-init #5809/#6645), which only OpenBSD's netcat has; Arch's cloud-init package depends on it, but
# the image names it so that no other netcat can satisfy a looser dependency.
PACKAGES=(base mkinitcpio grub efibootmgr openssh sudo cloud-init cloud-guest-utils gptfdisk netplan dosfstools dhcpcd openbsd-netcat)
declare -A FS_PACKAGES=([ext4]=e2fsprogs [btrfs]=btrfs-progs)
# No systemd-time-wait-sync: it holds time-sync.target until the clock is synchronized, with no time-out
# (TimeoutStartSec=infinity), and whatever is ordered after that target waits forever when no time server
# answers. arch-ami-time-sync-check reports such a clock instead (configure_network_time).
SERVICES=(sshd systemd-networkd systemd-resolved systemd-timesyncd arch-ami-time-sync-check pacman-init
  cloud-init-main cloud-init-local cloud-init-network cloud-config cloud-final)
# cloud-init's hotplug hook drops ENI attach events unless this socket listens.
SOCKETS=(cloud-init-hotplugd)
# Storage drivers every EC2 (and QEMU) disk needs; the initramfs is built without autodetect.
INITRAMFS_MODULES=(nvme xen_blkfront virtio_blk virtio_pci virtio_scsi)
# No kms: without autodetect it would pack every DRM (GPU) driver into the initramfs of a headless image.
INITRAMFS_HOOKS=(base udev modconf block filesystems fsck)
KERNEL_CMDLINE="console=tty0 console=ttyS0,115200 nvme_core.io_timeout=4294967295"
TIME_SERVERS="169.254.169.123 fd00:ec2::123"
# How long after the network is online the clock may take to synchronize before the console says it is not.
TIME_SYNC_WAIT_SECONDS=60
CONSOLE_KEYMAP=us
ESP_MIB=300

WORK=/var/tmp/arch-ami
BOOT_ROOT=$WORK/root.x86_64
TARGET=$BOOT_ROOT/mnt
LOG=/var/log/arch-ami-provision.log
STEPS_TOTAL=9 # set from the config by count_steps
# The remote command starts once the attachment is reported; the device shows up within seconds.
DISK_WAIT_SECONDS=30

# AUR builds: an unprivileged user inside the bootstrap root (never in the image); its packages are
# collected there and installed into the target with the local packages.
AUR_USER=arch-ami-build
AUR_HOME=/home/$AUR_USER
PKG_STAGING=/var/tmp/arch-ami-packages # in the bootstrap root
# Where the PGP keys an AUR package's sources are signed with (its validpgpkeys) are fetched from.
PGP_KEYSERVER=hkps://keyserver.ubuntu.com
# GnuPG's daemons: started by pacman-key, by pacman checking a signature, by the build user's gpg; each
# keeps files below $WORK open (its socket, its working directory, the chroot it runs in).
GPG_DAEMONS=(gpg-agent dirmngr keyboxd scdaemon)
# While the customization scripts run, the build mirror is the target's first server (the repository state
# pacstrap installed from); a file:// build mirror is bind-mounted read-only here in the target.
BUILD_MIRROR_MARK="# arch-ami: the build mirror, while the customization scripts run"
BUILD_MIRROR_MOUNT=/var/tmp/arch-ami-build-mirror

# Exit codes (provision/README.md).
E_USAGE=2 E_DISK=3 E_TARBALL=4 E_CUSTOM=5

declare -A CFG=()
# FILE=<path> <mode> <user:group> <base64> and SCRIPT=<name> <base64>, in config order.
declare -a FILES=() SCRIPTS=()
# AUR: listed name -> commit (may be empty), build order, and the package files built (bootstrap paths).
declare -A AUR_COMMIT=() AUR_FILES=()
declare -a AUR_LIST=() AUR_ORDER=() AUR_BUILT=()
declare -a STEP_TIMES=()
STEP_NAME="start"
STEP_NO=0
STEP_START=$SECONDS
DISK=""

# ---- helpers -----------------------------------------------------------------------------------------
die() {
  local code=$1
  shift
  printf 'provision: error: %s\n' "$*" >&2
  exit "$code"
}

step() {
  finish_step
  STEP_NO=$((STEP_NO + 1))
  STEP_NAME=$1
  STEP_START=$SECONDS
  printf '\n==> [%d/%d] %s (+%ds)\n' "$STEP_NO" "$STEPS_TOTAL" "$STEP_NAME" "$SECONDS"
}

finish_step() {
  ((STEP_NO == 0)) || STEP_TIMES+=("$(printf '%-22s %4ds' "$STEP_NAME" $((SECONDS - STEP_START)))")
}

# Runs a command in the bootstrap root (the tarball's Arch system) with a clean environment.
in_bootstrap() {
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin HOME=/root LANG=C.UTF-8 TERM=dumb \
    chroot "$BOOT_ROOT" "$@"
}

# Runs a command in the new system (arch-chroot from the bootstrap root; the new root is its /mnt).
in_target() { in_bootstrap arch-chroot /mnt "$@"; }

# part_path DISK N: partition N of DISK (nvme1n1 -> nvme1n1p3, xvdf -> xvdf3, loop0 -> loop0p3).
part_path() { if [[ $1 =~ [0-9]$ ]]; then echo "${1}p$2"; else echo "${1}$2"; fi; }

# set_conf FILE KEY VALUE: sets KEY=VALUE in a shell-style config file, adding the line when absent.
set_conf() {
  local file=$1 key=$2 value=$3 escaped
  if grep -qE "^#?${key}=" "$file"; then
    escaped=$(printf '%s' "$value" | sed -e 's/[\\|&]/\\&/g')
    sed -i -E "s|^#?${key}=.*|${key}=${escaped}|" "$file"
  else
    printf '%s=%s\n' "$key" "$value" >>"$file"
  fi
}

# Mount points at or below a path, deepest first.
mounts_below() { findmnt -rno TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1' | sort -ru; }

# Unmounts everything below a path, deepest first; lazily only when a plain unmount fails (a lazily
# detached mount is gone from the tree, so nothing can walk into it).
# Several passes: the binds made on the bootstrap root's self-bind propagate to the directory below it (a
# shared mount), and those copies only show once the self-bind is gone.
unmount_below() {
  local mnt pass
  for pass in 1 2 3 4; do
    [[ -n $(mounts_below "$1") ]] || return 0
    mounts_below "$1" | while read -r mnt; do
      # A mount listed twice (the self-bind of the bootstrap root propagates to its peer) may be gone already.
      mountpoint -q "$mnt" || continue
      umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || echo "provision: could not unmount $mnt (pass $pass)" >&2
    done
  done
}

# Removes $WORK, never while anything below it is still mounted: rm -rf would walk into a leftover bind
# of /dev or into the target volume.
remove_work() {
  local mounted
  mounted=$(mounts_below "$WORK" | tr '\n' ' ')
  [[ -z $mounted ]] || die 1 "NOT removing $WORK: still mounted below it: $mounted(unmount them by hand, then run again)"
  rm -rf --one-file-system "$WORK"
}

on_exit() {
  local rc=$?
  if ((rc != 0)); then
    local tail_lines
    tail_lines=$(tail -n 25 "$LOG" 2>/dev/null || true)
    printf '\n!!! provisioning FAILED in step %d (%s) with exit code %d after %ds\n' "$STEP_NO" "$STEP_NAME" "$rc" "$SECONDS"
    printf '!!! last lines of %s:\n' "$LOG"
    printf '%s\n' "$tail_lines" | sed 's/^/!!!   /'
    release_mounts
    printf '!!! the volume is left unmounted; fix the cause and run provision.sh again\n'
  fi
}

# Stops the gpg daemons and lazily unmounts everything under $WORK (cleanup and failures).
release_mounts() {
  if [[ -d $BOOT_ROOT/etc/pacman.d/gnupg ]]; then
    in_bootstrap gpgconf --homedir /etc/pacman.d/gnupg --kill all 2>/dev/null || true
  fi
  stop_gpg_daemons || echo "provision: gpg daemons may keep mounts below $WORK busy" >&2
  unmount_below "$WORK"
}

# PIDs of the gpg daemons whose root (chroot) is $WORK or below it: the bootstrap root, the target.
gpg_daemons_below() {
  local pid comm root
  for pid in /proc/[0-9]*; do
    comm=$(cat "$pid/comm" 2>/dev/null) || continue
    [[ " ${GPG_DAEMONS[*]} " == *" $comm "* ]] || continue
    root=$(readlink "$pid/root" 2>/dev/null) || continue
    [[ $root == "$WORK" || $root == "$WORK"/* ]] && echo "${pid#/proc/}"
  done
  return 0
}

# Ends every gpg daemon below $WORK (TERM, then KILL); returns 1 when one survives: it would keep the
# target busy (the strict final unmount would fail) or stay behind on the builder.
stop_gpg_daemons() {
  local pids=() pid names="" tries
  mapfile -t pids < <(gpg_daemons_below)
  ((${#pids[@]})) || return 0
  for pid in "${pids[@]}"; do names+="$(cat "/proc/$pid/comm" 2>/dev/null) ($pid, root $(readlink "/proc/$pid/root" 2>/dev/null)) "; done
  echo "stopping gpg daemons left below $WORK: $names"
  kill "${pids[@]}" 2>/dev/null || true
  for tries in {1..25}; do
    mapfile -t pids < <(gpg_daemons_below)
    ((${#pids[@]})) || return 0
    ((tries == 10)) && kill -KILL "${pids[@]}" 2>/dev/null
    sleep 0.2
  done
  echo "provision: gpg daemons still running below $WORK after TERM and KILL: ${pids[*]}" >&2
  return 1
}

# ---- steps -------------------------------------------------------------------------------------------
read_config() {
  local file=$1 key value
  [[ -r $file ]] || die $E_USAGE "config file '$file' not readable (usage: provision.sh CONFIG)"
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    [[ $line =~ ^([A-Z_]+)=(.*)$ ]] || die $E_USAGE "config line not KEY=value: $line"
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    case $key in
      VOLUME_ID | DEVICE_NAME | BOOTSTRAP_TARBALL | FILESYSTEM | KERNEL | PACKAGES | LOCALE | TIMEZONE | HOSTNAME | DEFAULT_USER | MIRROR | IMAGE_MIRROR | \
        SERVICES | KERNEL_PARAMETERS | LOCAL_PACKAGES | AUR_URL | AUR_PACKAGES)
        CFG[$key]=$value ;;
      FILE)
        [[ $value =~ ^/[^[:space:]]+\ [0-7]{4}\ [^[:space:]:]+:[^[:space:]:]+(\ [A-Za-z0-9+/=]*)?$ ]] ||
          die $E_USAGE "FILE line not '<absolute path> <mode 0644> <user:group> <base64>': ${value:0:80}"
        FILES+=("$value") ;;
      SCRIPT)
        [[ $value =~ ^[^[:space:]].*\ [A-Za-z0-9+/=]*$ ]] || die $E_USAGE "SCRIPT line not '<name> <base64>': ${value:0:80}"
        SCRIPTS+=("$value") ;;
      *) die $E_USAGE "unknown config key '$key'" ;;
    esac
  done <"$file"
  for key in VOLUME_ID BOOTSTRAP_TARBALL FILESYSTEM KERNEL LOCALE TIMEZONE DEFAULT_USER MIRROR IMAGE_MIRROR; do
    [[ -n ${CFG[$key]:-} ]] || die $E_USAGE "config key $key missing or empty"
  done
  [[ ${CFG[VOLUME_ID]} =~ ^vol-[0-9a-f]+$ ]] || die $E_USAGE "VOLUME_ID '${CFG[VOLUME_ID]}' is not a volume id (vol-…)"
  [[ ${CFG[FILESYSTEM]} == ext4 || ${CFG[FILESYSTEM]} == btrfs ]] || die $E_USAGE "FILESYSTEM must be ext4 or btrfs"
  [[ ${CFG[DEFAULT_USER]} =~ ^[a-z_][a-z0-9_-]*$ && ! ${CFG[DEFAULT_USER],,} =~ ^(y|yes|n|no|true|false|on|off|null)$ ]] ||
    die $E_USAGE "DEFAULT_USER '${CFG[DEFAULT_USER]}' is not a user name YAML reads as a string"
  read_aur_packages
  ((${#AUR_LIST[@]} == 0)) || [[ -n ${CFG[AUR_URL]:-} ]] || die $E_USAGE "config key AUR_URL missing or empty (AUR_PACKAGES needs it)"
  count_steps
}

# AUR_PACKAGES=<name>[@<commit>] …: the commit pin is the part after the last @ when it is hex.
read_aur_packages() {
  local entry name
  for entry in ${CFG[AUR_PACKAGES]:-}; do
    if [[ $entry =~ ^(.+)@([0-9a-f]{7,40})$ ]]; then name=${BASH_REMATCH[1]} AUR_COMMIT[$name]=${BASH_REMATCH[2]}
    else name=$entry AUR_COMMIT[$name]=""; fi
    [[ $name =~ ^[a-z0-9@._+-]+$ ]] || die $E_USAGE "AUR package '$entry' is not an AUR package name"
    AUR_LIST+=("$name")
  done
}

# The numbered steps: nine always, plus one per customization present in the config.
count_steps() {
  STEPS_TOTAL=$((9 + ${#SCRIPTS[@]}))
  ((${#AUR_LIST[@]})) && STEPS_TOTAL=$((STEPS_TOTAL + 1))
  [[ ${#AUR_LIST[@]} -gt 0 || -n ${CFG[LOCAL_PACKAGES]:-} ]] && STEPS_TOTAL=$((STEPS_TOTAL + 1))
  ((${#FILES[@]})) && STEPS_TOTAL=$((STEPS_TOTAL + 1))
  [[ -n ${CFG[SERVICES]:-} ]] && STEPS_TOTAL=$((STEPS_TOTAL + 1))
  ((${#FILES[@]} + ${#SCRIPTS[@]} == 0)) || STEPS_TOTAL=$((STEPS_TOTAL + 1))
  return 0
}

ensure_host_tools() {
  local -A need=([sgdisk]=gdisk [mkfs.fat]=dosfstools [mkfs.ext4]=e2fsprogs [zstd]=zstd [partx]=util-linux [blkid]=util-linux [fstrim]=util-linux)
  [[ ${CFG[FILESYSTEM]} == btrfs ]] && need[mkfs.btrfs]=btrfs-progs
  local missing=() tool
  for tool in "${!need[@]}"; do command -v "$tool" >/dev/null || missing+=("${need[$tool]}"); done
  if ((${#missing[@]})); then
    echo "installing builder tools: ${missing[*]}"
    # Debian's apt-daily/unattended-upgrades may hold the dpkg lock right after boot: wait for it.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y "${missing[@]}" >/dev/null
  fi
}

check_inputs() {
  ensure_host_tools
  local tarball=${CFG[BOOTSTRAP_TARBALL]}
  [[ -s $tarball ]] || die $E_TARBALL "bootstrap tarball '$tarball' missing or empty (was the upload done?)"
  # The component uploads this text instead when the tarball file was not on the deploying machine.
  if head -c 64 "$tarball" | grep -q '^arch-ami placeholder'; then
    die $E_TARBALL "$(head -n 3 "$tarball" | tr '\n' ' ')"
  fi
  zstd -q -t "$tarball" 2>/dev/null || die $E_TARBALL "bootstrap tarball '$tarball' is corrupt (zstd integrity check failed); rebuild it"
  echo "bootstrap tarball: $tarball ($(du -h "$tarball" | cut -f1)), integrity ok"
  check_local_packages
  echo "previous state: cleaning leftovers of an earlier run under $WORK"
  release_mounts
  remove_work
}

# Each uploaded package file exists and is an intact zstd archive.
check_local_packages() {
  local pkg
  for pkg in ${CFG[LOCAL_PACKAGES]:-}; do
    [[ -s $pkg ]] || die $E_CUSTOM "local package '$pkg' missing or empty (was the upload done?)"
    zstd -q -t "$pkg" 2>/dev/null || die $E_CUSTOM "local package '$pkg' is not a valid .pkg.tar.zst (zstd integrity check failed)"
    echo "local package: $pkg ($(du -h "$pkg" | cut -f1)), integrity ok"
  done
}

# The volume's NVMe serial is its id without the dash; Xen instance types name it by the device name.
find_target_disk() {
  local serial=${CFG[VOLUME_ID]//-/} dev s tries
  for ((tries = 0; tries < DISK_WAIT_SECONDS / 2; tries++)); do
    for dev in /sys/block/nvme*n*; do
      [[ -e $dev/device/serial ]] || continue
      s=$(tr -d ' ' <"$dev/device/serial")
      [[ $s == "$serial" ]] && DISK=/dev/${dev##*/} && break 2
    done
    for dev in "${CFG[DEVICE_NAME]:-}" "${CFG[DEVICE_NAME]/\/sd//xvd}"; do
      [[ -n $dev && -b $dev ]] && DISK=$dev && break 2
    done
    ((tries == 0)) && echo "waiting for volume ${CFG[VOLUME_ID]} (NVMe serial $serial or ${CFG[DEVICE_NAME]:-no device name}) to appear"
    sleep 2
  done
  [[ -n $DISK ]] || die $E_DISK "volume ${CFG[VOLUME_ID]} not found: no NVMe disk with serial $serial and no ${CFG[DEVICE_NAME]:-device name}; is it attached to this instance?"
  local mounted
  mounted=$(lsblk -nrpo NAME,MOUNTPOINT "$DISK" | awk '$2 != "" {print $1 " on " $2}')
  [[ -z $mounted ]] || die $E_DISK "refusing $DISK: it holds mounted filesystems ($mounted); this is not an empty target volume"
  grep -qE "^$DISK(p?[0-9]+)? " /proc/swaps && die $E_DISK "refusing $DISK: it is used as swap"
  echo "target disk: $DISK ($(lsblk -dno SIZE "$DISK"), volume ${CFG[VOLUME_ID]})"
}

wait_for_partitions() {
  local n
  partx -u "$DISK" 2>/dev/null || partx -a "$DISK" 2>/dev/null || true
  command -v udevadm >/dev/null && udevadm settle
  for n in 1 2 3; do
    for _ in {1..50}; do [[ -b $(part_path "$DISK" $n) ]] && break; sleep 0.2; done
    [[ -b $(part_path "$DISK" $n) ]] || die 1 "partition $(part_path "$DISK" $n) did not appear"
  done
}

partition_disk() {
  wipefs -q -a "$DISK"
  sgdisk --zap-all "$DISK" >/dev/null
  sgdisk --clear \
    --new=1:0:+1M --typecode=1:ef02 --change-name=1:"BIOS boot" \
    --new=2:0:+${ESP_MIB}M --typecode=2:ef00 --change-name=2:"EFI system" \
    --new=3:0:0 --typecode=3:8304 --change-name=3:"Arch root" \
    "$DISK" >/dev/null
  wait_for_partitions
  sgdisk --print "$DISK" | sed -n '/^Number/,$p'
}

make_filesystems() {
  mkfs.fat -F 32 -n ESP "$(part_path "$DISK" 2)" >/dev/null
  case ${CFG[FILESYSTEM]} in
    ext4) mkfs.ext4 -q -F -L arch-root "$(part_path "$DISK" 3)" ;;
    btrfs) mkfs.btrfs -q -f -L arch-root "$(part_path "$DISK" 3)" ;;
  esac
  # grub-mkconfig writes root=UUID= only when /dev/disk/by-uuid/<uuid> exists (grub's 10_linux and
  # grub-mkconfig_lib): wait for udev to create the new filesystems' links.
  udevadm settle
  blkid "$(part_path "$DISK" 2)" "$(part_path "$DISK" 3)"
}

mount_target() {
  local opts=rw,relatime
  [[ ${CFG[FILESYSTEM]} == btrfs ]] && opts+=,compress=zstd:1
  mkdir -p "$TARGET"
  mount -o "$opts" "$(part_path "$DISK" 3)" "$TARGET"
  mkdir -p "$TARGET/efi"
  mount -o rw,relatime,fmask=0077,dmask=0077 "$(part_path "$DISK" 2)" "$TARGET/efi"
}

# pacman 7 in a chroot: no sandbox user, no Landlock, no disk-space check; database signatures optional.
fix_pacman_conf() {
  local conf=$BOOT_ROOT/etc/pacman.conf major minor
  read -r major minor < <(in_bootstrap pacman -V | sed -n 's/.*Pacman v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  sed -i -E 's/^(DownloadUser.*)/#\1/; s/^(CheckSpace.*)/#\1/; s/^#?ParallelDownloads.*/ParallelDownloads = 5/' "$conf"
  sed -i -E '/^\[options\]/,/^\[/ s/^SigLevel[[:space:]]*=[[:space:]]*Required[[:space:]]*$/SigLevel = Required DatabaseOptional/' "$conf"
  if ((major >= 7)); then
    sed -i '/^\[options\]/a DisableSandbox' "$conf"
    ((major > 7 || minor >= 1)) && sed -i '/^\[options\]/a DisableSandboxFilesystem\nDisableSandboxSyscalls' "$conf"
  fi
  grep -q '^ParallelDownloads' "$conf" || sed -i '/^\[options\]/a ParallelDownloads = 5' "$conf"
  printf 'Server = %s\n' "${CFG[MIRROR]}" >"$BOOT_ROOT/etc/pacman.d/mirrorlist"
  echo "pacman $major.$minor in the bootstrap root; mirror ${CFG[MIRROR]}"
}

prepare_bootstrap() {
  mkdir -p "$WORK"
  zstd -dc "${CFG[BOOTSTRAP_TARBALL]}" | tar -x --numeric-owner -p -C "$WORK" ||
    die $E_TARBALL "bootstrap tarball could not be extracted"
  [[ -x $BOOT_ROOT/usr/bin/pacstrap || -x $BOOT_ROOT/usr/sbin/pacstrap ]] ||
    die $E_TARBALL "bootstrap tarball has no root.x86_64/ with pacstrap"
  mount --bind "$BOOT_ROOT" "$BOOT_ROOT" # pacman wants the root to be a mount point
  mount -t proc proc "$BOOT_ROOT/proc"
  mount --rbind /sys "$BOOT_ROOT/sys" && mount --make-rslave "$BOOT_ROOT/sys"
  mount --rbind /dev "$BOOT_ROOT/dev" && mount --make-rslave "$BOOT_ROOT/dev"
  rm -f "$BOOT_ROOT/etc/resolv.conf"
  cp -L /etc/resolv.conf "$BOOT_ROOT/etc/resolv.conf" 2>/dev/null || true
  mount_target
  fix_pacman_conf
  # The keyring's gpg-agent must not outlive this step (it would keep the target busy).
  in_bootstrap unshare --fork --pid --mount-proc sh -c 'pacman-key --init >/dev/null && pacman-key --populate'
  refresh_keyring
  upgrade_bootstrap
  in_bootstrap gpgconf --homedir /etc/pacman.d/gnupg --kill all 2>/dev/null || true
}

# A full upgrade of the bootstrap root before anything is built or installed in it: the tarball's packages
# are older than the repositories', and installing newer ones (base-devel, build dependencies) next to them
# is a partial upgrade, which Arch does not support; AUR packages then link against what the image gets.
upgrade_bootstrap() {
  in_bootstrap unshare --fork --pid --mount-proc pacman -Syu --noconfirm ||
    die 1 "the full upgrade of the bootstrap root (pacman -Syu) failed (see above)"
}

# pacstrap verifies packages with the bootstrap root's keyring, frozen at the tarball's date: take the
# repositories' archlinux-keyring when it is newer (archlinux-keyring versions are dates). With a
# repository snapshot older than the tarball, the tarball's keyring is the right one and is kept.
refresh_keyring() {
  local installed available
  installed=$(in_bootstrap pacman -Q archlinux-keyring 2>/dev/null | awk '{print $2}') || true
  in_bootstrap pacman -Sy --noconfirm >/dev/null
  available=$(in_bootstrap pacman -Si archlinux-keyring 2>/dev/null | sed -n 's/^Version *: *//p' | head -n1)
  [[ -n $available ]] || die 1 "archlinux-keyring is not in the repositories of ${CFG[MIRROR]}"
  if [[ -n $installed && ! ${available%%-*} > ${installed%%-*} ]]; then
    echo "keyring: archlinux-keyring $installed in the bootstrap root, $available in the repositories: kept"
    return 0
  fi
  echo "keyring: archlinux-keyring ${installed:-(none)} in the bootstrap root, $available in the repositories: refreshing"
  # --overwrite: a bootstrap root may hold keyring files no package owns (not the official tarball's case).
  in_bootstrap unshare --fork --pid --mount-proc sh -c \
    'pacman -S --noconfirm --overwrite "/usr/share/pacman/keyrings/*" archlinux-keyring >/dev/null && pacman-key --populate >/dev/null' ||
    die 1 "the keyring refresh (pacman -S archlinux-keyring, pacman-key --populate) failed (see above)"
  echo "keyring: archlinux-keyring $(in_bootstrap pacman -Q archlinux-keyring | awk '{print $2}') populated"
}

install_packages() {
  local extra
  read -r -a extra <<<"${CFG[PACKAGES]:-}"
  local pkgs=("${PACKAGES[@]}" "${CFG[KERNEL]}" "${FS_PACKAGES[${CFG[FILESYSTEM]}]}" "${extra[@]}")
  echo "packages: ${pkgs[*]}"
  # -c: the bootstrap root's cache, so no package lands in the image; -M: own mirrorlist. Without -G,
  # pacstrap copies the bootstrap root's (refreshed) keyring into the target before installing
  # (arch-install-scripts pacstrap.in, pacstrap(): copykeyring): the customization scripts' pacman checks
  # signatures with it; the cleanup removes it.
  in_bootstrap pacstrap -c -M /mnt "${pkgs[@]}" ||
    die 1 "pacstrap failed (a package missing from the repositories, or a signature pacman refused: see the 'error:' lines above)"
}

write_fstab() {
  local root_uuid esp_uuid root_opts=rw,relatime pass=1
  root_uuid=$(blkid -s UUID -o value "$(part_path "$DISK" 3)")
  esp_uuid=$(blkid -s UUID -o value "$(part_path "$DISK" 2)")
  [[ ${CFG[FILESYSTEM]} == btrfs ]] && root_opts+=,compress=zstd:1 && pass=0
  cat >"$TARGET/etc/fstab" <<EOF
# <file system> <dir> <type> <options> <dump> <pass>
UUID=$root_uuid / ${CFG[FILESYSTEM]} $root_opts 0 $pass
UUID=$esp_uuid /efi vfat rw,relatime,fmask=0077,dmask=0077,nofail 0 2
EOF
}

configure_locale_time() {
  local locale=${CFG[LOCALE]} charset=UTF-8
  [[ $locale == *.* ]] && charset=${locale#*.}
  [[ ${charset^^} == UTF8 ]] && charset=UTF-8
  sed -i "s/^#\(${locale//./\\.} \)/\1/" "$TARGET/etc/locale.gen"
  grep -q "^${locale//./\\.} " "$TARGET/etc/locale.gen" || printf '%s %s\n' "$locale" "$charset" >>"$TARGET/etc/locale.gen"
  in_target locale-gen
  printf 'LANG=%s\n' "$locale" >"$TARGET/etc/locale.conf"
  [[ -e $TARGET/usr/share/zoneinfo/${CFG[TIMEZONE]} ]] || die 1 "time zone ${CFG[TIMEZONE]} not in the image's tzdata"
  ln -sf "/usr/share/zoneinfo/${CFG[TIMEZONE]}" "$TARGET/etc/localtime"
  # Without a keymap, systemd-firstboot would stop the first boot to ask for one on the serial console.
  printf 'KEYMAP=%s\n' "$CONSOLE_KEYMAP" >"$TARGET/etc/vconsole.conf"
  # The image's own mirror, never the build mirror (an Archive day or a file:// repository).
  printf '# arch-ami: imageMirror\nServer = %s\n' "${CFG[IMAGE_MIRROR]}" >"$TARGET/etc/pacman.d/mirrorlist"
}

# A pinned HOSTNAME goes to /etc/hostname (cloud-init keeps it: preserve_hostname). Without one there is no
# /etc/hostname and cloud-init writes the metadata hostname on first boot.
configure_hostname() {
  rm -f "$TARGET/etc/hostname"
  [[ -z ${CFG[HOSTNAME]:-} ]] || printf '%s\n' "${CFG[HOSTNAME]}" >"$TARGET/etc/hostname"
}

configure_initramfs() {
  mkdir -p "$TARGET/etc/mkinitcpio.conf.d"
  cat >"$TARGET/etc/mkinitcpio.conf.d/10-arch-ami.conf" <<EOF
# EC2: the build host's hardware is not the instance's, so no autodetect; NVMe (Nitro), Xen, virtio.
MODULES=(${INITRAMFS_MODULES[*]})
HOOKS=(${INITRAMFS_HOOKS[*]})
EOF
  in_target mkinitcpio -P
}

configure_bootloader() {
  local grub=$TARGET/etc/default/grub
  set_conf "$grub" GRUB_DISTRIBUTOR "\"Arch\""
  set_conf "$grub" GRUB_TIMEOUT 1
  set_conf "$grub" GRUB_CMDLINE_LINUX_DEFAULT "\"$KERNEL_CMDLINE${CFG[KERNEL_PARAMETERS]:+ ${CFG[KERNEL_PARAMETERS]}}\""
  set_conf "$grub" GRUB_TERMINAL "\"serial console\""
  set_conf "$grub" GRUB_SERIAL_COMMAND "\"serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1\""
  set_conf "$grub" GRUB_DISABLE_RECOVERY true
  in_target grub-install --target=i386-pc "$DISK"
  in_target grub-install --target=x86_64-efi --efi-directory=/efi --boot-directory=/boot --removable --no-nvram
  make_grub_cfg
}

# grub.cfg, refused when a kernel line lacks root=UUID=: grub's 10_linux falls back to a device path
# (/dev/nvme1n1p3 on the builder) when /dev/disk/by-uuid is missing in the chroot, and that device does
# not exist on the instance.
make_grub_cfg() {
  local cfg=$TARGET/boot/grub/grub.cfg bad
  in_target grub-mkconfig -o /boot/grub/grub.cfg
  grep -qE '^[[:space:]]*linux[[:space:]]' "$cfg" || die 1 "grub.cfg has no kernel entry (grub-mkconfig found no kernel in /boot)"
  bad=$(grep -E '^[[:space:]]*linux[[:space:]]' "$cfg" | grep -v 'root=UUID=' | head -n1 || true)
  [[ -z $bad ]] || die 1 "grub.cfg boots the kernel without root=UUID= (${bad#"${bad%%[![:space:]]*}"}): /dev/disk/by-uuid was missing in the chroot; the instance would not find its root"
}

configure_cloud_init() {
  local preserve=false
  [[ -n ${CFG[HOSTNAME]:-} ]] && preserve=true
  mkdir -p "$TARGET/etc/cloud/cloud.cfg.d"
  cat >"$TARGET/etc/cloud/cloud.cfg.d/90-arch-ami.cfg" <<EOF
# arch-ami: EC2 only, default user, grow the root partition and filesystem on first boot.
# Locale: the image's (${CFG[LOCALE]}, generated at build time) stays. cloud-init's locale module would
# fall back to en_US.UTF-8 and rewrite /etc/locale.gen ("<locale> UTF-8" on Arch), so it is off; a
# "locale:" in user data still applies.
locale: "false"
# Hostname: true when the image pins one (instances keep it), false to take the metadata hostname.
preserve_hostname: $preserve
datasource_list: [ Ec2, None ]
disable_root: true
ssh_pwauth: false
growpart:
  mode: auto
  devices: ["/"]
resize_rootfs: true
system_info:
  default_user:
    name: "${CFG[DEFAULT_USER]}"
    lock_passwd: true
    gecos: Arch Linux cloud user
    groups: [wheel, adm]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
  network:
    renderers: ["netplan", "networkd"]
EOF
  order_cloud_init_early
}

# cloud-init's unit templates (canonical/cloud-init systemd/cloud-init-main.service.tmpl and
# cloud-init-local.service.tmpl) give Debian and Ubuntu DefaultDependencies=no, but every other variant,
# Arch included, the default dependencies: the single process only starts after basic.target, and
# everything up to SSH waits for it. Here, as on Debian, the process starts once the root is writable
# (its own After=systemd-remount-fs.service) while the rest of sysinit runs, and the local stage follows
# it. Unlike Debian's, the local stage is not Before=sysinit.target: that would hold basic.target, and
# with it every ordinary service, until the metadata service has answered. It does wait for the system
# bus: Arch's cloud-init sets the hostname with hostnamectl (cloudinit/distros/arch.py, _apply_hostname),
# which the local stage already calls (the variants using hostnamectl get After=dbus.socket upstream); and
# for udev to have handled the coldplug events, so that the NIC whose driver udev loads exists when the
# Ec2 datasource looks for it.
order_cloud_init_early() {
  mkdir -p "$TARGET/etc/systemd/system/cloud-init-main.service.d" "$TARGET/etc/systemd/system/cloud-init-local.service.d"
  printf '[Unit]\nDefaultDependencies=no\n' >"$TARGET/etc/systemd/system/cloud-init-main.service.d/90-arch-ami.conf"
  cat >"$TARGET/etc/systemd/system/cloud-init-local.service.d/90-arch-ami.conf" <<'EOF'
[Unit]
DefaultDependencies=no
Wants=dbus.socket
After=systemd-remount-fs.service systemd-udev-trigger.service dbus.socket

[Service]
ExecStartPre=-/usr/bin/udevadm settle --timeout=10
EOF
}

configure_network_time() {
  mkdir -p "$TARGET/etc/systemd/network" "$TARGET/etc/systemd/timesyncd.conf.d"
  cat >"$TARGET/etc/systemd/network/80-arch-ami-dhcp.network" <<'EOF'
# Fallback when cloud-init renders no network: DHCP on ENA (ens*) and Xen (eth*) interfaces. cloud-init's
# own files (netplan, 10-netplan-*) sort first and win; a NIC this file catches never competes with the
# primary's default route (higher metric than networkd's default 1024) and never holds up boot.
[Match]
Name=en* eth*

[Link]
RequiredForOnline=no

[Network]
DHCP=yes
IPv6AcceptRA=yes

[DHCPv4]
UseDomains=yes
RouteMetric=2048

[IPv6AcceptRA]
RouteMetric=2048
EOF
  printf '[Time]\nNTP=%s\n' "$TIME_SERVERS" >"$TARGET/etc/systemd/timesyncd.conf.d/90-amazon-time-sync.conf"
  write_time_sync_check
  ln -sf ../run/systemd/resolve/stub-resolv.conf "$TARGET/etc/resolv.conf"
}

# A clock that never synchronizes is reported, never waited for: sshd, pacman-init and cloud-init are not
# ordered after this unit, and as Type=exec it counts as started at once, so it does not hold
# multi-user.target (which orders itself after what it wants) or the end of the boot either. It fails (the instance shows as
# degraded, verify.sh names it) and says so on the serial console when the clock is not synchronized within
# TIME_SYNC_WAIT_SECONDS of the network coming up (systemd-time-wait-sync returns once the kernel's clock is
# synchronized).
write_time_sync_check() {
  cat >"$TARGET/etc/systemd/system/arch-ami-time-sync-check.service" <<EOF
[Unit]
Description=Report a clock that does not synchronize (Amazon Time Sync)
After=network-online.target systemd-timesyncd.service
Wants=network-online.target
ConditionVirtualization=!container

[Service]
Type=exec
StandardOutput=journal+console
ExecStart=/usr/bin/bash -c 'timeout $TIME_SYNC_WAIT_SECONDS /usr/lib/systemd/systemd-time-wait-sync >/dev/null && exit 0; echo "arch-ami: the system clock is NOT synchronized: no time server ($TIME_SERVERS) answered within $TIME_SYNC_WAIT_SECONDS s of the network coming up. SSH and pacman work; TLS and signature checks fail if the clock is wrong. See: timedatectl timesync-status"; exit 1'

[Install]
WantedBy=multi-user.target
EOF
}

configure_ssh_and_first_boot() {
  mkdir -p "$TARGET/etc/ssh/sshd_config.d"
  printf 'PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' \
    >"$TARGET/etc/ssh/sshd_config.d/90-arch-ami.conf"
  # Arch's sshdgenkeys.service (ssh-keygen -A, pulled in by sshd) is not ordered against cloud-init,
  # which deletes the image's keys and writes the instance's (or those given in user data): keygen after it.
  mkdir -p "$TARGET/etc/systemd/system/sshdgenkeys.service.d"
  printf '[Unit]\nAfter=cloud-init-network.service cloud-init.service\n' \
    >"$TARGET/etc/systemd/system/sshdgenkeys.service.d/90-arch-ami.conf"
  # The keyring is initialised before sshd starts, so nobody can use pacman before it. It starts as soon as
  # the file systems are mounted (no default dependencies: it runs beside cloud-init instead of after
  # basic.target) and the clock is set (time-set.target: from the RTC, which EC2 sets from the host at
  # power-on). It never waits for the clock to be synchronized: time-sync.target would make every login wait
  # for a time server, forever when none answers (on later boots too, where the skipped unit's job still
  # waits for its After= ordering). Its key generation (RSA-4096) runs at a lower CPU priority (nice 10),
  # so that it does not slow cloud-init on the way to the login; and it is bounded (a oneshot service has
  # no start time-out by default, and the time-out applies per command: hence one command): a keyring that
  # is not done in 10 minutes fails visibly instead of keeping sshd waiting.
  cat >"$TARGET/etc/systemd/system/pacman-init.service" <<'EOF'
[Unit]
Description=Initializes the pacman keyring on first boot
ConditionFirstBoot=yes
DefaultDependencies=no
After=local-fs.target time-set.target
Before=sshd.service cloud-final.service archlinux-keyring-wkd-sync.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
Nice=10
TimeoutStartSec=10min
ExecStart=/usr/bin/sh -c '/usr/bin/pacman-key --init && /usr/bin/pacman-key --populate'

[Install]
WantedBy=multi-user.target
EOF
}

enable_services() {
  local unit units=() dir
  for unit in "${SERVICES[@]}"; do
    for dir in usr/lib/systemd/system etc/systemd/system; do
      [[ -e $TARGET/$dir/$unit.service ]] && units+=("$unit") && break
    done
  done
  # cloud-init before 24.3 names its network stage cloud-init.service.
  [[ " ${units[*]} " == *" cloud-init-network "* ]] || [[ ! -e $TARGET/usr/lib/systemd/system/cloud-init.service ]] || units+=(cloud-init)
  for unit in sshd systemd-networkd pacman-init cloud-final; do
    [[ " ${units[*]} " == *" $unit "* ]] || die 1 "unit $unit.service not found in the image"
  done
  for unit in "${SOCKETS[@]}"; do
    [[ -e $TARGET/usr/lib/systemd/system/$unit.socket ]] || die 1 "unit $unit.socket not found in the image"
  done
  in_target systemctl enable "${units[@]/%/.service}" "${SOCKETS[@]/%/.socket}"
}

configure_system() {
  write_fstab
  configure_locale_time
  configure_hostname
  configure_initramfs
  configure_bootloader
  configure_cloud_init
  configure_network_time
  configure_ssh_and_first_boot
  enable_services
}

# ---- customization (exit code 5) -----------------------------------------------------------------------
# as_builder DIR CMD…: runs CMD in the bootstrap root as the unprivileged build user, in DIR (relative to
# its home).
as_builder() {
  local dir=$1
  shift
  in_bootstrap runuser -u "$AUR_USER" -- env -C "$AUR_HOME/$dir" HOME="$AUR_HOME" USER="$AUR_USER" LOGNAME="$AUR_USER" "$@"
}

# base-devel and git into the bootstrap root (never into the image), and the build user.
prepare_aur_builder() {
  in_bootstrap pacman -S --needed --noconfirm base-devel git
  in_bootstrap id -u "$AUR_USER" >/dev/null 2>&1 || in_bootstrap useradd -m -d "$AUR_HOME" -s /bin/bash "$AUR_USER"
  echo "build user: $AUR_USER (in the bootstrap root only)"
}

# Clones every listed package as the build user, checked out at its pin; a clone without PKGBUILD (the
# AUR serves an empty repository for an unknown name) fails naming the package.
clone_aur_packages() {
  local url=${CFG[AUR_URL]%/} name
  for name in "${AUR_LIST[@]}"; do
    as_builder . rm -rf "$name"
    as_builder . git clone -q "$url/$name.git" "$name" ||
      die $E_CUSTOM "AUR package '$name': git clone of $url/$name.git failed"
    [[ -f $BOOT_ROOT$AUR_HOME/$name/PKGBUILD ]] ||
      die $E_CUSTOM "AUR package '$name' not found: $url/$name.git has no PKGBUILD (check the name)"
    if [[ -n ${AUR_COMMIT[$name]} ]]; then
      as_builder "$name" git -c advice.detachedHead=false checkout -q "${AUR_COMMIT[$name]}" ||
        die $E_CUSTOM "AUR package '$name': commit ${AUR_COMMIT[$name]} not found"
    fi
    [[ -f $BOOT_ROOT$AUR_HOME/$name/.SRCINFO ]] || die $E_CUSTOM "AUR package '$name' has no .SRCINFO"
    echo "AUR package $name: $(as_builder "$name" git log -1 --format='%h %s')"
  done
}

# srcinfo_values NAME KEY…: the values of KEY (and KEY_x86_64) in NAME's .SRCINFO, version constraints
# stripped, one per line.
srcinfo_values() {
  local name=$1 keys
  shift
  keys=$(printf '%s|' "$@")
  sed -nE "s/^[[:space:]]*(${keys%|})(_x86_64)?[[:space:]]*=[[:space:]]*([^[:space:]]+).*/\3/p" \
    "$BOOT_ROOT$AUR_HOME/$name/.SRCINFO" | sed -E 's/[<>=].*//' | sort -u
}

# aur_provider DEP: the listed package whose .SRCINFO names DEP as a pkgname or provides, if any.
aur_provider() {
  local name
  for name in "${AUR_LIST[@]}"; do
    srcinfo_values "$name" pkgname provides | grep -qxF "$1" && echo "$name" && return 0
  done
  return 0
}

# Orders the listed packages so that each comes after the listed packages it depends on (depth first).
declare -A AUR_VISIT=()
declare -a AUR_PATH_STACK=()
order_aur_packages() {
  local name
  for name in "${AUR_LIST[@]}"; do visit_aur_package "$name"; done
  echo "AUR build order: ${AUR_ORDER[*]}"
}

visit_aur_package() {
  local n=$1 dep provider
  [[ ${AUR_VISIT[$n]:-} == ordered ]] && return 0
  [[ ${AUR_VISIT[$n]:-} == visiting ]] && die $E_CUSTOM "AUR packages depend on each other in a cycle: ${AUR_PATH_STACK[*]} $n"
  AUR_VISIT[$n]=visiting
  AUR_PATH_STACK+=("$n")
  for dep in $(srcinfo_values "$n" depends makedepends checkdepends); do
    provider=$(aur_provider "$dep")
    if [[ -n $provider && $provider != "$n" ]]; then visit_aur_package "$provider"; fi
  done
  unset 'AUR_PATH_STACK[-1]'
  AUR_VISIT[$n]=ordered
  AUR_ORDER+=("$n")
}

# Installs NAME's dependencies into the bootstrap root: repository packages (as dependencies), the
# listed AUR packages already built (pacman -U). A dependency from neither fails naming it.
install_aur_build_deps() {
  local name=$1 dep provider repo=() aur=() files
  for dep in $(srcinfo_values "$name" depends makedepends checkdepends); do
    provider=$(aur_provider "$dep")
    if [[ -n $provider ]]; then
      read -r -a files <<<"${AUR_FILES[$provider]}"
      aur+=("${files[@]}")
    elif in_bootstrap pacman -Sp --print-format %n "$dep" >/dev/null 2>&1; then
      repo+=("$dep")
    else
      die $E_CUSTOM "AUR package '$name' depends on '$dep', which is neither in the repositories nor in aurPackages: add it to aurPackages"
    fi
  done
  ((${#repo[@]} == 0)) || in_bootstrap pacman -S --asdeps --needed --noconfirm "${repo[@]}"
  ((${#aur[@]} == 0)) || in_bootstrap pacman -U --asdeps --needed --noconfirm "${aur[@]}"
}

# makepkg checks PGP-signed sources against the PKGBUILD's validpgpkeys, which must be in the build user's
# keyring: fetched by full fingerprint (gpg checks that what it receives has that fingerprint), one key at a
# time. makepkg accepts a source signed by any one of them (pacman's makepkg, libmakepkg/integrity/
# verify_signature.sh: a signature is good when its key is in validpgpkeys), so a key that cannot be
# fetched is a warning; makepkg itself refuses a source whose key is missing ("unknown public key").
import_aur_pgp_keys() {
  local name=$1 keys key fetched=0
  mapfile -t keys < <(srcinfo_values "$name" validpgpkeys)
  ((${#keys[@]})) || return 0
  for key in "${keys[@]}"; do
    if as_builder "$name" gpg --batch --keyserver "$PGP_KEYSERVER" --recv-keys "$key"; then
      fetched=$((fetched + 1))
    else
      echo "warning: AUR package '$name': validpgpkey $key could not be fetched from $PGP_KEYSERVER"
    fi
  done
  ((fetched)) || echo "warning: AUR package '$name': none of its ${#keys[@]} validpgpkeys could be fetched; makepkg will refuse its PGP-signed sources"
}

# package_name FILE: the package name in a package file name (<name>-<pkgver>-<pkgrel>-<arch>.pkg.tar.*).
package_name() { local f=${1##*/}; f=${f%.pkg.tar*}; echo "${f%-*-*-*}"; }

# makepkg (no -s: the dependencies are installed as root above) as the build user; collects the files.
# Skips only the debug package, named exactly ${pkgbase}-debug (makepkg's libmakepkg/tidy/strip.sh), not
# packages that merely contain -debug- (foo-debug-tools).
make_aur_package() {
  local name=$1 file found=0 pkgbase
  import_aur_pgp_keys "$name"
  as_builder "$name" makepkg --noconfirm --nocolor --noprogressbar ||
    die $E_CUSTOM "AUR package '$name': makepkg failed"
  pkgbase=$(srcinfo_values "$name" pkgbase | head -n1)
  while IFS= read -r file; do
    [[ -f $BOOT_ROOT$file && $(package_name "$file") != "${pkgbase:-$name}-debug" ]] || continue
    AUR_BUILT+=("$file") found=1
    AUR_FILES[$name]+="$file "
    echo "built: $file"
  done < <(as_builder "$name" makepkg --packagelist)
  ((found)) || die $E_CUSTOM "AUR package '$name': makepkg built no package file"
}

build_aur_packages() {
  prepare_aur_builder
  clone_aur_packages
  order_aur_packages
  local name
  for name in "${AUR_ORDER[@]}"; do
    printf -- '--- AUR package %s\n' "$name"
    install_aur_build_deps "$name"
    make_aur_package "$name"
  done
  # The build user's gpg (validpgpkeys) leaves dirmngr, and makepkg's signature checks gpg-agent, running.
  stop_gpg_daemons || die 1 "could not stop the build user's gpg daemons"
}

# The built AUR packages and the uploaded local packages, in one transaction into the target; their
# dependencies come from the repositories. -c: the bootstrap root's cache, so no package file lands in
# the image; the copies in the bootstrap root go with it.
install_custom_packages() {
  local files=("${AUR_BUILT[@]}") pkg
  mkdir -p "$BOOT_ROOT$PKG_STAGING"
  for pkg in ${CFG[LOCAL_PACKAGES]:-}; do
    cp "$pkg" "$BOOT_ROOT$PKG_STAGING/"
    files+=("$PKG_STAGING/${pkg##*/}")
  done
  echo "installing into the image: ${files[*]##*/}"
  in_bootstrap pacstrap -c -G -M -U /mnt "${files[@]}" || die $E_CUSTOM "installing the local and AUR packages failed (see above)"
  rm -rf "${BOOT_ROOT:?}$PKG_STAGING"
}

# FILE entries, written inside the target through its chroot (symlinks resolve within the image).
write_files() {
  local entry path mode owner b64
  for entry in "${FILES[@]}"; do
    read -r path mode owner b64 <<<"$entry"
    in_target getent passwd "${owner%%:*}" >/dev/null || die $E_CUSTOM "file $path: owner user '${owner%%:*}' does not exist in the image"
    in_target getent group "${owner#*:}" >/dev/null || die $E_CUSTOM "file $path: owner group '${owner#*:}' does not exist in the image"
    base64 -d <<<"$b64" | in_target install -D -T -m "$mode" -o "${owner%%:*}" -g "${owner#*:}" /dev/stdin "$path" ||
      die $E_CUSTOM "file $path could not be written"
    echo "file $path ($mode $owner, $(base64 -d <<<"$b64" | wc -c) bytes)"
  done
}

# While the scripts run, the target's pacman reaches the build mirror first: its sync databases are the build
# mirror's (pacstrap), and an imageMirror that moved on may no longer have those versions. A file://
# build mirror (a path in the bootstrap root) is bind-mounted read-only into the target. Removed after.
open_build_mirror() {
  local server=${CFG[MIRROR]} list=$TARGET/etc/pacman.d/mirrorlist path base content
  if [[ $server == file://* ]]; then
    path=${server#file://}
    base=${path%%\$*}
    base=${base%/}
    mkdir -p "$TARGET$BUILD_MIRROR_MOUNT"
    mount --bind -o ro "$BOOT_ROOT$base" "$TARGET$BUILD_MIRROR_MOUNT"
    server=file://$BUILD_MIRROR_MOUNT${path#"$base"}
  fi
  content=$(cat "$list" 2>/dev/null || true)
  printf '%s\nServer = %s\n%s\n' "$BUILD_MIRROR_MARK" "$server" "$content" >"$list"
  echo "scripts: the target's pacman uses the build mirror first ($server)"
}

close_build_mirror() {
  local list=$TARGET/etc/pacman.d/mirrorlist
  [[ -f $list ]] && sed -i "/^${BUILD_MIRROR_MARK}\$/,+1d" "$list"
  if mountpoint -q "$TARGET$BUILD_MIRROR_MOUNT"; then
    umount "$TARGET$BUILD_MIRROR_MOUNT" || die 1 "could not unmount the build mirror from $TARGET$BUILD_MIRROR_MOUNT"
  fi
  [[ ! -d $TARGET$BUILD_MIRROR_MOUNT ]] || rmdir "$TARGET$BUILD_MIRROR_MOUNT"
}

# run_script INDEX: SCRIPT entry INDEX, run with bash -e inside the new system as root; removed after.
run_script() {
  local entry=${SCRIPTS[$1]} name b64 rc=0 file=/root/.arch-ami-script
  name=${entry% *} b64=${entry##* }
  base64 -d <<<"$b64" | in_target install -D -m 0700 /dev/stdin "$file"
  in_target bash -e "$file" </dev/null || rc=$?
  in_target rm -f "$file"
  ((rc == 0)) || die $E_CUSTOM "script '$name' failed with exit code $rc"
}

# SERVICES: every unit must be in the image (a template serves foo@bar.service), then enabled.
enable_custom_services() {
  local unit units=() dir found
  read -r -a units <<<"${CFG[SERVICES]}"
  for unit in "${units[@]}"; do
    found=0
    for dir in usr/lib/systemd/system etc/systemd/system; do
      [[ -e $TARGET/$dir/$unit || ($unit =~ ^([^@]+@)[^@]+(\.[a-z]+)$ && -e $TARGET/$dir/${BASH_REMATCH[1]}${BASH_REMATCH[2]}) ]] && found=1 && break
    done
    ((found)) || die $E_CUSTOM "service $unit not found in the image (no unit file in /usr/lib/systemd/system or /etc/systemd/system); add the package that provides it"
  done
  in_target systemctl enable "${units[@]}"
}

# Files and scripts may change what "configure" generated from (locale.gen, mkinitcpio.conf.d, the GRUB
# defaults): generate again from their result, so they take effect in this image, not at the next upgrade.
regenerate_boot_files() {
  in_target locale-gen
  in_target mkinitcpio -P
  make_grub_cfg
}

clean_image() {
  stop_gpg_daemons || die 1 "could not stop the gpg daemons in the image's keyring"
  rm -f "$TARGET/etc/machine-id" "$TARGET/var/lib/dbus/machine-id"
  rm -f "$TARGET"/etc/ssh/ssh_host_*
  rm -rf "$TARGET/etc/pacman.d/gnupg" "$TARGET/var/lib/cloud"
  find "$TARGET/var/cache/pacman/pkg" "$TARGET/var/lib/pacman/sync" "$TARGET/tmp" "$TARGET/var/tmp" \
    -mindepth 1 -delete 2>/dev/null || true
  find "$TARGET/var/log" -type f -delete
  rm -rf "$TARGET/root/.ssh" "$TARGET/root/.bash_history" "$TARGET/root/.gnupg"
  find "$TARGET/home" -mindepth 2 -maxdepth 2 \( -name .bash_history -o -name .ssh \) -exec rm -rf {} +
  rm -f "$TARGET"/etc/*- "$TARGET/etc/.pwd.lock"
  fstrim -v "$TARGET/efi" || echo "fstrim: not supported on the ESP here"
  fstrim -v "$TARGET" || echo "fstrim: not supported on the root here"
}

summary() {
  local kernel packages
  kernel=$(basename "$(find "$TARGET/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)")
  packages=$(in_bootstrap pacman --root /mnt -Q 2>/dev/null | wc -l)
  printf '\n==> summary\n'
  printf 'disk            %s (%s)\n' "$DISK" "${CFG[VOLUME_ID]}"
  printf 'filesystem      %s\n' "${CFG[FILESYSTEM]}"
  printf 'kernel          %s (%s)\n' "${CFG[KERNEL]}" "$kernel"
  printf 'packages        %s\n' "$packages"
  df -h --output=target,size,used "$TARGET" "$TARGET/efi" | sed "s|$TARGET|/|; s|//efi|/efi|"
}

unmount_and_verify() {
  summary
  sync
  umount -R "$TARGET" # strict: a target still busy must fail the build, not be detached lazily
  release_mounts
  sync
  blockdev --flushbufs "$DISK"
  case ${CFG[FILESYSTEM]} in
    ext4) e2fsck -f -n "$(part_path "$DISK" 3)" ;;
    btrfs) btrfs check --readonly "$(part_path "$DISK" 3)" ;;
  esac
  command -v fsck.fat >/dev/null && fsck.fat -n "$(part_path "$DISK" 2)"
  finish_step
  STEP_NO=0
  printf '\nstep times:\n'
  printf '  %s\n' "${STEP_TIMES[@]}"
  printf 'total %ds\nARCH-AMI-PROVISION-OK\n' "$SECONDS"
}

main() {
  [[ $# -eq 1 ]] || die $E_USAGE "usage: provision.sh CONFIG"
  [[ $(id -u) -eq 0 ]] || die $E_USAGE "provision.sh must run as root"
  mkdir -p "$(dirname "$LOG")"
  [[ -f $LOG ]] && mv -f "$LOG" "$LOG.previous"
  exec > >(tee "$LOG") 2>&1
  trap on_exit EXIT
  echo "arch-ami provisioning started $(date -u +%FT%TZ)"
  read_config "$1"

  step "check inputs"
  check_inputs
  step "find target disk"
  find_target_disk
  step "partition"
  partition_disk
  step "filesystems"
  make_filesystems
  step "bootstrap environment"
  prepare_bootstrap
  step "pacstrap"
  install_packages
  if ((${#AUR_LIST[@]})); then
    step "AUR packages (build)"
    build_aur_packages
  fi
  if [[ ${#AUR_BUILT[@]} -gt 0 || -n ${CFG[LOCAL_PACKAGES]:-} ]]; then
    step "local and AUR packages (install)"
    install_custom_packages
  fi
  step "configure"
  configure_system
  if ((${#FILES[@]})); then
    step "files"
    write_files
  fi
  local i
  ((${#SCRIPTS[@]} == 0)) || open_build_mirror
  for i in "${!SCRIPTS[@]}"; do
    step "script $((i + 1))/${#SCRIPTS[@]}: ${SCRIPTS[$i]% *}"
    run_script "$i"
  done
  if ((${#SCRIPTS[@]})); then
    stop_gpg_daemons || die 1 "could not stop the gpg daemons the scripts left running"
    close_build_mirror
  fi
  if [[ -n ${CFG[SERVICES]:-} ]]; then
    step "services"
    enable_custom_services
  fi
  if ((${#FILES[@]} + ${#SCRIPTS[@]})); then
    step "regenerate boot files"
    regenerate_boot_files
  fi
  step "clean"
  clean_image
  step "unmount and verify"
  unmount_and_verify
}

# Sourced (tests of single functions) or run.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
