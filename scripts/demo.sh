#!/usr/bin/env bash
# A short live demo: `zaro conntrack watch` on a firewall namespace while a client pings,
# opens a TCP connection and sends UDP through it to a server; IPv4 is source-NATed.
# Builds zaro first. Everything runs in namespaces named zaro-demo-*, removed at exit (Ctrl-C too).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"

echo "demo: building zaro (mvn package)..."
mvn -B -q -ntp -f "$root/pom.xml" package -DskipTests

c=zaro-demo-client; f=zaro-demo-fw; s=zaro-demo-server
watch_pid=""
cleanup() {
  if [[ -n "$watch_pid" ]]; then
    kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
    watch_pid=""
  fi
  for ns in $c $f $s; do
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
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup   # leftovers of an earlier, killed run

nsx() { ip netns exec "$@"; }
for ns in $c $f $s; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
nsx $c ip link add eth0 type veth peer name tmp0 && nsx $c ip link set tmp0 netns $f && nsx $f ip link set tmp0 name eth0
nsx $f ip link add eth1 type veth peer name tmp1 && nsx $f ip link set tmp1 netns $s && nsx $s ip link set tmp1 name eth0
for ns in $c $f $s; do nsx "$ns" ip link set eth0 up; done; nsx $f ip link set eth1 up
nsx $c ip addr add 10.77.1.2/24 dev eth0; nsx $c ip -6 addr add fd77:1::2/64 dev eth0 nodad
nsx $c ip route add default via 10.77.1.1; nsx $c ip -6 route add default via fd77:1::1
nsx $f ip addr add 10.77.1.1/24 dev eth0; nsx $f ip -6 addr add fd77:1::1/64 dev eth0 nodad
nsx $f ip addr add 10.77.2.1/24 dev eth1; nsx $f ip -6 addr add fd77:2::1/64 dev eth1 nodad
nsx $s ip addr add 10.77.2.2/24 dev eth0; nsx $s ip -6 addr add fd77:2::2/64 dev eth0 nodad
nsx $s ip -6 route add default via fd77:2::1
nsx $f sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
  net.netfilter.nf_conntrack_icmp_timeout=3 net.netfilter.nf_conntrack_icmpv6_timeout=3 \
  net.netfilter.nf_conntrack_udp_timeout=3 net.netfilter.nf_conntrack_tcp_timeout_time_wait=3
nsx $f nft -f - <<'NFT'
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

echo "demo: topology client (10.77.1.2, fd77:1::2) -- fw -- server (10.77.2.2, fd77:2::2); fw SNATs IPv4 to 10.77.2.1"
echo "demo: zaro conntrack watch --netns $f"
"$root/zaro" conntrack watch --netns $f --duration 14 &
watch_pid=$!
sleep 3

step() { echo; echo "demo: --- $* ---"; }
step "ping over IPv4 and IPv6"
nsx $c ping -c 1 -W 2 10.77.2.2 >/dev/null
nsx $c ping -c 1 -W 2 fd77:2::2 >/dev/null
sleep 1
step "a TCP connection, SYN to close"
nsx $s socat -u TCP4-LISTEN:8080,reuseaddr OPEN:/dev/null & sleep 0.5
echo hello | nsx $c socat -u - TCP4:10.77.2.2:8080
sleep 1
step "a UDP question and answer"
nsx $s socat -T 3 UDP4-RECVFROM:5353 'SYSTEM:echo pong' & sleep 0.5
echo ping | nsx $c socat -T 3 - UDP4:10.77.2.2:5353 >/dev/null
sleep 1
step "the table now (zaro conntrack list --netns $f)"
"$root/zaro" conntrack list --netns $f
step "the flows expire (fw has 3 s timeouts): DESTROY events"
sleep 4
nsx $f conntrack -L >/dev/null 2>&1 || true   # a dump reaps expired entries at once
wait "$watch_pid" || true
watch_pid=""
echo
echo "demo: done; namespaces removed."
