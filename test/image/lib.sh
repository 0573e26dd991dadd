# shellcheck shell=bash
# Shared helpers for the offline proof scripts (sourced, never run).

# Cache shared by every test run; CI and developers keep it between runs.
TEST_CACHE=${ARCH_AMI_TEST_CACHE:-/var/cache/arch-ami-test}
# Debian suite and mirror used for every test root: Debian 13 (trixie), the release the EC2 builder runs.
# shellcheck disable=SC2034
DEBIAN_SUITE=${ARCH_AMI_TEST_SUITE:-trixie}
# shellcheck disable=SC2034
DEBIAN_MIRROR=${ARCH_AMI_TEST_MIRROR:-http://deb.debian.org/debian}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "this needs root (loop devices, mount, chroot); run it as root"
}

# require_commands CMD... : names every missing command and the apt package that has it.
require_commands() {
  local missing=() cmd
  for cmd in "$@"; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd%%:*} (apt package ${cmd#*:})")
  done
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]}; run scripts/setup as root"
}

# cached NAME KEY BUILD_FN: runs BUILD_FN into $TEST_CACHE/NAME unless a build with KEY is there.
cached() {
  local name=$1 key=$2 build=$3 dir="$TEST_CACHE/$1"
  if [[ -f $dir.key && $(<"$dir.key") == "$key" && -e $dir ]]; then
    log "cache hit: $name"
    return 0
  fi
  log "building: $name"
  rm -rf "$dir" "$dir.key" "$dir.tmp"
  mkdir -p "$TEST_CACHE"
  "$build" "$dir.tmp" >&2
  mv "$dir.tmp" "$dir"
  printf '%s' "$key" >"$dir.key"
}

# Every failure names the command and line, so a CI log says what broke.
trap 'printf "error: command \"%s\" failed (exit %d) at %s:%d\n" "$BASH_COMMAND" "$?" "${BASH_SOURCE[0]}" "$LINENO" >&2' ERR
