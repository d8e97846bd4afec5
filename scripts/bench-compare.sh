#!/usr/bin/env bash
# zaro side by side with conntrackd (FTFW, external cache) on the same namespaces and flows, in one
# run: bursts, sustained rate, latency, memory and CPU, bootstrap of a fresh standby. Prints a
# Markdown table and writes a PNG plot. See CompareBenchmark's javadoc.
#
# Usage: sudo scripts/bench-compare.sh [--bursts 100000,1000000] [--rates 5000,10000,20000,40000,80000]
#          [--sustain-seconds 60] [--latency-rate 10000] [--latency-seconds 20] [--failover-connections 1000]
#          [--failover-runs 1] [--plot docs/bench-compare.png]
# An empty --bursts or --rates, or --latency-rate or --failover-connections 0, leaves that measure out; give such
# a run another --plot, or it draws over docs/bench-compare.png with only its own measures.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-compare.sh must run as root (it creates network namespaces)" >&2
  exit 1
fi
"$root/scripts/setup.sh" --bench >&2
for tool in ip conntrack conntrackd java mvn; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

echo "Building..." >&2
mvn -q -B -f "$root/pom.xml" install -DskipTests >&2   # also builds agent/target/zaro.jar, which the agents run
mvn -q -B -f "$root/pom.xml" -pl tests dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null

start=$SECONDS
java -cp "$root/tests/target/classes:$(cat "$cp_file")" io.zaro.tests.bench.CompareBenchmark "$@"
echo "Benchmark JVM ran $((SECONDS - start)) s (build excluded)." >&2
