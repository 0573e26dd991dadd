#!/usr/bin/env bash
# build-tarball.sh: obtain the Arch bootstrap tarball on the deployer's machine (interface:
# provision/README.md). Settings come from the environment; the ArchAmi component sets every one of
# them (their defaults live in src/settings.ts only):
#   ARCH_AMI_BOOTSTRAP_METHOD  official | pacstrap
#   ARCH_AMI_BOOTSTRAP_DATE    latest | YYYY.MM.DD
#   ARCH_AMI_BOOTSTRAP_SHA256  expected sha256, or empty
#   ARCH_AMI_BOOTSTRAP_MIRROR  base URL holding iso/<date>/
#   ARCH_AMI_MIRROR            package mirror for the pacstrap method ($repo/$arch URL)
#   ARCH_AMI_CACHE             cache folder (optional; default ${XDG_CACHE_HOME:-~/.cache}/arch-ami)
# Progress goes to stderr; the last line of stdout is {"path": …, "sha256": …, "date": …}.
set -Eeuo pipefail

for required in ARCH_AMI_BOOTSTRAP_METHOD ARCH_AMI_BOOTSTRAP_DATE ARCH_AMI_BOOTSTRAP_MIRROR ARCH_AMI_MIRROR; do
  [[ -n ${!required:-} ]] || { echo "build-tarball: error: $required is not set (the ArchAmi component sets it)" >&2; exit 1; }
done
METHOD=$ARCH_AMI_BOOTSTRAP_METHOD
DATE=$ARCH_AMI_BOOTSTRAP_DATE
PINNED_SHA256=${ARCH_AMI_BOOTSTRAP_SHA256:-}
BOOTSTRAP_MIRROR=$ARCH_AMI_BOOTSTRAP_MIRROR
PACKAGE_MIRROR=$ARCH_AMI_MIRROR
CACHE=${ARCH_AMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arch-ami}
BOOTSTRAP_PACKAGES=(base arch-install-scripts)

log() { printf 'build-tarball: %s\n' "$*" >&2; }
die() {
  printf 'build-tarball: error: %s\n' "$*" >&2
  exit 1
}

fetch() { curl --fail --silent --show-error --location --retry 2 --connect-timeout 15 "$@"; }

report() {
  local path=$1 sum=$2 date=$3
  printf '{"path": "%s", "sha256": "%s", "date": "%s"}\n' "${path//\"/\\\"}" "$sum" "$date"
}

check_pinned() {
  [[ -z $PINNED_SHA256 || ${PINNED_SHA256,,} == "$1" ]] ||
    die "checksum mismatch: bootstrap tarball has sha256 $1 but bootstrapSha256 pins $PINNED_SHA256"
}

# Reads iso/<dir>/sha256sums.txt and prints "<date> <sha256>" of the bootstrap tarball listed there.
published_checksum() {
  local dir=$1 sums line
  sums=$(fetch "$BOOTSTRAP_MIRROR/iso/$dir/sha256sums.txt" 2>&1) || {
    [[ $sums == *" 404"* || $sums == *"returned error: 404"* ]] &&
      die "no bootstrap release '$dir' at $BOOTSTRAP_MIRROR/iso/ (releases are dated the 1st of each month; use \"latest\" or an existing date)"
    die "mirror $BOOTSTRAP_MIRROR unreachable: $sums"
  }
  line=$(grep -E '^[0-9a-f]{64}  archlinux-bootstrap-[0-9]{4}\.[0-9]{2}\.[0-9]{2}-x86_64\.tar\.zst$' <<<"$sums" | head -n1) ||
    die "$BOOTSTRAP_MIRROR/iso/$dir/sha256sums.txt lists no archlinux-bootstrap-*-x86_64.tar.zst"
  [[ $line =~ ^([0-9a-f]{64})\ \ archlinux-bootstrap-([0-9.]+)-x86_64 ]]
  echo "${BASH_REMATCH[2]} ${BASH_REMATCH[1]}"
}

official_tarball() {
  local date sum file part actual
  read -r date sum < <(published_checksum "$DATE") || exit 1
  [[ -n ${date:-} ]] || exit 1
  [[ $DATE == latest || $DATE == "$date" ]] || die "release $DATE lists a tarball dated $date"
  file=$CACHE/archlinux-bootstrap-$date-x86_64.tar.zst
  mkdir -p "$CACHE"
  if [[ -f $file ]] && [[ $(sha256sum "$file" | cut -d' ' -f1) == "$sum" ]]; then
    log "cache hit: $file"
  else
    part=$file.part
    log "downloading $BOOTSTRAP_MIRROR/iso/$date/archlinux-bootstrap-$date-x86_64.tar.zst"
    fetch --output "$part" "$BOOTSTRAP_MIRROR/iso/$date/archlinux-bootstrap-$date-x86_64.tar.zst" ||
      { rm -f "$part"; die "download from $BOOTSTRAP_MIRROR failed"; }
    actual=$(sha256sum "$part" | cut -d' ' -f1)
    [[ $actual == "$sum" ]] || { rm -f "$part"; die "checksum mismatch: downloaded tarball has sha256 $actual, the mirror publishes $sum"; }
    mv "$part" "$file"
  fi
  check_pinned "$sum"
  log "bootstrap tarball $date verified (sha256 $sum)"
  report "$file" "$sum" "$date"
}

# Builds the bootstrap root with pacstrap (needs root and pacstrap; for custom mirrors).
pacstrap_tarball() {
  [[ $(id -u) -eq 0 ]] || die "bootstrap method pacstrap needs root"
  command -v pacstrap >/dev/null || die "bootstrap method pacstrap needs pacstrap (Arch, or Debian's arch-install-scripts)"
  local date work conf file sum
  date=$(date -u +%Y.%m.%d)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  conf=$work/pacman.conf
  printf '[options]\nSigLevel = Required DatabaseOptional\nArchitecture = x86_64\n[core]\nServer = %s\n[extra]\nServer = %s\n' \
    "$PACKAGE_MIRROR" "$PACKAGE_MIRROR" >"$conf"
  mkdir -p "$work/root.x86_64"
  pacstrap -C "$conf" -G -M "$work/root.x86_64" "${BOOTSTRAP_PACKAGES[@]}" >&2
  printf 'Server = %s\n' "$PACKAGE_MIRROR" >"$work/root.x86_64/etc/pacman.d/mirrorlist"
  mkdir -p "$CACHE"
  file=$CACHE/archlinux-bootstrap-pacstrap-$date-x86_64.tar.zst
  tar -C "$work" --numeric-owner -c root.x86_64 | zstd -q -T0 -19 -o "$file.part" -f
  mv "$file.part" "$file"
  sum=$(sha256sum "$file" | cut -d' ' -f1)
  check_pinned "$sum"
  report "$file" "$sum" "$date"
}

main() {
  command -v curl >/dev/null || die "curl is needed to download the bootstrap tarball"
  [[ $DATE == latest || $DATE =~ ^[0-9]{4}\.[0-9]{2}\.[0-9]{2}$ ]] || die "bootstrap date '$DATE' is not latest or YYYY.MM.DD"
  case $METHOD in
    official) official_tarball ;;
    pacstrap) pacstrap_tarball ;;
    *) die "unknown bootstrap method '$METHOD' (official or pacstrap)" ;;
  esac
}

main "$@"
