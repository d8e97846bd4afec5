#!/usr/bin/env bash
# The demo (`./zaro demo`): a firewall pair loses its active member, once with zaro's connection
# mirroring and once without.
#
#   client -- fw1 / fw2 -- server   strict nftables ruleset on both firewalls, SNAT to a VIP
#             fw1, fw2, kafka       sync bridge: the project's Kafka broker, zaro agents with VRRP
#
# Installs what it needs (scripts/setup.sh), builds zaro, then runs FailoverDemo: TCP connections
# and UDP flows through the VIPs, fw1 killed (kill -9 of its agent, links down), fw2 takes over.
# Prints a table of what the flows' users saw in both runs and writes a PNG timeline. Everything
# runs in network namespaces named zaro-<pid>-*, removed at the end, Ctrl-C included.
#
# Usage: sudo ./zaro demo [--connections N] [--udp-flows N] [--advert-interval SECONDS] [--png FILE]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for a in "$@"; do
  if [[ $a == --help || $a == -h ]]; then
    echo "Usage: zaro demo [--connections N] [--udp-flows N] [--advert-interval SECONDS] [--png FILE]"
    echo "  --connections N          long-lived TCP connections through the firewalls (default 50)"
    echo "  --udp-flows N            UDP flows (default 4)"
    echo "  --advert-interval S      VRRP advertisement interval in seconds (default 0.2)"
    echo "  --png FILE               where the timeline goes (default ./zaro-demo.png)"
    echo "Runs as root: it creates network namespaces. Installs its packages and builds zaro first."
    exit 0
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  echo "zaro demo: run it as root: it creates network namespaces" >&2
  exit 1
fi

echo "zaro demo: installing what is missing (scripts/setup.sh)..." >&2
"$root/scripts/setup.sh" >&2
echo "zaro demo: building zaro (mvn install, about a minute the first time)..." >&2
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT
mvn -q -B -ntp -f "$root/pom.xml" install -DskipTests >&2
mvn -q -B -ntp -f "$root/pom.xml" -pl tests dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
classpath="$root/tests/target/classes:$(cat "$cp_file")"
rm -f "$cp_file"

png=$PWD/zaro-demo.png
args=()
while [[ $# -gt 0 ]]; do
  if [[ $1 == --png && $# -ge 2 ]]; then png=$(realpath -m "$2"); shift 2; else args+=("$1"); shift; fi
done
# From the project root: the agents run agent/target/zaro.jar, found relative to it.
cd "$root"
exec java -Djava.awt.headless=true -cp "$classpath" \
  io.zaro.tests.demo.FailoverDemo "${args[@]}" --png "$png"
