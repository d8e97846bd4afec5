#!/usr/bin/env bash
# The mirroring walk-through: connection mirroring from fw1 to fw2 through the project's own Kafka broker.
#
#   client -- fw1 -- server        traffic (IPv4 source-NATed by fw1, IPv6 routed)
#             fw1, fw2, kafka      on a sync bridge: zaro agent on fw1 (active) and fw2 (standby)
#
# Builds zaro, starts the broker in its namespace, starts both agents, runs TCP, UDP and ping
# through fw1, and shows fw1's and fw2's kernel tables side by side, a record read with kcat and
# decoded with protoc, and the flows leaving fw2 when they end on fw1. Everything runs in
# namespaces named zaro-demo-*, removed at exit (Ctrl-C too), with the broker and agents.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"

echo "demo: building zaro (mvn package)..."
mvn -B -q -ntp -f "$root/pom.xml" package -DskipTests

c=zaro-demo-client; f1=zaro-demo-fw1; f2=zaro-demo-fw2; s=zaro-demo-server; k=zaro-demo-kafka; sw=zaro-demo-sync
all="$c $f1 $f2 $s $k $sw"
broker=10.77.9.10
work=""
pids=()      # traffic
agents=()
stop() { for p in "$@"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
         for p in "$@"; do wait "$p" 2>/dev/null || true; done; }
cleanup() {
  stop "${pids[@]}" "${agents[@]}"
  pids=(); agents=()
  if [[ -n "$work" && -f "$work/kafka/broker.pid" ]]; then
    java -jar "$root/agent/target/zaro.jar" kafka stop --data-dir "$work/kafka" --timeout 20 >/dev/null 2>&1 || true
  fi
  for ns in $all; do
    for _ in 1 2 3 4 5 6; do
      [[ -e /run/netns/$ns ]] || break
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null && break
      sleep 0.5
    done
    if [[ -e /run/netns/$ns ]]; then
      echo "demo: could not remove network namespace $ns: remove it with 'ip netns del $ns'" >&2
    fi
  done
  if [[ -n "$work" ]]; then rm -rf "$work"; work=""; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup   # leftovers of an earlier, killed run
work=$(mktemp -d /tmp/zaro-demo.XXXXXX)

nsx() { ip netns exec "$@"; }
veth() { # veth NS_A IF_A NS_B IF_B
  nsx "$1" ip link add "$2" type veth peer name ztmp && nsx "$1" ip link set ztmp netns "$3" \
    && nsx "$3" ip link set ztmp name "$4" && nsx "$1" ip link set "$2" up && nsx "$3" ip link set "$4" up
}
for ns in $all; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
veth $c eth0 $f1 eth0
veth $f1 eth1 $s eth0
nsx $sw ip link add br0 type bridge; nsx $sw ip link set br0 up
i=0; for ns in $f1 $f2 $k; do veth $sw "p$i" "$ns" sync0; nsx $sw ip link set "p$i" master br0; i=$((i + 1)); done
nsx $c ip addr add 10.77.1.2/24 dev eth0; nsx $c ip -6 addr add fd77:1::2/64 dev eth0 nodad
nsx $c ip route add default via 10.77.1.1; nsx $c ip -6 route add default via fd77:1::1
nsx $f1 ip addr add 10.77.1.1/24 dev eth0; nsx $f1 ip -6 addr add fd77:1::1/64 dev eth0 nodad
nsx $f1 ip addr add 10.77.2.1/24 dev eth1; nsx $f1 ip -6 addr add fd77:2::1/64 dev eth1 nodad
nsx $s ip addr add 10.77.2.2/24 dev eth0; nsx $s ip -6 addr add fd77:2::2/64 dev eth0 nodad
nsx $s ip -6 route add default via fd77:2::1
nsx $f1 ip addr add 10.77.9.1/24 dev sync0; nsx $f2 ip addr add 10.77.9.2/24 dev sync0; nsx $k ip addr add $broker/24 dev sync0
nsx $f1 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
  net.netfilter.nf_conntrack_icmp_timeout=3 net.netfilter.nf_conntrack_icmpv6_timeout=3 \
  net.netfilter.nf_conntrack_udp_timeout=3 net.netfilter.nf_conntrack_udp_timeout_stream=3 \
  net.netfilter.nf_conntrack_tcp_timeout_time_wait=3 net.netfilter.nf_conntrack_tcp_timeout_fin_wait=3 \
  net.netfilter.nf_conntrack_tcp_timeout_close_wait=3 net.netfilter.nf_conntrack_tcp_timeout_last_ack=3 \
  net.netfilter.nf_conntrack_tcp_timeout_close=3
nsx $f1 nft -f - <<'NFT'
table inet demo_fw {
  chain forward { type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "eth0" ct state new accept
  }
}
table ip demo_nat {
  chain post { type nat hook postrouting priority 100; oifname "eth1" snat to 10.77.2.1; }
}
NFT
echo "demo: client (10.77.1.2, fd77:1::2) -- fw1 -- server (10.77.2.2, fd77:2::2); fw1 SNATs IPv4 to 10.77.2.1"
echo "demo: sync bridge: fw1 10.77.9.1, fw2 10.77.9.2, broker $broker"

echo "demo: starting the project's Kafka broker in $k (zaro kafka start)..."
nsx $k java -jar "$root/agent/target/zaro.jar" kafka start --data-dir "$work/kafka" --host $broker --timeout 120

agent() { # agent NS NODE ROLE
  cat > "$work/$2.properties" <<EOF
node.id=$2
role=$3
kafka.bootstrap.servers=$broker:9092
filter.sync.interface=sync0
mirror.refresh.interval.seconds=5
mirror.timeout.grace.seconds=15
control.socket=$work/$2.sock
EOF
  nsx "$1" java -jar "$root/agent/target/zaro.jar" agent --config "$work/$2.properties" --status-interval 5 \
    > "$work/$2.log" 2>&1 &
  agents+=($!)
}
wait_log() { # wait_log FILE TEXT
  for _ in $(seq 1 120); do grep -q "$2" "$1" && return 0; sleep 0.5; done
  echo "demo: '$2' did not appear in $1:" >&2; cat "$1" >&2; exit 1
}
echo "demo: starting zaro agent on fw2 (standby) and fw1 (active)..."
agent $f2 fw2 standby
agent $f1 fw1 active
wait_log "$work/fw2.log" "bootstrap:"
wait_log "$work/fw1.log" "publishing"
echo "demo: agents running"

echo
echo "demo: --- traffic through fw1: TCP over IPv4 and IPv6, UDP, ping ---"
nsx $s socat TCP4-LISTEN:8080,fork,reuseaddr PIPE & pids+=($!)
nsx $s socat TCP6-LISTEN:8081,fork,reuseaddr,ipv6only=1 PIPE & pids+=($!)
nsx $s socat UDP4-LISTEN:5353,reuseaddr PIPE & pids+=($!)
sleep 0.5
talk() { nsx $c sh -c "while :; do echo hello; sleep 0.5; done | socat - $1 >/dev/null" & pids+=($!); }
talk TCP4:10.77.2.2:8080
talk TCP6:[fd77:2::2]:8081
talk UDP4:10.77.2.2:5353
nsx $c ping -q -i 0.5 10.77.2.2 >/dev/null & pids+=($!)
sleep 3

# The client's flows as conntrack -L prints them, without the timeout (it differs by design: the
# standby adds a grace) and the use count.
flows() { nsx "$1" conntrack -L 2>/dev/null | grep -E "src=(10\.77\.1\.2|fd77:1::2) " \
  | sed -E 's/^(\S+\s+\S+)\s+[0-9]+/\1/; s/ use=[0-9]+//' | sort || true; }
echo
echo "demo: --- fw1's kernel table (conntrack -L, timeouts left out) ---"
flows $f1
echo
echo "demo: --- fw2's kernel table: the same flows, injected by zaro ---"
flows $f2
if diff <(flows $f1) <(flows $f2) >/dev/null; then
  echo "demo: fw2 holds exactly fw1's flows (tuples, NAT reply tuple, state)"
else
  echo "demo: fw1 and fw2 differ right now (a change in flight); diff:"; diff <(flows $f1) <(flows $f2) || true
fi

echo
echo "demo: --- one record of the audit topic, read with kcat and decoded with protoc ---"
nsx $k kcat -b $broker:9092 -C -t zaro.events -o -1 -c 1 -e -q -f '%s' > "$work/record.bin"
protoc --decode zaro.v1.FlowRecord -I "$root/kafka/src/main/protobuf" \
  "$root/kafka/src/main/protobuf/zaro/v1/record.proto" < "$work/record.bin"

echo
echo "demo: --- the traffic stops; the flows expire on fw1 (3 s timeouts) and leave fw2 ---"
ip netns pids $c | xargs -r kill 2>/dev/null || true   # every process of the client and server
ip netns pids $s | xargs -r kill 2>/dev/null || true
stop "${pids[@]}" 2>/dev/null
pids=()
for _ in $(seq 1 40); do
  [[ -z "$(flows $f1)$(flows $f2)" ]] && break
  sleep 0.5
done
echo "demo: client flows left on fw1: $(flows $f1 | grep -c . || true); on fw2: $(flows $f2 | grep -c . || true)"
echo
echo "demo: --- the agents stop (SIGTERM); their counters ---"
stop "${agents[@]}"
agents=()
for _ in $(seq 1 60); do pgrep -f "agent --config $work" >/dev/null || break; sleep 0.5; done
grep -E "stopped;" "$work/fw1.log" | tail -1 | sed 's/^/fw1 /' || true
grep -E "stopped;" "$work/fw2.log" | tail -1 | sed 's/^/fw2 /' || true
echo
echo "demo: done; stopping the broker and removing the namespaces."
