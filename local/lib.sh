# shellcheck shell=bash
# Helpers shared by the local build's scripts and the offline proof's (sourced, never run).

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "this needs root (mmdebstrap, loop devices, mount, chroot); run it as root"
}

# require_commands CMD:PACKAGE... : names every missing command and the Debian package that has it.
require_commands() {
  local missing=() cmd
  for cmd in "$@"; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd%%:*} (apt package ${cmd#*:})")
  done
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]}"
}

# cached CACHE NAME KEY BUILD_FN: runs BUILD_FN into CACHE/NAME unless a build with KEY is there.
cached() {
  local cache=$1 name=$2 key=$3 build=$4 dir="$1/$2"
  if [[ -f $dir.key && $(<"$dir.key") == "$key" && -e $dir ]]; then
    log "cache hit: $name"
    return 0
  fi
  log "building: $name"
  rm -rf "$dir" "$dir.key" "$dir.tmp"
  mkdir -p "$cache"
  "$build" "$dir.tmp" >&2
  mv "$dir.tmp" "$dir"
  printf '%s' "$key" >"$dir.key"
}

# Every failure names the command and line, so a log says what broke.
trap 'printf "error: command \"%s\" failed (exit %d) at %s:%d\n" "$BASH_COMMAND" "$?" "${BASH_SOURCE[0]}" "$LINENO" >&2' ERR
