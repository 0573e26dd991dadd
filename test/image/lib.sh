# shellcheck shell=bash
# Shared helpers for the offline proof scripts (sourced, never run): the local build's (local/lib.sh) plus
# the test cache and the Debian suite every test root uses.
# shellcheck source=local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../local/lib.sh"

# Cache shared by every test run; CI and developers keep it between runs.
# shellcheck disable=SC2034
TEST_CACHE=${ARCH_AMI_TEST_CACHE:-/var/cache/arch-ami-test}
# Debian suite and mirror used for every test root: Debian 13 (trixie), the release the EC2 builder runs.
# shellcheck disable=SC2034
DEBIAN_SUITE=${ARCH_AMI_TEST_SUITE:-trixie}
# shellcheck disable=SC2034
DEBIAN_MIRROR=${ARCH_AMI_TEST_MIRROR:-http://deb.debian.org/debian}
