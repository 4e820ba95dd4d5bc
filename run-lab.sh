#!/usr/bin/env bash
# UserLB's main job: a real lab in network namespaces, traffic through UserLB in NAT and DTA mode, results printed.
#   ./run-lab.sh [--keep] [--engine afpacket|pcap|tap] [--offloads on|off] [--ipv6] [-n N] [--workers W] [--busy-poll USEC]
#                                                                  run both modes (--keep leaves the lab up afterwards)
#   ./run-lab.sh down                                              remove the lab
#   ./run-lab.sh --instances N [--modes "dsr nat kernel"] [...]   the scale-out tier: N instances behind ECMP and BGP,
#                                                                  one killed with SIGKILL mid-transfer (lab/scale-out.sh)
#   USERLB_LAB_PREFIX=xy ./run-lab.sh                               namespaces xyc, xylb, ... instead of ulc, ullb, ...
# --engine: default afpacket. --offloads (default on; $LAB_OFFLOADS if set): on leaves every veth as created (partial
#   checksums, TSO/GSO super-frames: userlb handles them with virtio-net headers), off turns veth offloads off with
#   ethtool (which only that setting needs; see lab/topo.sh). --ipv6 (afpacket, pcap): the same lab and farms in IPv6
#   (client fd00:101::1, VIP fd00:101::250, backends fd00:1::10 and ::11; userlb answers NDP for the VIP).
# Topology (namespaces made here by lab/topo.sh; nothing else is touched):
#   ulc (client 192.168.101.1) --veth-- ullb [lbc | lbs] --veth-- ulsw (bridge) --veth-- ulb0 (192.168.1.10), ulb1 (192.168.1.11)
#   pcap/afpacket: the LB namespace keeps 192.168.101.254 on lbc and 192.168.1.1 (the backends' gateway) on lbs, IP
#   forwarding off, and no VIP: userlb owns lbc/lbs, answers ARP for the VIP 192.168.101.250 and forwards.
#   tap: the LB namespace's kernel routes (forwarding on): the VIP and everything from the backends go into the TAP
#   device lbt, where userlb answers ARP for the VIP and writes the translated frames back (see lab/topo.sh).
set -euo pipefail
cd "$(dirname "$0")"
P=${USERLB_LAB_PREFIX:-ul}; INSTANCES=""; ENGINE=afpacket; OFFLOADS=${LAB_OFFLOADS:-on}; IPV6=""; KEEP=0; N=20; CMD=run; WORKERS=1; EXTRA=()
# --instances N: the tier (every other argument goes to lab/scale-out.sh; its own --help lists them).
for a in "$@"; do [ "$a" = --instances ] && INSTANCES=yes; done
while [ -z "$INSTANCES" ] && [ $# -gt 0 ]; do
  case "$1" in
    down) CMD=down ;;
    --keep) KEEP=1 ;;
    --engine) ENGINE=$2; shift ;;
    --offloads) OFFLOADS=$2; shift ;;
    --ipv6) IPV6=ipv6 ;;
    -n) N=$2; shift ;;
    --workers) WORKERS=$2; shift ;;
    --busy-poll) EXTRA+=(--busy-poll "$2"); shift ;; # afpacket: one receive thread polling the rings up to USEC
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run-lab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$ENGINE" in pcap|afpacket|tap) ;; *) echo "run-lab.sh: --engine must be pcap, afpacket or tap, not $ENGINE" >&2; exit 2 ;; esac
case "$OFFLOADS" in on|off) ;; *) echo "run-lab.sh: --offloads must be on or off, not $OFFLOADS" >&2; exit 2 ;; esac
[ -z "$IPV6" ] || [ "$ENGINE" != tap ] || { echo "run-lab.sh: --ipv6 needs --engine afpacket or pcap (the TAP topology routes IPv4 only)" >&2; exit 2; }
# The addresses of the run: IPv4, or IPv6 with --ipv6.
if [ -n "$IPV6" ]; then FAMILY=ipv6; VIP=fd00:101::250; BCK0=fd00:1::10; BCK1=fd00:1::11; else FAMILY=ipv4; VIP=192.168.101.250; BCK0=192.168.1.10; BCK1=192.168.1.11; fi
[ "$(id -u)" = 0 ] || { echo "run-lab.sh: must run as root (network namespaces)" >&2; exit 1; }
# One lab per prefix at a time (USERLB_LAB_PREFIX picks another set of namespace names): wait for a running one.
mkdir -p /run/lock; exec 9>"/run/lock/userlb-lab-$P.lock"; flock 9
NS="${P}c ${P}lb ${P}sw ${P}b0 ${P}b1"
WORK=$(mktemp -d /tmp/userlb-lab.XXXXXX)
USERLB_PID=""

source lab/topo.sh
down() {
  [ -n "$USERLB_PID" ] && kill "$USERLB_PID" 2>/dev/null && wait "$USERLB_PID" 2>/dev/null || true
  lab_down "$P"
}
if [ "$CMD" = down ]; then down; rm -rf "$WORK"; echo "lab removed"; exit 0; fi

install_deps() {
  local need=()
  command -v ip >/dev/null || need+=(iproute2)
  [ "$OFFLOADS" = on ] || command -v ethtool >/dev/null || need+=(ethtool) # only to turn veth offloads off
  command -v python3 >/dev/null || need+=(python3)
  ls /usr/lib/*/libpcap.so* >/dev/null 2>&1 || need+=(libpcap0.8)
  if [ -n "$INSTANCES" ]; then # the tier: BGP daemons (router and speakers), backends' web server, downloads, kernel DSR
    command -v bird >/dev/null || need+=(bird2)
    command -v nginx >/dev/null || need+=(nginx-light)
    command -v curl >/dev/null || need+=(curl)
    command -v nft >/dev/null || need+=(nftables)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || { echo "run-lab.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
}

farms() { # $1 = snat|dnat
  local ifaces='"iface":"lbc","oface":"lbs"'
  [ "$ENGINE" = tap ] && ifaces='"iface":"lbt","oface":"lbt"'
  cat <<JSON
{"farms":[
 {"name":"web","family":"$FAMILY","virtual-addr":"$VIP","virtual-ports":"80","protocol":"tcp","mode":"$1","scheduler":"weight",$ifaces,
  "backends":[{"name":"bck0","ip-addr":"$BCK0","weight":"1"},{"name":"bck1","ip-addr":"$BCK1","weight":"1"}]},
 {"name":"dns","family":"$FAMILY","virtual-addr":"$VIP","virtual-ports":"5000","protocol":"udp","mode":"$1","scheduler":"rr",$ifaces,
  "backends":[{"name":"bck0","ip-addr":"$BCK0"},{"name":"bck1","ip-addr":"$BCK1"}]}]}
JSON
}

if [ -n "$INSTANCES" ]; then install_deps; rm -rf "$WORK"; exec lab/scale-out.sh "$@"; fi
trap 'down; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
install_deps
echo "== building UserLB"
dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly -v q >/dev/null
USERLB="dotnet $(pwd)/src/UserLB.Cli/bin/Release/net10.0/userlb.dll"
lab_up "$P" "$([ "$ENGINE" = tap ] && echo tap || echo veth)" "$WORK" "$OFFLOADS" "$IPV6"
failed=0
for mode in snat dnat; do
  label=$([ $mode = snat ] && echo "NAT mode (snat)" || echo "DTA mode (dnat)")
  echo "== $label, engine $ENGINE, offloads $OFFLOADS${IPV6:+, IPv6}"
  farms $mode > "$WORK/farms-$mode.json"
  : > "$WORK/b0.log"; : > "$WORK/b1.log"
  ip netns exec ${P}lb $USERLB run --config "$WORK/farms-$mode.json" --engine "$ENGINE" --workers "$WORKERS" ${EXTRA[@]+"${EXTRA[@]}"} --status-file "$WORK/status" >"$WORK/userlb-$mode.log" 2>&1 &
  USERLB_PID=$!
  for _ in $(seq 50); do grep -q "forwarding with" "$WORK/userlb-$mode.log" 2>/dev/null && break; sleep 0.2; done
  if ! ip netns exec ${P}c python3 lab/client.py "$VIP" 80 5000 "$N"; then failed=1; fi
  for i in 0 1; do
    echo "  backend bck$i saw clients: $(sort "$WORK/b$i.log" | uniq -c | awk '{printf "%s %s x%s  ", $2, $3, $1}')"
  done
  sleep 1.2
  echo "  connection table sample (conntrack -L format):"
  # (|| true: with no connection, grep finds nothing and pipefail would end the script before the other mode)
  grep -v '^#' "$WORK/status" 2>/dev/null | head -4 | sed 's/^/    /' || true
  grep '^#' "$WORK/status" 2>/dev/null | sed 's/^# /  /' || true
  kill "$USERLB_PID"; wait "$USERLB_PID" 2>/dev/null || true; USERLB_PID=""
  tail -1 "$WORK/userlb-$mode.log" | sed 's/^/  userlb: /'
done
if [ "$KEEP" = 1 ]; then trap - EXIT; echo "== lab kept up (namespaces: $NS); remove with ./run-lab.sh down"; fi
if [ $failed = 0 ]; then echo "== all requests succeeded in both modes (engine $ENGINE, offloads $OFFLOADS${IPV6:+, IPv6})"; else echo "== some requests FAILED (engine $ENGINE, offloads $OFFLOADS${IPV6:+, IPv6})"; fi
exit $failed
