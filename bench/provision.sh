#!/usr/bin/env bash
# npm run bench:provision — builds the test image through the local surrogate VM (as root) and prints:
# provisioning time per step and in total, the bootstrap tarball size, and the image's allocated bytes
# next to the installed payload bytes. Targets: overhead outside pacstrap <= 20 s; allocated <= 1.1 x
# payload + 64 MiB.
set -Eeuo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=test/image/lib.sh
source "$repo/test/image/lib.sh"

MIB=$((1024 * 1024))

step_times() {
  local log=$1
  # The last provisioning run's step table (printed by provision.sh after "step times:").
  sed -n '/^step times:/,/^total /p' "$log" | sed '1d;$d' | tr -d '\r'
}

payload_bytes() {
  local image=$1 loop root esp_start esp_dir bytes
  loop=$(losetup --find --show --read-only "$image")
  partx -a "$loop"
  root=$(mktemp -d)
  mount -o ro,noload "${loop}p3" "$root"
  bytes=$(du -sx -B1 --apparent-size "$root" | cut -f1)
  umount "$root"
  partx -d "$loop"
  losetup -d "$loop"
  esp_start=$(sgdisk -i 2 "$image" | awk '/First sector/ {print $3}')
  esp_dir=$(mktemp -d)
  mcopy -s -i "$image@@$((esp_start * 512))" ::/ "$esp_dir/"
  bytes=$((bytes + $(du -s -B1 --apparent-size "$esp_dir" | cut -f1)))
  rm -rf "$root" "$esp_dir"
  echo "$bytes"
}

main() {
  require_root
  local out log steps total pacstrap tarball allocated payload limit
  out=$(mktemp -d)/image.raw
  (cd "$repo" && npx tsc -p . && node --import tsx test/image/buildTestImage.ts ext4 "$out") >&2
  log=$out.log
  steps=$(step_times "$log")
  total=$(awk '/^total [0-9]+s/ {gsub("s", "", $2); t = $2} END {print t}' "$log" | tr -d '\r')
  pacstrap=$(awk '$1 == "pacstrap" {gsub("s", "", $2); print $2}' <<<"$steps")
  tarball=$(stat -c %s "$TEST_CACHE/test-bootstrap/bootstrap.tar.zst")
  allocated=$(du -B1 "$out" | cut -f1)
  payload=$(payload_bytes "$out")
  limit=$((payload * 11 / 10 + 64 * MIB))

  echo "provisioning in the local surrogate VM (QEMU TCG, 2 vCPU):"
  while IFS= read -r line; do echo "  $line"; done <<<"$steps"
  echo "  total                  ${total}s"
  echo "  overhead outside pacstrap: $((total - pacstrap))s (target <= 20s): $([[ $((total - pacstrap)) -le 20 ]] && echo MET || echo MISSED)"
  echo "bootstrap tarball:         $((tarball / MIB)) MiB ($tarball bytes)"
  echo "image allocated bytes:     $((allocated / MIB)) MiB ($allocated)"
  echo "installed payload bytes:   $((payload / MIB)) MiB ($payload)"
  echo "allocated <= 1.1 x payload + 64 MiB = $((limit / MIB)) MiB: $([[ $allocated -le $limit ]] && echo MET || echo MISSED)"
  rm -rf "$(dirname "$out")"
}

main "$@"
