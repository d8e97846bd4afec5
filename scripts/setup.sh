#!/usr/bin/env bash
# Installs the system packages zaro, its tests and its demo need, on Debian (12 or later).
# Idempotent: runs apt-get only when something is missing. Needs root.
#
# Usage: scripts/setup.sh [--bench]
#   --bench  also installs conntrackd, the benchmarks' yardstick (bench-compare.sh, bench-failover.sh), without
#            letting Debian's package start a daemon of its own on this machine.
set -euo pipefail

packages=(
  libnetfilter-conntrack3   # the library zaro's bindings load
  conntrack                 # conntrack-tools: the independent witness in tests and benchmarks
  nftables                  # firewall rules in the test namespaces
  iproute2                  # ip netns, veth, bridges, ss
  iputils-ping              # ICMP traffic
  socat                     # TCP and UDP traffic
  procps                    # sysctl
  util-linux                # setpriv, unshare: the unprivileged-user and missing-library tests
  debootstrap               # a Debian 12 root the package test installs the .deb into
  systemd-container         # systemd-nspawn: the package test boots that root and runs the unit
  protobuf-compiler         # protoc: decodes zaro records outside Java in the tests
  kcat                      # an independent Kafka client: reads zaro's topics in the tests
  iputils-arping            # gratuitous ARP when a node takes over the VIPs
  keepalived                # a VRRP peer no one here wrote, in the interoperability tests and the failover benchmark
  ansible                   # the Ansible roll-out's test: ansible-playbook, with community.general's chroot connection,
  ansible-lint              #   its linter,
  iptables                  #   and iptables-restore for the role's iptables rules
  fontconfig                # the demo's PNG timeline: Java draws its text with
  fonts-dejavu-core         #   a font fontconfig finds
)

bench=false
if [[ ${1:-} == --bench ]]; then
  bench=true
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: run as root (it installs packages with apt-get and the tests create network namespaces)" >&2
  exit 1
fi
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null; then
    echo "setup: '$tool' is missing: install a JDK 17 and Maven first (apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
  fi
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if $bench && ! dpkg-query -W -f='${Status}' conntrackd 2>/dev/null | grep -q "install ok installed"; then
  echo "setup: installing conntrackd (its own service neither started nor enabled)"
  apt-get update -qq
  # A policy-rc.d that says 101 stops the package's scripts from starting the daemon (invoke-rc.d(8)).
  policy=/usr/sbin/policy-rc.d
  had_policy=false
  [[ -e $policy ]] && had_policy=true
  $had_policy || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends conntrackd >/dev/null || {
    $had_policy || rm -f "$policy"
    exit 1
  }
  $had_policy || rm -f "$policy"
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now conntrackd >/dev/null 2>&1 || true
  fi
fi
echo "setup: system packages present"
