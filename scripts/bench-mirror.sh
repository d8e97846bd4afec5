#!/usr/bin/env bash
# Benchmarks mirroring end to end: fw1 -> the project's broker -> fw2, in network namespaces,
# with zaro agents as separate processes. Prints a Markdown table. See MirrorBenchmark's javadoc.
#
# Usage: sudo scripts/bench-mirror.sh [BURSTS] [RATE] [SECONDS]   (default 100000,1000000 10000 20)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-mirror.sh must run as root (it creates network namespaces)" >&2
  exit 1
fi
"$root/scripts/setup.sh" >&2
for tool in ip conntrack java mvn; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

echo "Building..." >&2
mvn -q -B -f "$root/pom.xml" install -DskipTests >&2   # also builds agent/target/zaro.jar, which the agents run
mvn -q -B -f "$root/pom.xml" -pl tests dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null

start=$SECONDS
java -cp "$root/tests/target/classes:$(cat "$cp_file")" io.zaro.tests.bench.MirrorBenchmark "$@"
echo "Benchmark JVM ran $((SECONDS - start)) s (build excluded)." >&2
