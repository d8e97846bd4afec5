#!/usr/bin/env bash
# Probes conntrackd (conntrack-tools) as zaro's yardstick: a burst on fw1, fw2's external cache,
# its commit and a fresh backup's bootstrap, in network namespaces. See ConntrackdProbe's javadoc.
#
# Usage: sudo scripts/bench-conntrackd.sh [FLOWS [netlinkMiB=N] [netlinkMaxMiB=N] [eventIterationLimit=N]
#                                          [filter=Kernelspace|Userspace]]   (default 100000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-conntrackd.sh must run as root (it creates network namespaces)" >&2
  exit 1
fi
"$root/scripts/setup.sh" --bench >&2   # conntrackd too
for tool in ip conntrack java mvn; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

echo "Building..." >&2
mvn -q -B -f "$root/pom.xml" install -DskipTests >&2
mvn -q -B -f "$root/pom.xml" -pl tests dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null

java -cp "$root/tests/target/classes:$(cat "$cp_file")" io.zaro.tests.bench.ConntrackdProbe "$@"
