#!/usr/bin/env bash
# Benchmarks the stall per flow at a takeover, detection included (issue 5): client -- fw1 / fw2
# -- server in network namespaces, zaro agents with role=vrrp as separate processes, fw1 killed
# with -9 (advertisements every 1 s and 0.1 s) or handing over with `zaro handover`. Prints a
# Markdown table. See FailoverBenchmark's javadoc.
#
# Usage: sudo scripts/bench-failover.sh [CONNECTIONS] [REPETITIONS] [UDP_FLOWS] [SCENARIOS]
#   (default 100 3 3 kill-1s,kill-0.1s,handover-0.1s; SCENARIOS may also name conntrackd-0.1s,
#   conntrackd and keepalived in place of zaro, or be all)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-failover.sh must run as root (it creates network namespaces)" >&2
  exit 1
fi
"$root/scripts/setup.sh" --bench >&2   # conntrackd too, for the conntrackd-0.1s scenario
tools=(ip conntrack nft socat java mvn)
[[ "${4:-}" == *conntrackd* || "${4:-}" == all ]] && tools+=(conntrackd keepalived)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

echo "Building..." >&2
mvn -q -B -f "$root/pom.xml" install -DskipTests >&2   # also builds agent/target/zaro.jar, which the agents run
mvn -q -B -f "$root/pom.xml" -pl tests dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null

start=$SECONDS
# From the project root: the agents run agent/target/zaro.jar, found relative to it.
cd "$root"
java -cp "$root/tests/target/classes:$(cat "$cp_file")" io.zaro.tests.bench.FailoverBenchmark "$@"
echo "Benchmark JVM ran $((SECONDS - start)) s (build excluded)." >&2
