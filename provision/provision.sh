#!/usr/bin/env bash
# provision.sh CONFIG
# Turns the empty EBS volume named in CONFIG into an EC2-ready Arch Linux system. Runs as root on the
# builder (the EC2 surrogate, or the local surrogate VM in tests). Interface: provision/README.md.
set -Eeuo pipefail

# ---- variants as data --------------------------------------------------------------------------------
PACKAGES=(base mkinitcpio grub efibootmgr openssh sudo cloud-init cloud-guest-utils gptfdisk netplan dosfstools dhcpcd)
declare -A FS_PACKAGES=([ext4]=e2fsprogs [btrfs]=btrfs-progs)
SERVICES=(sshd systemd-networkd systemd-resolved systemd-timesyncd systemd-time-wait-sync pacman-init
  cloud-init-main cloud-init-local cloud-init-network cloud-config cloud-final)
# Storage drivers every EC2 (and QEMU) disk needs; the initramfs is built without autodetect.
INITRAMFS_MODULES=(nvme xen_blkfront virtio_blk virtio_pci virtio_scsi)
INITRAMFS_HOOKS=(base udev modconf kms block filesystems fsck)
KERNEL_CMDLINE="console=tty0 console=ttyS0,115200 nvme_core.io_timeout=4294967295"
TIME_SERVERS="169.254.169.123 fd00:ec2::123"
CONSOLE_KEYMAP=us
ESP_MIB=300

WORK=/var/tmp/arch-ami
BOOT_ROOT=$WORK/root.x86_64
TARGET=$BOOT_ROOT/mnt
LOG=/var/log/arch-ami-provision.log
STEPS_TOTAL=9
# The remote command starts once the attachment is reported; the device shows up within seconds.
DISK_WAIT_SECONDS=30

# Exit codes (provision/README.md).
E_USAGE=2 E_DISK=3 E_TARBALL=4

declare -A CFG=()
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
  local file=$1 key=$2 value=$3
  if grep -qE "^#?${key}=" "$file"; then
    sed -i -E "s|^#?${key}=.*|${key}=${value}|" "$file"
  else
    printf '%s=%s\n' "$key" "$value" >>"$file"
  fi
}

# Unmounts everything below a path, deepest first.
unmount_below() {
  local mnt
  findmnt -rno TARGET | awk -v p="$1" 'index($0, p) == 1' | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
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

# Stops the keyring's gpg-agent and lazily unmounts everything under $WORK (cleanup and failures).
release_mounts() {
  if [[ -d $BOOT_ROOT/etc/pacman.d/gnupg ]]; then
    in_bootstrap gpgconf --homedir /etc/pacman.d/gnupg --kill all 2>/dev/null || true
  fi
  unmount_below "$WORK"
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
      VOLUME_ID | DEVICE_NAME | BOOTSTRAP_TARBALL | FILESYSTEM | KERNEL | PACKAGES | LOCALE | TIMEZONE | HOSTNAME | DEFAULT_USER | MIRROR)
        CFG[$key]=$value ;;
      *) die $E_USAGE "unknown config key '$key'" ;;
    esac
  done <"$file"
  for key in VOLUME_ID BOOTSTRAP_TARBALL FILESYSTEM KERNEL LOCALE TIMEZONE HOSTNAME DEFAULT_USER MIRROR; do
    [[ -n ${CFG[$key]:-} ]] || die $E_USAGE "config key $key missing or empty"
  done
  [[ ${CFG[VOLUME_ID]} =~ ^vol-[0-9a-f]+$ ]] || die $E_USAGE "VOLUME_ID '${CFG[VOLUME_ID]}' is not a volume id (vol-…)"
  [[ ${CFG[FILESYSTEM]} == ext4 || ${CFG[FILESYSTEM]} == btrfs ]] || die $E_USAGE "FILESYSTEM must be ext4 or btrfs"
}

ensure_host_tools() {
  local -A need=([sgdisk]=gdisk [mkfs.fat]=dosfstools [mkfs.ext4]=e2fsprogs [zstd]=zstd [partx]=util-linux [blkid]=util-linux [fstrim]=util-linux)
  [[ ${CFG[FILESYSTEM]} == btrfs ]] && need[mkfs.btrfs]=btrfs-progs
  local missing=() tool
  for tool in "${!need[@]}"; do command -v "$tool" >/dev/null || missing+=("${need[$tool]}"); done
  if ((${#missing[@]})); then
    echo "installing builder tools: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

check_inputs() {
  ensure_host_tools
  local tarball=${CFG[BOOTSTRAP_TARBALL]}
  [[ -s $tarball ]] || die $E_TARBALL "bootstrap tarball '$tarball' missing or empty (was the upload done?)"
  zstd -q -t "$tarball" 2>/dev/null || die $E_TARBALL "bootstrap tarball '$tarball' is corrupt (zstd integrity check failed); rebuild it"
  echo "bootstrap tarball: $tarball ($(du -h "$tarball" | cut -f1)), integrity ok"
  echo "previous state: cleaning leftovers of an earlier run under $WORK"
  release_mounts
  rm -rf "$WORK"
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
  in_bootstrap gpgconf --homedir /etc/pacman.d/gnupg --kill all 2>/dev/null || true
}

install_packages() {
  local extra
  read -r -a extra <<<"${CFG[PACKAGES]:-}"
  local pkgs=("${PACKAGES[@]}" "${CFG[KERNEL]}" "${FS_PACKAGES[${CFG[FILESYSTEM]}]}" "${extra[@]}")
  echo "packages: ${pkgs[*]}"
  # -c: the bootstrap root's cache, so no package lands in the image; -G: no build keyring; -M: own mirrorlist.
  in_bootstrap pacstrap -c -G -M /mnt "${pkgs[@]}"
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

configure_locale_time_host() {
  local locale=${CFG[LOCALE]} charset=UTF-8
  [[ $locale == *.* ]] && charset=${locale#*.}
  [[ ${charset^^} == UTF8 ]] && charset=UTF-8
  sed -i "s/^#\(${locale//./\\.} \)/\1/" "$TARGET/etc/locale.gen"
  grep -q "^${locale//./\\.} " "$TARGET/etc/locale.gen" || printf '%s %s\n' "$locale" "$charset" >>"$TARGET/etc/locale.gen"
  in_target locale-gen
  printf 'LANG=%s\n' "$locale" >"$TARGET/etc/locale.conf"
  [[ -e $TARGET/usr/share/zoneinfo/${CFG[TIMEZONE]} ]] || die 1 "time zone ${CFG[TIMEZONE]} not in the image's tzdata"
  ln -sf "/usr/share/zoneinfo/${CFG[TIMEZONE]}" "$TARGET/etc/localtime"
  printf '%s\n' "${CFG[HOSTNAME]}" >"$TARGET/etc/hostname"
  # Without a keymap, systemd-firstboot would stop the first boot to ask for one on the serial console.
  printf 'KEYMAP=%s\n' "$CONSOLE_KEYMAP" >"$TARGET/etc/vconsole.conf"
  printf 'Server = %s\n' "${CFG[MIRROR]}" >"$TARGET/etc/pacman.d/mirrorlist"
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
  set_conf "$grub" GRUB_CMDLINE_LINUX_DEFAULT "\"$KERNEL_CMDLINE\""
  set_conf "$grub" GRUB_TERMINAL "\"serial console\""
  set_conf "$grub" GRUB_SERIAL_COMMAND "\"serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1\""
  set_conf "$grub" GRUB_DISABLE_RECOVERY true
  in_target grub-install --target=i386-pc "$DISK"
  in_target grub-install --target=x86_64-efi --efi-directory=/efi --boot-directory=/boot --removable --no-nvram
  in_target grub-mkconfig -o /boot/grub/grub.cfg
}

configure_cloud_init() {
  mkdir -p "$TARGET/etc/cloud/cloud.cfg.d"
  cat >"$TARGET/etc/cloud/cloud.cfg.d/90-arch-ami.cfg" <<EOF
# arch-ami: EC2 only, default user, grow the root partition and filesystem on first boot.
datasource_list: [ Ec2, None ]
disable_root: true
ssh_pwauth: false
growpart:
  mode: auto
  devices: ["/"]
resize_rootfs: true
system_info:
  default_user:
    name: ${CFG[DEFAULT_USER]}
    lock_passwd: true
    gecos: Arch Linux cloud user
    groups: [wheel, adm]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
  network:
    renderers: ["netplan", "networkd"]
EOF
}

configure_network_time() {
  mkdir -p "$TARGET/etc/systemd/network" "$TARGET/etc/systemd/timesyncd.conf.d"
  cat >"$TARGET/etc/systemd/network/80-arch-ami-dhcp.network" <<'EOF'
# Fallback when cloud-init renders no network: DHCP on ENA (ens*) and Xen (eth*) interfaces.
[Match]
Name=en* eth*

[Network]
DHCP=yes
IPv6AcceptRA=yes

[DHCPv4]
UseDomains=yes
EOF
  printf '[Time]\nNTP=%s\n' "$TIME_SERVERS" >"$TARGET/etc/systemd/timesyncd.conf.d/90-amazon-time-sync.conf"
  ln -sf ../run/systemd/resolve/stub-resolv.conf "$TARGET/etc/resolv.conf"
}

configure_ssh_and_first_boot() {
  mkdir -p "$TARGET/etc/ssh/sshd_config.d"
  printf 'PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' \
    >"$TARGET/etc/ssh/sshd_config.d/90-arch-ami.conf"
  cat >"$TARGET/etc/systemd/system/pacman-init.service" <<'EOF'
[Unit]
Description=Initializes the pacman keyring on first boot
ConditionFirstBoot=yes
Wants=time-sync.target
After=time-sync.target
Before=sshd.service cloud-final.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/pacman-key --init
ExecStart=/usr/bin/pacman-key --populate

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
  in_target systemctl enable "${units[@]/%/.service}"
}

configure_system() {
  write_fstab
  configure_locale_time_host
  configure_initramfs
  configure_bootloader
  configure_cloud_init
  configure_network_time
  configure_ssh_and_first_boot
  enable_services
}

clean_image() {
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
  step "configure"
  configure_system
  step "clean"
  clean_image
  step "unmount and verify"
  unmount_and_verify
}

main "$@"
