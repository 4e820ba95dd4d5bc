#!/usr/bin/env bash
# The lab topology in network namespaces, shared by ./run-lab.sh (which sources it) and the lab tests:
#   lab/topo.sh up PREFIX veth|tap WORKDIR [on|off] [ipv6]   build it and start lab/server.py on each backend (logs in WORKDIR)
#   lab/topo.sh down PREFIX                           remove it (and every process in its namespaces)
# Offloads (the 4th argument of `up` and of lab_up; without it $LAB_OFFLOADS, default on):
#   on   every veth as `ip link add … type veth` makes it: tx checksum offload (frames leave with a partial checksum),
#        TSO/GSO (TCP super-frames up to 64 KB); userlb reads and writes them with virtio-net headers
#   off  `ethtool -K DEV tx off rx off tso off gso off gro off` on every veth (full checksums, frames of at most the
#        MTU: what the lab did before userlb handled offloads); needs ethtool
# veth: PREFIXc (client 192.168.101.1) --veth-- PREFIXlb [lbc | lbs] --veth-- PREFIXsw (bridge) -- PREFIXb0 .10, PREFIXb1 .11
#   The LB namespace keeps 192.168.101.254 on lbc, 192.168.1.1 (the backends' gateway) on lbs, IP forwarding off and
#   no VIP: userlb owns lbc and lbs (pcap/afpacket), answers ARP for the VIP 192.168.101.250 and forwards.
# ipv6 (veth only): the same again in IPv6 beside it: client fd00:101::1, lbc fd00:101::254, lbs fd00:1::1 (the
#   backends' gateway), backends fd00:1::10, ::11, the VIP fd00:101::250 on no kernel interface (userlb answers NDP for
#   it), IPv6 forwarding off in the LB namespace; the backends' servers answer on IPv6 too.
# tap: the same namespaces, but the LB namespace's kernel routes and userlb sits on a TAP device lbt (persistent, made
#   here; userlb attaches with TUNSETIFF): IP forwarding on, the VIP routed into lbt (proxy ARP on lbc answers the
#   client for it), everything arriving from the backends (lbs) policy-routed into lbt via the VIP (so DTA replies
#   reach userlb too), proxy ARP on lbt so userlb's ARP for clients and backends is answered by the kernel.
lab_ns() { echo "${1}c ${1}lb ${1}sw ${1}b0 ${1}b1"; }

lab_down() {
  local n p
  for n in $(lab_ns "$1"); do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
}

lab_offloads_off() {
  command -v ethtool >/dev/null || { echo "lab: ethtool is missing: veth offloads stay on (partial checksums); apt-get install ethtool" >&2; return 1; }
  ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

lab_up() { # PREFIX veth|tap WORKDIR [on|off] [ipv6]
  local P=$1 kind=$2 work=$3 offloads=${4:-${LAB_OFFLOADS:-on}} ipv6=${5:-} n i
  case "$offloads" in
    on|off) ;;
    *) echo "lab: offloads must be on or off, not '$offloads'" >&2; return 2 ;;
  esac
  if [ "$offloads" = off ]; then
    command -v ethtool >/dev/null || { echo "lab: offloads off needs ethtool (apt-get install ethtool)" >&2; return 1; }
  fi
  lab_down "$P"
  for n in $(lab_ns "$P"); do ip netns add "$n"; ip -n "$n" link set lo up; done
  ip link add c0 netns "${P}c" type veth peer name lbc netns "${P}lb"
  ip link add lbs netns "${P}lb" type veth peer name swlb netns "${P}sw"
  ip -n "${P}sw" link add br0 type bridge; ip -n "${P}sw" link set br0 up
  ip -n "${P}sw" link set swlb master br0 up
  ip -n "${P}c" addr add 192.168.101.1/24 dev c0; ip -n "${P}c" link set c0 up
  ip -n "${P}lb" addr add 192.168.101.254/24 dev lbc; ip -n "${P}lb" link set lbc up
  ip -n "${P}lb" addr add 192.168.1.1/24 dev lbs; ip -n "${P}lb" link set lbs up
  for i in 0 1; do
    ip link add "sw$i" netns "${P}sw" type veth peer name eth0 netns "${P}b$i"
    ip -n "${P}sw" link set "sw$i" master br0 up
    ip -n "${P}b$i" addr add "192.168.1.1$i/24" dev eth0; ip -n "${P}b$i" link set eth0 up
    ip -n "${P}b$i" route add default via 192.168.1.1
    [ "$offloads" = on ] || { lab_offloads_off "${P}b$i" eth0; lab_offloads_off "${P}sw" "sw$i"; }
  done
  [ "$offloads" = on ] || { lab_offloads_off "${P}c" c0; lab_offloads_off "${P}lb" lbc; lab_offloads_off "${P}lb" lbs; lab_offloads_off "${P}sw" swlb; }
  local L="ip netns exec ${P}lb"
  if [ "$kind" = tap ]; then
    ip -n "${P}lb" tuntap add dev lbt mode tap
    ip -n "${P}lb" link set lbt up
    $L sysctl -qw net.ipv4.ip_forward=1
    for n in all default lbc lbs lbt; do $L sysctl -qw "net.ipv4.conf.$n.rp_filter=0"; done
    for n in lbc lbt; do
      $L sysctl -qw "net.ipv4.conf.$n.proxy_arp=1"
      $L sysctl -qw "net.ipv4.neigh.$n.proxy_delay=0"
    done
    ip -n "${P}lb" route add 192.168.101.250/32 dev lbt
    ip -n "${P}lb" rule add iif lbs lookup 100 pref 100
    ip -n "${P}lb" route add default via 192.168.101.250 dev lbt onlink table 100
  else
    $L sysctl -qw net.ipv4.ip_forward=0
  fi
  if [ "$ipv6" = ipv6 ]; then
    $L sysctl -qw net.ipv6.conf.all.forwarding=0
    # nodad: the addresses are usable at once (no duplicate address detection on a lab's own links).
    ip -n "${P}c" addr add fd00:101::1/64 dev c0 nodad
    ip -n "${P}lb" addr add fd00:101::254/64 dev lbc nodad
    ip -n "${P}lb" addr add fd00:1::1/64 dev lbs nodad
    for i in 0 1; do
      ip -n "${P}b$i" addr add "fd00:1::1$i/64" dev eth0 nodad
      ip -n "${P}b$i" -6 route add default via fd00:1::1
    done
  fi
  for i in 0 1; do
    ip netns exec "${P}b$i" python3 lab/server.py "bck$i" 80 5000 "$work/b$i.log" $ipv6 >/dev/null 2>&1 9>&- &  # (not holding run-lab.sh's lock: a server left behind would block the next run)
  done
  # Wait until both backends listen (the lab tests start probing right away).
  for _ in $(seq 50); do
    ip netns exec "${P}b0" ss -ltn 2>/dev/null | grep -q ':80 ' && ip netns exec "${P}b1" ss -ltn 2>/dev/null | grep -q ':80 ' && break
    sleep 0.1
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  case "${1:-}" in
    up) lab_up "$2" "$3" "$4" "${5:-}" "${6:-}" ;;
    down) lab_down "$2" ;;
    *) sed -n '2,19p' "$0"; exit 2 ;;
  esac
fi
