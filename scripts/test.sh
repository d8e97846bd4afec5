#!/usr/bin/env bash
# Runs every test: unit tests, and kernel tests in network namespaces (as root).
# Under CI=true a kernel test that cannot run fails instead of skipping.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
zaro_netns() { ip netns list | awk '{print $1}' | grep '^zaro-' | sort || true; }
before=$(zaro_netns)   # another run's (a demo, a benchmark) are not this run's to count
mvn -B -ntp verify "$@"
leftover=$(comm -13 <(echo "$before") <(zaro_netns) | grep . || true)
# A namespace zaro-PID-... whose process still lives belongs to another run going on meanwhile
# (this run's JVMs have all exited): not this run's leak.
leftover=$(for ns in $leftover; do pid=${ns#zaro-}; pid=${pid%%-*}; [[ -d /proc/$pid ]] || echo "$ns"; done)
if [[ -n "$leftover" ]]; then
  echo "test: network namespaces left behind by this run:" >&2
  echo "$leftover" >&2
  exit 1
fi
