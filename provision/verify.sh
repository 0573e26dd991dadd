#!/usr/bin/env bash
# verify.sh [--packages "a b"] [--dns-name NAME] [--time-server ADDR] [--require-time-sync]
# Checks, on a freshly launched instance of the image, that first boot worked. Runs as the image's
# default user (the login the AMI promises) and uses sudo only where a check needs root. Every check
# prints "ok: <check>" or "FAILED: <check>: <why>"; the exit status is 0 only when all passed, and the
# last line names every failed check. Runs unchanged on AWS (the ArchAmi verification step) and against
# the offline first-boot VM in the tests.
set -Eeuo pipefail

PACKAGES=""
DNS_NAME=archlinux.org
TIME_SERVER=169.254.169.123
REQUIRE_TIME_SYNC=0
# A grown root fills its disk but for the partition table, the BIOS boot partition and the ESP.
ROOT_FILL_PERCENT=85
FAILED=()

parse_args() {
  while (($#)); do
    case $1 in
      --packages) PACKAGES=$2; shift 2 ;;
      --dns-name) DNS_NAME=$2; shift 2 ;;
      --time-server) TIME_SERVER=$2; shift 2 ;;
      --require-time-sync) REQUIRE_TIME_SYNC=1; shift ;;
      *) echo "verify.sh: unknown argument $1" >&2; exit 2 ;;
    esac
  done
}

pass() { printf 'ok: %s\n' "$1"; }
fail() { printf 'FAILED: %s: %s\n' "$1" "$2"; FAILED+=("$1"); }

# check NAME FUNCTION: runs FUNCTION; its stdout on failure is the reason.
check() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if ((rc == 0)); then pass "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"; fi
}

check_cloud_init() {
  local status rc=0 err
  err=$(mktemp)
  # Exit 0 done, 1 error, 2 done with recoverable errors (cloud-init >= 23.4). The JSON is on stdout only;
  # a warning on stderr (a deprecation, a Python warning) is no reason to fail, and is shown only with a
  # failure.
  status=$(cloud-init status --wait --format json 2>"$err") || rc=$?
  python3 -c '
import json, sys
rc = int(sys.argv[1])
stderr = open(sys.argv[2]).read().strip()[-300:]
try:
    s = json.loads(sys.stdin.read())
except ValueError as e:
    sys.exit("cloud-init status printed no JSON (%s), exit %d; stderr: %s" % (e, rc, stderr))
problems = []
if s.get("status") != "done" or rc != 0:
    problems.append("status %s (exit %d)" % (s.get("status"), rc))
if s.get("errors"):
    problems.append("errors: %s" % s["errors"])
if s.get("recoverable_errors"):
    problems.append("recoverable errors: %s" % s["recoverable_errors"])
if not str(s.get("detail", "")).startswith("DataSourceEc2"):
    problems.append("datasource is %r, not Ec2" % s.get("detail"))
if problems:
    sys.exit("; ".join(problems) + ("; stderr: " + stderr if stderr else ""))
' "$rc" "$err" <<<"$status" || rc=$?
  rm -f "$err"
  return "$((rc == 0 ? 0 : 1))"
}

check_system_running() {
  local state
  state=$(systemctl is-system-running --wait 2>/dev/null) || true
  [[ $state == running ]] && return 0
  echo "state $state; failed units: $(systemctl list-units --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
  return 1
}

check_root_fills_disk() {
  local source disk fs_bytes disk_bytes
  source=$(findmnt -no SOURCE /)
  disk=/dev/$(lsblk -no PKNAME "$source" | head -n1)
  fs_bytes=$(df -B1 --output=size / | tail -n1 | tr -d ' ')
  disk_bytes=$(lsblk -bdno SIZE "$disk")
  [[ $fs_bytes =~ ^[0-9]+$ && $disk_bytes =~ ^[0-9]+$ ]] || { echo "cannot size the root filesystem ($fs_bytes) or its disk $disk ($disk_bytes)"; return 1; }
  if ((fs_bytes * 100 < disk_bytes * ROOT_FILL_PERCENT)); then
    echo "root filesystem $fs_bytes bytes on a $disk_bytes-byte disk ($disk): not grown"
    return 1
  fi
}

check_network() {
  ip -4 route show default | grep -q . || { echo "no IPv4 default route"; return 1; }
}

check_dns() {
  [[ $(readlink -f /etc/resolv.conf) == /run/systemd/resolve/stub-resolv.conf ]] || { echo "resolv.conf is not systemd-resolved's stub"; return 1; }
  getent ahosts "$DNS_NAME" >/dev/null || { echo "cannot resolve $DNS_NAME"; return 1; }
}

check_time_sync() {
  systemctl is-active --quiet systemd-timesyncd || { echo "systemd-timesyncd is not active"; return 1; }
  grep -rqs "$TIME_SERVER" /etc/systemd/timesyncd.conf /etc/systemd/timesyncd.conf.d/ || { echo "timesyncd is not configured for $TIME_SERVER"; return 1; }
  if ((REQUIRE_TIME_SYNC)); then
    local waited=0
    until [[ $(timedatectl show -p NTPSynchronized --value) == yes ]]; do
      ((waited < 120)) || { echo "clock not synchronized after 120 s"; return 1; }
      sleep 2
      waited=$((waited + 2))
    done
  fi
}

check_sudo() { sudo -n true; }

check_packages() {
  local p missing=()
  # shellcheck disable=SC2086 # a space-separated list by design
  for p in $PACKAGES; do pacman -Q "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]} == 0)) || { echo "not installed: ${missing[*]}"; return 1; }
}

main() {
  parse_args "$@"
  echo "==> verifying $(hostname) ($(uname -r)) as $(id -un)"
  check "cloud-init done, no errors, Ec2 datasource" check_cloud_init
  check "system running, no failed unit" check_system_running
  check "root filesystem fills the volume" check_root_fills_disk
  check "network up (default route)" check_network
  check "DNS through systemd-resolved ($DNS_NAME)" check_dns
  check "time sync ($TIME_SERVER)" check_time_sync
  check "passwordless sudo" check_sudo
  check "packages installed" check_packages
  if ((${#FAILED[@]})); then
    printf 'verify: %d check(s) failed: %s\n' "${#FAILED[@]}" "$(IFS=';'; echo "${FAILED[*]}")"
    exit 1
  fi
  echo "verify: all checks passed"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
