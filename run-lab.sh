#!/usr/bin/env bash
# UserLB's main job: a real lab in network namespaces, traffic through UserLB in NAT and DTA mode, results printed.
#   ./run-lab.sh [--keep] [--engine pcap|afpacket] [-n N]     run both modes (--keep leaves the lab up afterwards)
#   ./run-lab.sh down                                          remove the lab
#   USERLB_LAB_PREFIX=xy ./run-lab.sh                           namespaces xyc, xylb, ... instead of ulc, ullb, ...
# Topology (namespaces made here; nothing else is touched):
#   ulc (client 192.168.101.1) --veth-- ullb [lbc | lbs] --veth-- ulsw (bridge) --veth-- ulb0 (192.168.1.10), ulb1 (192.168.1.11)
#   The LB namespace keeps 192.168.101.254 on lbc and 192.168.1.1 (the backends' gateway) on lbs, IP forwarding off,
#   and no VIP: userlb owns lbc/lbs, answers ARP for the VIP 192.168.101.250 and forwards.
set -euo pipefail
cd "$(dirname "$0")"
P=${USERLB_LAB_PREFIX:-ul}; ENGINE=pcap; KEEP=0; N=20; CMD=run
while [ $# -gt 0 ]; do
  case "$1" in
    down) CMD=down ;;
    --keep) KEEP=1 ;;
    --engine) ENGINE=$2; shift ;;
    -n) N=$2; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-lab.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "run-lab.sh: must run as root (network namespaces)" >&2; exit 1; }
# One lab per prefix at a time (USERLB_LAB_PREFIX picks another set of namespace names): wait for a running one.
mkdir -p /run/lock; exec 9>"/run/lock/userlb-lab-$P.lock"; flock 9
NS="${P}c ${P}lb ${P}sw ${P}b0 ${P}b1"
WORK=$(mktemp -d /tmp/userlb-lab.XXXXXX)
USERLB_PID=""

down() {
  [ -n "$USERLB_PID" ] && kill "$USERLB_PID" 2>/dev/null && wait "$USERLB_PID" 2>/dev/null || true
  for n in $NS; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
}
if [ "$CMD" = down ]; then down; rm -rf "$WORK"; echo "lab removed"; exit 0; fi

install_deps() {
  local need=()
  command -v ip >/dev/null || need+=(iproute2)
  command -v ethtool >/dev/null || need+=(ethtool)
  command -v python3 >/dev/null || need+=(python3)
  ls /usr/lib/*/libpcap.so* >/dev/null 2>&1 || need+=(libpcap0.8)
  if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || { echo "run-lab.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
}

offloads_off() { ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true; }

up() {
  down
  for n in $NS; do ip netns add "$n"; ip -n "$n" link set lo up; done
  ip link add c0 netns ${P}c type veth peer name lbc netns ${P}lb
  ip link add lbs netns ${P}lb type veth peer name swlb netns ${P}sw
  ip -n ${P}sw link add br0 type bridge; ip -n ${P}sw link set br0 up
  ip -n ${P}sw link set swlb master br0 up
  ip -n ${P}c addr add 192.168.101.1/24 dev c0; ip -n ${P}c link set c0 up
  ip -n ${P}lb addr add 192.168.101.254/24 dev lbc; ip -n ${P}lb link set lbc up
  ip -n ${P}lb addr add 192.168.1.1/24 dev lbs; ip -n ${P}lb link set lbs up
  ip netns exec ${P}lb sysctl -qw net.ipv4.ip_forward=0
  for i in 0 1; do
    ip link add sw$i netns ${P}sw type veth peer name eth0 netns ${P}b$i
    ip -n ${P}sw link set sw$i master br0 up
    ip -n ${P}b$i addr add 192.168.1.1$i/24 dev eth0; ip -n ${P}b$i link set eth0 up
    ip -n ${P}b$i route add default via 192.168.1.1
    offloads_off ${P}b$i eth0; offloads_off ${P}sw sw$i
  done
  offloads_off ${P}c c0; offloads_off ${P}lb lbc; offloads_off ${P}lb lbs; offloads_off ${P}sw swlb
  for i in 0 1; do
    ip netns exec ${P}b$i python3 lab/server.py bck$i 80 5000 "$WORK/b$i.log" >/dev/null 2>&1 &
  done
}

farms() { # $1 = snat|dnat
  cat <<JSON
{"farms":[
 {"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"tcp","mode":"$1","scheduler":"weight","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10","weight":"1"},{"name":"bck1","ip-addr":"192.168.1.11","weight":"1"}]},
 {"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"5000","protocol":"udp","mode":"$1","scheduler":"rr","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
JSON
}

trap 'down; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
install_deps
echo "== building UserLB"
dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly -v q >/dev/null
USERLB="dotnet $(pwd)/src/UserLB.Cli/bin/Release/net10.0/userlb.dll"
up
failed=0
for mode in snat dnat; do
  label=$([ $mode = snat ] && echo "NAT mode (snat)" || echo "DTA mode (dnat)")
  echo "== $label, engine $ENGINE"
  farms $mode > "$WORK/farms-$mode.json"
  : > "$WORK/b0.log"; : > "$WORK/b1.log"
  ip netns exec ${P}lb $USERLB run --config "$WORK/farms-$mode.json" --engine "$ENGINE" --status-file "$WORK/status" >"$WORK/userlb-$mode.log" 2>&1 &
  USERLB_PID=$!
  for _ in $(seq 50); do grep -q "forwarding with" "$WORK/userlb-$mode.log" 2>/dev/null && break; sleep 0.2; done
  if ! ip netns exec ${P}c python3 lab/client.py 192.168.101.250 80 5000 "$N"; then failed=1; fi
  for i in 0 1; do
    echo "  backend bck$i saw clients: $(sort "$WORK/b$i.log" | uniq -c | awk '{printf "%s %s x%s  ", $2, $3, $1}')"
  done
  sleep 1.2
  echo "  connection table sample (conntrack -L format):"
  grep -v '^#' "$WORK/status" 2>/dev/null | head -4 | sed 's/^/    /'
  grep '^#' "$WORK/status" 2>/dev/null | sed 's/^# /  /'
  kill "$USERLB_PID"; wait "$USERLB_PID" 2>/dev/null || true; USERLB_PID=""
  tail -1 "$WORK/userlb-$mode.log" | sed 's/^/  userlb: /'
done
if [ "$KEEP" = 1 ]; then trap - EXIT; echo "== lab kept up (namespaces: $NS); remove with ./run-lab.sh down"; fi
if [ $failed = 0 ]; then echo "== all requests succeeded in both modes"; else echo "== some requests FAILED"; fi
exit $failed
