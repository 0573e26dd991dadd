#!/usr/bin/env bash
# build-tarball.sh: obtain the Arch bootstrap tarball on the deployer's machine (interface:
# provision/README.md). Settings come from the environment; the ArchAmi component sets every one of
# them (their defaults live in src/settings.ts only):
#   ARCH_AMI_BOOTSTRAP_METHOD  official | pacstrap
#   ARCH_AMI_BOOTSTRAP_DATE    latest | YYYY.MM.DD
#   ARCH_AMI_BOOTSTRAP_SHA256  expected sha256, or empty
#   ARCH_AMI_BOOTSTRAP_MIRROR  base URL holding iso/<date>/
#   ARCH_AMI_MIRROR            package mirror for the pacstrap method ($repo/$arch URL)
#   ARCH_AMI_ALLOW_INSECURE_MIRROR  true to accept http:// mirrors (otherwise refused)
#   ARCH_AMI_CACHE             cache folder (optional; default ${XDG_CACHE_HOME:-~/.cache}/arch-ami)
#   ARCH_AMI_TEST_TRUST_ANCHORS  TESTS ONLY: a file replacing the pinned trust anchors below (announced
#                              loudly on every run; the component never sets it); refused unless
#   ARCH_AMI_TEST_MODE=1       is set too (only the tests set it)
# Progress goes to stderr; the last line of stdout is {"path": …, "sha256": …, "date": …}.
# Needs: curl, gpg (GnuPG 2: Debian `apt install gnupg`, macOS `brew install gnupg`), sha256sum or shasum.
set -Eeuo pipefail

# ---- trust anchors (README "Chain of trust": the acceptance rule, and how to rotate) -------------------
# Fingerprints of the Arch Linux release signing keys that sign archlinux-bootstrap-*.tar.zst.sig. Pin only a
# key that signs current releases AND that Arch's own keyring (archlinux/archlinux-keyring; Debian package
# archlinux-keyring: /usr/share/keyrings/archlinux.gpg, archlinux-revoked) holds and does not list as revoked
# (test/unit/release-pins.test.ts checks both against that package).
# - 3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C (ed25519, Pierre Schmitz <pierre@archlinux.org>, Arch release
#   engineering): the GPGKEY of Arch's "ISO release utilities" README, the key gpg reports for current
#   releases ("using EDDSA key 3E80CA1A…"), and certified by Arch's master keys (pacman-key --populate
#   makes it fully valid).
# Not pinned: 4AA4767BBC9C4B1D18AE28B77F2D434B9741E8AC (his older RSA key): archlinux-keyring lists it in
# archlinux-revoked (pacman-key disables it), though the copy in archlinux.gpg carries no revocation.
# Check a fingerprint on https://archlinux.org/download/ ("PGP fingerprint") and against the master key
# signatures on https://archlinux.org/master-keys/. Rotation: README "Chain of trust".
RELEASE_KEY_FINGERPRINTS=(3E80CA1A8B89F69CBA57D98A76A5EF9054449A5C)
# The keys are fetched over WKD from archlinux.org. Only their fingerprints are trusted, so any copy proves who
# signed; but only a current copy shows a revocation or a new expiry date: hence KEY_REFRESH_SECONDS.
RELEASE_KEY_URLS=(
  "https://openpgpkey.archlinux.org/.well-known/openpgpkey/archlinux.org/hu/9hy3wi4ewwiicomnjmhewifn6d1gi87i?l=pierre"
  "https://archlinux.org/.well-known/openpgpkey/hu/9hy3wi4ewwiicomnjmhewifn6d1gi87i?l=pierre"
)
# Signatures come from Arch's own hosts, never only from the mirror that served the tarball.
SIGNATURE_HOSTS=(https://archlinux.org https://archive.archlinux.org)
# Every bootstrap release, for pinned dates the mirror no longer carries.
ARCHIVE=https://archive.archlinux.org
# archlinux/archiso CHANGELOG.rst: [76] (2024-03-30) "releng remains with gzip for now" (so 2024.04.01 is a
# .tar.gz); the next version: "Change releng profile's bootstrap tarball compression from gzip to zstd",
# first released in the 2024.05.01 bootstrap tarball.
FIRST_ZSTD_RELEASE=2024.05.01
# The cached release key file is fetched again when older than this (revocations and new expiry dates), and
# always when a signature is by an expired pinned key.
KEY_REFRESH_SECONDS=86400
# When that refresh cannot reach Arch, the cached copy is used (with a WARNING) up to this age, then refused.
KEY_MAX_AGE_SECONDS=$((7 * 86400))

for required in ARCH_AMI_BOOTSTRAP_METHOD ARCH_AMI_BOOTSTRAP_DATE ARCH_AMI_BOOTSTRAP_MIRROR ARCH_AMI_MIRROR; do
  [[ -n ${!required:-} ]] || { echo "build-tarball: error: $required is not set (the ArchAmi component sets it)" >&2; exit 1; }
done
METHOD=$ARCH_AMI_BOOTSTRAP_METHOD
DATE=$ARCH_AMI_BOOTSTRAP_DATE
PINNED_SHA256=${ARCH_AMI_BOOTSTRAP_SHA256:-}
BOOTSTRAP_MIRROR=$ARCH_AMI_BOOTSTRAP_MIRROR
PACKAGE_MIRROR=$ARCH_AMI_MIRROR
ALLOW_INSECURE=${ARCH_AMI_ALLOW_INSECURE_MIRROR:-false}
CACHE=${ARCH_AMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arch-ami}
BOOTSTRAP_PACKAGES=(base arch-install-scripts)
GNUPG_HOME=""
KEYFILE="" # the cached release key file (release_keyring)
KEY_FETCH="" # result of the last fetch_release_keys
KEY_TEMPS=() # temporary files and gpg homes of a key refresh: removed on exit
PARTIAL=() # downloads not verified yet: removed on exit

log() { printf 'build-tarball: %s\n' "$*" >&2; }
die() {
  printf 'build-tarball: error: %s\n' "$*" >&2
  exit 1
}

fetch() { curl --fail --silent --show-error --location --retry 2 --connect-timeout 15 "$@"; }

sha256_of() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

cleanup() {
  ((${#PARTIAL[@]} == 0)) || rm -rf "${PARTIAL[@]}"
  ((${#KEY_TEMPS[@]} == 0)) || rm -rf "${KEY_TEMPS[@]}"
  [[ -z $GNUPG_HOME ]] || { gpgconf --homedir "$GNUPG_HOME" --kill all 2>/dev/null || true; rm -rf "$GNUPG_HOME"; }
}

# GnuPG >= 2.3 also reads a global gpg.conf in its sysconfdir (`gpgconf --list-dirs sysconfdir`), and
# --homedir does not skip it, so its options (e.g. auto-key-retrieve, trust-model) would apply to the signature
# check too. (From the review of issue 16; the gpg manual's "Configuration files" section does not mention
# it, so the script only warns instead of relying on either behaviour.)
warn_global_gpg_conf() {
  local dir
  dir=$(gpgconf --list-dirs sysconfdir 2>/dev/null) || return 0
  [[ -z $dir || ! -e $dir/gpg.conf ]] ||
    log "WARNING: $dir/gpg.conf exists: GnuPG 2.3 and later read it even with --homedir, so its options also apply to the release signature check; review it (README \"Chain of trust\")"
}

require_tools() {
  command -v curl >/dev/null || die "curl is needed to download the bootstrap tarball"
  command -v sha256sum >/dev/null || command -v shasum >/dev/null || die "sha256sum (coreutils) or shasum is needed"
  if [[ $METHOD == official ]]; then
    command -v gpg >/dev/null || die "gpg (GnuPG 2) is needed to verify the bootstrap tarball's release signature: Debian/Ubuntu: apt install gnupg; macOS: brew install gnupg"
    warn_global_gpg_conf
  fi
}

# TESTS ONLY: replace the trust anchors from a KEY=value file; loud, so it can never pass unnoticed. The
# component's local command inherits the deployer's whole environment (pulumi/pulumi-command,
# provider/pkg/provider/local/commandOutputs.go: `cmd.Env = os.Environ()`, then the command's own
# environment appended), so a variable left in a shell would reach this script: it takes effect only
# together with ARCH_AMI_TEST_MODE=1, which only the tests set.
load_test_trust_anchors() {
  local file=${ARCH_AMI_TEST_TRUST_ANCHORS:-} key value
  [[ -n $file ]] || return 0
  [[ ${ARCH_AMI_TEST_MODE:-} == 1 ]] ||
    die "ARCH_AMI_TEST_TRUST_ANCHORS=$file is set in the environment, but it is for arch-ami's own tests only (it would replace the pinned Arch release keys, and ARCH_AMI_TEST_MODE=1 is not set): unset ARCH_AMI_TEST_TRUST_ANCHORS in the shell that runs pulumi"
  [[ -r $file ]] || die "ARCH_AMI_TEST_TRUST_ANCHORS=$file is not readable"
  log "WARNING: ARCH_AMI_TEST_TRUST_ANCHORS=$file REPLACES THE PINNED ARCH RELEASE KEYS (tests only; unset it)"
  while IFS='=' read -r key value; do
    case $key in
      RELEASE_KEY_FINGERPRINTS) read -r -a RELEASE_KEY_FINGERPRINTS <<<"$value" ;;
      RELEASE_KEY_URLS) read -r -a RELEASE_KEY_URLS <<<"$value" ;;
      SIGNATURE_HOSTS) read -r -a SIGNATURE_HOSTS <<<"$value" ;;
      ARCHIVE) ARCHIVE=$value ;;
      '' | \#*) ;;
      *) die "unknown key '$key' in $file" ;;
    esac
  done <"$file"
}

refuse_insecure() {
  local what=$1 url=$2
  [[ $url != http://* || $ALLOW_INSECURE == true ]] ||
    die "$what $url is plain http: refused (set allowInsecureMirror: true to accept it)"
}

report() {
  local path=$1 sum=$2 date=$3
  printf '{"path": "%s", "sha256": "%s", "date": "%s"}\n' "${path//\"/\\\"}" "$sum" "$date"
}

check_pinned() {
  [[ -z $PINNED_SHA256 || ${PINNED_SHA256,,} == "$1" ]] ||
    die "checksum mismatch: bootstrap tarball has sha256 $1 but bootstrapSha256 pins $PINNED_SHA256"
}

# Reads <base>/iso/<dir>/sha256sums.txt and prints "<date> <sha256>" of the bootstrap tarball listed there.
# Exit 2 (no message) when the release is not there.
published_checksum() {
  local base=$1 dir=$2 sums line
  sums=$(fetch "$base/iso/$dir/sha256sums.txt" 2>&1) || {
    [[ $sums == *" 404"* || $sums == *"returned error: 404"* ]] && return 2
    die "mirror $base unreachable: $sums"
  }
  line=$(grep -E '^[0-9a-f]{64}  archlinux-bootstrap-[0-9]{4}\.[0-9]{2}\.[0-9]{2}-x86_64\.tar\.zst$' <<<"$sums" | head -n1) ||
    die "$base/iso/$dir/sha256sums.txt lists no archlinux-bootstrap-*-x86_64.tar.zst"
  [[ $line =~ ^([0-9a-f]{64})\ \ archlinux-bootstrap-([0-9.]+)-x86_64 ]]
  echo "${BASH_REMATCH[2]} ${BASH_REMATCH[1]}"
}

# Prints "<base> <date> <sha256>": the mirror, or for a pinned date it lacks, the Arch Linux Archive.
locate_release() {
  local out rc=0
  out=$(published_checksum "$BOOTSTRAP_MIRROR" "$DATE") || rc=$?
  if ((rc == 0)); then echo "$BOOTSTRAP_MIRROR $out"; return; fi
  ((rc == 2)) || exit 1
  [[ $DATE != latest && $BOOTSTRAP_MIRROR != "$ARCHIVE" ]] ||
    die "no bootstrap release '$DATE' at $BOOTSTRAP_MIRROR/iso/ (releases are dated the 1st of each month; use \"latest\" or an existing date)"
  log "release $DATE is not on $BOOTSTRAP_MIRROR; trying the Arch Linux Archive ($ARCHIVE)"
  rc=0
  out=$(published_checksum "$ARCHIVE" "$DATE") || rc=$?
  ((rc != 2)) || die "no bootstrap release '$DATE' at $BOOTSTRAP_MIRROR/iso/ nor at $ARCHIVE/iso/ (releases are dated the 1st of each month; use \"latest\" or an existing date)"
  ((rc == 0)) || exit 1
  echo "$ARCHIVE $out"
}

# Age in seconds of a file (GNU stat, else BSD/macOS stat).
age_of() {
  local mtime
  mtime=$(stat -c %Y "$1" 2>/dev/null || stat -f %m "$1")
  echo $(($(date +%s) - mtime))
}

# A temporary file in the cache folder (beside KEYFILE, so mv is atomic). The Xs end the template: BSD/macOS
# mktemp replaces only trailing Xs. Dies when the cache folder is not writable: a refresh that cannot be
# stored must never pass for "Arch unreachable" (callers use it in a command substitution, where set -e does
# not apply, so the check is explicit).
cache_temp() {
  local temp
  if ! mkdir -p "$CACHE" 2>/dev/null || ! temp=$(mktemp "$CACHE/.release-keys.XXXXXX" 2>/dev/null); then
    die "cannot write to $CACHE (the cache folder, ARCH_AMI_CACHE): the release keys cannot be refreshed"
  fi
  echo "$temp"
}

# merge_release_keys NEW: KEYFILE becomes the union of the cached copy and NEW, merged by gpg (import both
# into one throwaway home, export). OpenPGP has no signature type that undoes a key revocation (RFC 4880
# 5.2.1: 0x20 "Key revocation signature"), so a revocation once seen stays in the cache even if a server
# later serves a copy without it; gpg's import adds the new copy's signatures to the key it already holds
# (gnupg g10/import.c, merge_blocks), so a later expiry extension is still picked up.
# The fetched copy alone must hold a pinned key: otherwise any answer (a wrong key, a captive portal's page)
# would pass for a refresh and restart the staleness clock of the cached copy.
merge_release_keys() {
  local new=$1 url=$2 home merged
  home=$(mktemp -d)
  KEY_TEMPS+=("$home")
  chmod 700 "$home"
  gpg --homedir "$home" --batch --quiet --import "$new" 2>/dev/null || true
  holds_pinned_key "$home" ||
    die "the release key file fetched from $url holds none of the pinned fingerprints (${RELEASE_KEY_FINGERPRINTS[*]}); see README \"Chain of trust\" to rotate"
  [[ ! -s $KEYFILE ]] || gpg --homedir "$home" --batch --quiet --import "$KEYFILE" 2>/dev/null || true
  merged=$(cache_temp) || exit 1
  KEY_TEMPS+=("$merged")
  gpg --homedir "$home" --batch --export >"$merged" 2>/dev/null || die "gpg could not export the merged release keys"
  mv "$merged" "$KEYFILE" || die "cannot write $KEYFILE (the cache folder, ARCH_AMI_CACHE)"
  rm -f "$new"
  gpgconf --homedir "$home" --kill all 2>/dev/null || true
  rm -rf "$home"
}

# fetch_release_keys: fetches the key file from the first of RELEASE_KEY_URLS that serves a non-empty file
# and merges it into KEYFILE (atomically: concurrent builds share the cache). Sets KEY_FETCH to "fetched",
# "withdrawn <url> (HTTP <code>)…" when none served it and an authoritative host answered 404/410 (Arch no
# longer publishes the key there), or "unreachable" (connection errors, timeouts, other HTTP errors).
fetch_release_keys() {
  local part url code rc withdrawn=""
  part=$(cache_temp) || exit 1
  KEY_TEMPS+=("$part")
  for url in "${RELEASE_KEY_URLS[@]}"; do
    rc=0
    # curl --fail exits 22 on an HTTP status >= 400; --write-out still reports the status (curl(1): -f, -w).
    code=$(fetch --output "$part" --write-out '%{http_code}' "$url" 2>/dev/null) || rc=$?
    if ((rc == 0)) && [[ -s $part ]]; then
      merge_release_keys "$part" "$url"
      log "release keys fetched from $url (merged with the cached copy)"
      KEY_FETCH=fetched
      return 0
    fi
    if ((rc == 22)) && [[ $code == 404 || $code == 410 ]]; then withdrawn+=" $url (HTTP $code)"; fi
  done
  rm -f "$part"
  if [[ -n $withdrawn ]]; then KEY_FETCH="withdrawn$withdrawn"; else KEY_FETCH=unreachable; fi
}

# A failed fetch_release_keys: a withdrawn key is refused, whatever the cache holds.
refuse_withdrawn() {
  [[ $KEY_FETCH != withdrawn* ]] ||
    die "the Arch release signing key is no longer published:${KEY_FETCH#withdrawn} answers that it is not there; the key was withdrawn, so it is refused (the cached copy is not used); if Arch has moved to a new release signing key, pin it (README \"Chain of trust\": rotating the release key)"
}

# import_release_keys: a new throwaway GnuPG home holding KEYFILE, which must hold a pinned fingerprint.
import_release_keys() {
  [[ -z $GNUPG_HOME ]] || { gpgconf --homedir "$GNUPG_HOME" --kill all 2>/dev/null || true; rm -rf "$GNUPG_HOME"; }
  GNUPG_HOME=$(mktemp -d)
  chmod 700 "$GNUPG_HOME"
  gpg --homedir "$GNUPG_HOME" --batch --quiet --import "$KEYFILE" 2>/dev/null || true
  holds_pinned_key "$GNUPG_HOME" && return 0
  rm -f "$KEYFILE" # a damaged cached copy must not stick in the cache
  die "the cached release key file $KEYFILE holds none of the pinned fingerprints (${RELEASE_KEY_FINGERPRINTS[*]}): removed, the next build fetches it again"
}

# holds_pinned_key HOME: whether the keyring in GnuPG home HOME holds a pinned fingerprint.
holds_pinned_key() {
  local imported fpr
  imported=$(gpg --homedir "$1" --batch --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/ {print $10}')
  for fpr in "${RELEASE_KEY_FINGERPRINTS[@]}"; do
    grep -qx "${fpr^^}" <<<"${imported^^}" && return 0
  done
  return 1
}

# release_keyring: the pinned release keys from the cache, fetched when missing or older than
# KEY_REFRESH_SECONDS. A withdrawn key (HTTP 404/410) is refused; when Arch cannot be reached the cached
# copy is kept with a WARNING, up to KEY_MAX_AGE_SECONDS.
release_keyring() {
  local age
  KEYFILE=$CACHE/release-keys-$(printf '%s' "${RELEASE_KEY_FINGERPRINTS[*]}" | cksum | cut -d' ' -f1).pgp
  if [[ ! -s $KEYFILE ]]; then
    fetch_release_keys
    refuse_withdrawn
    [[ $KEY_FETCH == fetched ]] || die "could not fetch the Arch release signing key from ${RELEASE_KEY_URLS[*]}"
  else
    age=$(age_of "$KEYFILE")
    # A modification time in the future (a copied cache, a clock set back) says nothing about the age: refresh.
    if ((age < 0 || age > KEY_REFRESH_SECONDS)); then
      fetch_release_keys
      refuse_withdrawn
      if [[ $KEY_FETCH != fetched ]]; then
        ((age >= 0 && age <= KEY_MAX_AGE_SECONDS)) ||
          die "could not refresh the release keys from ${RELEASE_KEY_URLS[*]}, and the cached copy is $( ((age < 0)) && echo "dated in the future" || echo "$((age / 86400)) days old") (at most $((KEY_MAX_AGE_SECONDS / 86400)) days are accepted without a refresh): refused; let the build reach Arch once"
        log "WARNING: could not refresh the release keys from ${RELEASE_KEY_URLS[*]}; using the copy fetched $((age / 3600)) hours ago (a revocation published since then is not seen; refused after $((KEY_MAX_AGE_SECONDS / 86400)) days)"
      fi
    fi
  fi
  import_release_keys
}

# Downloads the detached signature of the release from Arch's own hosts.
fetch_signature() {
  local name=$1 date=$2 out=$3 host
  for host in "${SIGNATURE_HOSTS[@]}"; do
    if fetch --output "$out" "$host/iso/$date/$name.sig" 2>/dev/null && [[ -s $out ]]; then
      log "signature from $host/iso/$date/$name.sig"
      return 0
    fi
  done
  die "no signature $name.sig at ${SIGNATURE_HOSTS[*]} (iso/$date/): refusing an unsigned bootstrap tarball"
}

# signature_verdict FILE SIG prints "<verdict> <primary fingerprint or detail>", verdict one of
# good | revoked | expired-key | expired-sig | bad | unpinned | unchecked.
# gpg's status lines (gpg/gnupg doc/DETAILS, "General status codes"): for each signature exactly one of
# GOODSIG, BADSIG, EXPSIG, EXPKEYSIG, REVKEYSIG or ERRSIG; GOODSIG alone means good, EXPSIG/EXPKEYSIG/REVKEYSIG
# mean "good, but" the signature expired / the key expired / the key is revoked. VALIDSIG ("cryptographically
# valid") accompanies GOODSIG *and* EXPSIG/EXPKEYSIG/REVKEYSIG, so it is never enough on its own. VALIDSIG's
# arguments (DETAILS, "VALIDSIG"): fingerprint, sig_creation_date, sig-timestamp, expire-timestamp,
# sig-version, reserved, pubkey-algo, hash-algo, sig-class, [primary-key-fpr]: the 10th, field 12 of the line,
# is the primary key's fingerprint, which is what a pin names (the 1st is the signing (sub)key's).
signature_verdict() {
  local file=$1 sig=$2 status results code keyid validsig primary fpr
  status=$(gpg --homedir "$GNUPG_HOME" --batch --status-fd 1 --verify "$sig" "$file" 2>/dev/null) || true
  results=$(awk '$1 == "[GNUPG:]" && $2 ~ /^(GOODSIG|BADSIG|EXPSIG|EXPKEYSIG|REVKEYSIG|ERRSIG)$/ {print $2, $3}' <<<"$status")
  if [[ $(grep -c . <<<"$results") -ne 1 ]]; then
    echo "unchecked $(grep -c . <<<"$results") signatures (exactly one expected)"
    return
  fi
  read -r code keyid <<<"$results"
  case $code in
    BADSIG) echo "bad $keyid"; return ;;
    ERRSIG) echo "unchecked $(grep -oE 'NO_PUBKEY [0-9A-F]+' <<<"$status" | head -n1 || echo "ERRSIG $keyid")"; return ;;
  esac
  validsig=$(awk '$1 == "[GNUPG:]" && $2 == "VALIDSIG"' <<<"$status")
  [[ $(grep -c . <<<"$validsig") -eq 1 ]] || { echo "unchecked no VALIDSIG for $code $keyid"; return; }
  # Without the optional 10th argument (older gpg) the signing key's fingerprint stands in: a pin matches it
  # only when the primary key signed.
  primary=$(awk '{print (NF >= 12 ? $12 : $3)}' <<<"$validsig")
  for fpr in "${RELEASE_KEY_FINGERPRINTS[@]}"; do
    [[ ${primary^^} == "${fpr^^}" ]] || continue
    case $code in
      GOODSIG) echo "good $primary" ;;
      REVKEYSIG) echo "revoked $primary" ;;
      EXPKEYSIG) echo "expired-key $primary" ;;
      EXPSIG) echo "expired-sig $primary" ;;
    esac
    return
  done
  echo "unpinned $primary"
}

# verify_signature FILE SIG: accepted only on GOODSIG by a pinned key. An expired pinned key: the key file is
# fetched again first (a new expiry date may have been published), then refused if still expired. A revoked
# one is refused at once: a revocation is permanent, and the merged cache keeps it (merge_release_keys).
verify_signature() {
  local file=$1 sig=$2 verdict detail name=${1##*/}
  read -r verdict detail < <(signature_verdict "$file" "$sig")
  if [[ $verdict == expired-key ]]; then
    log "signature of $name is by pinned key $detail, which the key file (cached or just fetched) shows as expired: fetching the key again from ${RELEASE_KEY_URLS[*]}"
    fetch_release_keys
    refuse_withdrawn
    [[ $KEY_FETCH == fetched ]] || die "signature of $name is by pinned key $detail, shown as expired, and the key could not be fetched again from ${RELEASE_KEY_URLS[*]}: refused"
    import_release_keys
    read -r verdict detail < <(signature_verdict "$file" "$sig")
  fi
  local rotate='if Arch has moved to a new release signing key, pin it (README "Chain of trust": rotating the release key)'
  case $verdict in
    good) log "release signature verified: key $detail (GOODSIG)" ;;
    revoked) die "signature of $name is by pinned key $detail, which is REVOKED (a copy of the key fetched from ${RELEASE_KEY_URLS[*]} carried a revocation; revocations are permanent): refused; $rotate" ;;
    expired-key) die "signature of $name is by pinned key $detail, which has EXPIRED (also in the copy fetched again): refused; $rotate" ;;
    expired-sig) die "signature of $name by pinned key $detail has EXPIRED: refused" ;;
    bad) die "BAD signature: $name does not match its release signature (tampered or corrupted)" ;;
    unpinned) die "signature of $name is by key $detail, not a pinned Arch release signing key (${RELEASE_KEY_FINGERPRINTS[*]}); $rotate" ;;
    *) die "signature of $name is not by a pinned Arch release signing key (${RELEASE_KEY_FINGERPRINTS[*]}): $detail" ;;
  esac
}

official_tarball() {
  local base date sum name file part actual
  [[ $DATE == latest || ! $DATE < $FIRST_ZSTD_RELEASE ]] ||
    die "bootstrap release $DATE is a .tar.gz; arch-ami reads .tar.zst releases, the first is $FIRST_ZSTD_RELEASE"
  read -r base date sum < <(locate_release) || exit 1
  [[ -n ${date:-} ]] || exit 1
  [[ $DATE == latest || $DATE == "$date" ]] || die "release $DATE lists a tarball dated $date"
  name=archlinux-bootstrap-$date-x86_64.tar.zst
  file=$CACHE/$name
  mkdir -p "$CACHE"
  release_keyring
  if [[ -f $file && -s $file.sig ]] && [[ $(sha256_of "$file") == "$sum" ]]; then
    log "cache hit: $file (signature verified again)"
    # A cached copy that no longer verifies (a rotated pin, a damaged signature) is dropped, never used.
    PARTIAL=("$file" "$file.sig")
    verify_signature "$file" "$file.sig"
    PARTIAL=()
  else
    # A download folder of its own: two builds (two components, two stacks) may fetch the same release at once.
    local partdir
    partdir=$(mktemp -d "$CACHE/.download.XXXXXX")
    part=$partdir/$name
    PARTIAL=("$partdir")
    log "downloading $base/iso/$date/$name"
    fetch --output "$part" "$base/iso/$date/$name" || die "download from $base failed"
    actual=$(sha256_of "$part")
    [[ $actual == "$sum" ]] || die "checksum mismatch: downloaded tarball has sha256 $actual, the mirror publishes $sum"
    fetch_signature "$name" "$date" "$part.sig"
    verify_signature "$part" "$part.sig"
    mv "$part.sig" "$file.sig"
    mv "$part" "$file"
    rmdir "$partdir"
    PARTIAL=()
  fi
  check_pinned "$sum"
  log "bootstrap tarball $date verified (sha256 $sum)"
  report "$file" "$sum" "$date"
}

# pacstrap verifies every package with the HOST's pacman keyring: it must hold keys.
check_host_keyring() {
  local gpgdir keys
  gpgdir=$(pacman-conf GPGDir 2>/dev/null || echo /etc/pacman.d/gnupg)
  keys=0 # never let gpg create a missing keyring folder
  [[ ! -d $gpgdir ]] || keys=$(gpg --homedir "$gpgdir" --batch --with-colons --list-keys 2>/dev/null | grep -c '^pub' || true)
  ((keys > 0)) || die "bootstrap method pacstrap: the host's pacman keyring ($gpgdir) holds no keys; run 'pacman-key --init && pacman-key --populate archlinux' (Debian: apt install archlinux-keyring first)"
  log "host pacman keyring: $keys keys in $gpgdir"
}

# Removes a work folder, never while anything below it is still mounted.
remove_work() {
  local work=$1 mounted
  mounted=$(findmnt -rno TARGET | awk -v p="$work/" 'index($0, p) == 1') || true
  [[ -z $mounted ]] || die "NOT removing $work: still mounted below it: $mounted"
  rm -rf --one-file-system "$work"
}

# Builds the bootstrap root with pacstrap (needs root and pacstrap; for custom mirrors).
pacstrap_tarball() {
  [[ -z $PINNED_SHA256 ]] || die "bootstrapSha256 cannot be used with bootstrap method pacstrap (a tarball built here never matches a pin)"
  [[ $(id -u) -eq 0 ]] || die "bootstrap method pacstrap needs root"
  command -v pacstrap >/dev/null || die "bootstrap method pacstrap needs pacstrap (Arch, or Debian's arch-install-scripts)"
  check_host_keyring
  local date work conf file sum pkgcache=$CACHE/pacstrap-packages
  date=$(date -u +%Y.%m.%d)
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # $work is fixed now
  trap "remove_work '$work'; cleanup" EXIT
  conf=$work/pacman.conf
  mkdir -p "$pkgcache"
  # CacheDir outside the root (-c uses it): downloaded packages are reused and never land in the tarball.
  printf '[options]\nSigLevel = Required DatabaseOptional\nArchitecture = x86_64\nCacheDir = %s\n[core]\nServer = %s\n[extra]\nServer = %s\n' \
    "$pkgcache" "$PACKAGE_MIRROR" "$PACKAGE_MIRROR" >"$conf"
  mkdir -p "$work/root.x86_64"
  pacstrap -C "$conf" -c -G -M "$work/root.x86_64" "${BOOTSTRAP_PACKAGES[@]}" >&2
  printf 'Server = %s\n' "$PACKAGE_MIRROR" >"$work/root.x86_64/etc/pacman.d/mirrorlist"
  file=$CACHE/archlinux-bootstrap-pacstrap-$date-x86_64.tar.zst
  tar -C "$work" --numeric-owner -c root.x86_64 | zstd -q -T0 -19 -o "$file.part" -f
  mv "$file.part" "$file"
  sum=$(sha256_of "$file")
  report "$file" "$sum" "$date"
}

main() {
  trap cleanup EXIT
  require_tools
  [[ $DATE == latest || $DATE =~ ^[0-9]{4}\.[0-9]{2}\.[0-9]{2}$ ]] || die "bootstrap date '$DATE' is not latest or YYYY.MM.DD"
  load_test_trust_anchors
  refuse_insecure "bootstrap mirror" "$BOOTSTRAP_MIRROR"
  refuse_insecure "package mirror" "$PACKAGE_MIRROR"
  case $METHOD in
    official) official_tarball ;;
    pacstrap) pacstrap_tarball ;;
    *) die "unknown bootstrap method '$METHOD' (official or pacstrap)" ;;
  esac
}

main "$@"
