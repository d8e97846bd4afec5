#!/usr/bin/env bash
# Runs every test: unit tests, and kernel tests in network namespaces (as root).
# Under CI=true a kernel test that cannot run fails instead of skipping.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
mvn -B -ntp verify "$@"
leftover=$(ip netns list | grep -c '^zaro-' || true)
if [[ "$leftover" != "0" ]]; then
  echo "test: $leftover zaro network namespaces were left behind:" >&2
  ip netns list | grep '^zaro-' >&2
  exit 1
fi
