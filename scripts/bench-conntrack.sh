#!/usr/bin/env bash
# Benchmarks zaro's conntrack bindings against conntrack-tools (dump, insert, events) in a
# fresh network namespace and prints a Markdown table. See ConntrackBenchmark's javadoc.
#
# Usage: sudo scripts/bench-conntrack.sh [ENTRIES]    (default 100000)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-conntrack.sh must run as root (it creates a network namespace)" >&2
  exit 1
fi
for tool in ip conntrack java mvn; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cp_file=$(mktemp)
trap 'rm -f "$cp_file"' EXIT

echo "Building..." >&2
mvn -q -B -f "$root/pom.xml" install -DskipTests >&2
mvn -q -B -f "$root/pom.xml" -pl tests dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null

start=$SECONDS
java -cp "$root/tests/target/classes:$(cat "$cp_file")" io.zaro.tests.bench.ConntrackBenchmark "$@"
echo "Benchmark JVM ran $((SECONDS - start)) s (build excluded)." >&2
