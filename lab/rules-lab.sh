#!/usr/bin/env bash
# Rules lab: paste `userlb rules` output into a kernel and check that the kernel balances as configured.
#   lab/rules-lab.sh [--nft] [-n N] [--keep]     (as root; USERLB_LAB_PREFIX=xy picks namespace names, default "op")
# Topology (namespaces made here, removed on exit):
#   ${P}rc (client 192.168.101.1) -- ${P}rlb (kernel LB: 192.168.101.254 + VIP .250 | 192.168.1.1 on a bridge) -- ${P}rb0..2 (192.168.1.10-12)
# The LB namespace gets only what `userlb rules` prints (iptables-restore input, or nft -f with --nft) plus IP
# forwarding. Farm: NAT mode, protocol all, ports 80 (HTTP) and 9000 (UDP), weights 1:2:3. For iptables the kernel's
# own listing (iptables -n -L) must equal `userlb rules`' listing. Then N HTTP requests and N UDP exchanges from the
# client; each backend's share must be within 4 standard deviations of w_i/W, and backends must see the VIP as source.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${USERLB_LAB_PREFIX:-op}; USE_NFT=0; N=1000; KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nft) USE_NFT=1;; -n) N=$2; shift;; --keep) KEEP=1;;
    *) echo "usage: $0 [--nft] [-n N] [--keep]" >&2; exit 2;;
  esac; shift
done
need() { command -v "$1" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need iptables iptables; need nft nftables; need python3 python3
USERLB=${USERLB:-src/UserLB.Cli/bin/Release/net10.0/userlb}
[ -x "$USERLB" ] || dotnet build src/UserLB.Cli -c Release -clp:ErrorsOnly >/dev/null
mkdir -p /run/lock; exec 9>"/run/lock/userlb-rules-lab-$P.lock"; flock 9
NS="${P}rc ${P}rlb ${P}rb0 ${P}rb1 ${P}rb2"
TMP=$(mktemp -d /tmp/userlb-rules-lab.XXXXXX)
PIDS=()
down() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ "$KEEP" = 1 ] || { for n in $NS; do ip netns del "$n" 2>/dev/null || true; done; rm -rf "$TMP"; }
}
trap down EXIT
for n in $NS; do ip netns del "$n" 2>/dev/null || true; ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add ${P}rc0 netns ${P}rc type veth peer name lbc netns ${P}rlb
ip -n ${P}rc addr add 192.168.101.1/24 dev ${P}rc0; ip -n ${P}rc link set ${P}rc0 up
ip -n ${P}rc route add 192.168.1.0/24 via 192.168.101.254
ip -n ${P}rlb addr add 192.168.101.254/24 dev lbc; ip -n ${P}rlb addr add 192.168.101.250/24 dev lbc; ip -n ${P}rlb link set lbc up
ip -n ${P}rlb link add br0 type bridge; ip -n ${P}rlb link set br0 up; ip -n ${P}rlb addr add 192.168.1.1/24 dev br0
for i in 0 1 2; do
  ip link add lbb$i netns ${P}rlb type veth peer name eth0 netns ${P}rb$i
  ip -n ${P}rlb link set lbb$i master br0 up
  ip -n ${P}rb$i addr add 192.168.1.1$i/24 dev eth0; ip -n ${P}rb$i link set eth0 up
  ip -n ${P}rb$i route add default via 192.168.1.1
  ip netns exec ${P}rb$i python3 lab/server.py bck$i 80 9000 "$TMP/bck$i.log" & PIDS+=($!)
done
ip netns exec ${P}rlb sysctl -qw net.ipv4.ip_forward=1
cat > "$TMP/farms.json" <<'JSON'
{"farms": [{"name": "lab", "virtual-addr": "192.168.101.250", "virtual-ports": "80,9000", "protocol": "all",
  "mode": "snat", "scheduler": "weight",
  "backends": [{"name": "bck0", "ip-addr": "192.168.1.10", "weight": "1"},
               {"name": "bck1", "ip-addr": "192.168.1.11", "weight": "2"},
               {"name": "bck2", "ip-addr": "192.168.1.12", "weight": "3"}]}]}
JSON
if [ "$USE_NFT" = 1 ]; then
  "$USERLB" rules --config "$TMP/farms.json" --nft > "$TMP/rules.nft"
  ip netns exec ${P}rlb nft -f "$TMP/rules.nft"
  echo "== nftables ruleset from userlb rules --nft loaded"
else
  "$USERLB" rules --config "$TMP/farms.json" --format save > "$TMP/rules.save"
  ip netns exec ${P}rlb iptables-restore --noflush < "$TMP/rules.save"
  "$USERLB" rules --config "$TMP/farms.json" --family ipv4 > "$TMP/ours.txt"
  L="ip netns exec ${P}rlb iptables"
  { echo "# iptables -t mangle -n -L PREROUTING"; $L -t mangle -n -L PREROUTING
    echo "# iptables -t nat -n -L PREROUTING"; $L -t nat -n -L PREROUTING
    echo "# iptables -t nat -n -L POSTROUTING"; $L -t nat -n -L POSTROUTING; } \
    | sed -E 's/^(\S+ +)0    /\1all  /; s/^(\S+ +)6    /\1tcp  /; s/^(\S+ +)17   /\1udp  /; s/^(\S+ +)132  /\1sctp /' > "$TMP/kernel.txt"
  if diff -u "$TMP/ours.txt" "$TMP/kernel.txt"; then echo "== kernel listing identical to userlb rules' listing"
  else echo "== FAIL: kernel listing differs from userlb rules' listing (above)"; exit 1; fi
fi
for i in 0 1 2; do
  for _ in $(seq 50); do ip netns exec ${P}rb$i python3 -c "import socket; socket.create_connection(('127.0.0.1', 80), 1)" 2>/dev/null && break; sleep 0.1; done
done
set +e
ip netns exec ${P}rc python3 lab/client.py 192.168.101.250 80 9000 "$N" > "$TMP/client.txt"
rc=$?
set -e
cat "$TMP/client.txt"
[ $rc -eq 0 ] || { echo "== FAIL: requests failed"; exit 1; }
python3 - "$TMP/client.txt" "$N" <<'PY'
import math, re, sys
text, n = open(sys.argv[1]).read(), int(sys.argv[2])
weights = {"bck0": 1, "bck1": 2, "bck2": 3}; total = sum(weights.values()); bad = 0
for proto in ("tcp", "udp"):
    counts = {b: 0 for b in weights}
    for m in re.finditer(rf"^\s+{proto}\s+(\d+) x\s+(\S+) saw (\S+)", text, re.M):
        counts[m.group(2)] += int(m.group(1))
        if m.group(3) != "192.168.101.250": print(f"== FAIL: {m.group(2)} saw {m.group(3)}, not the VIP"); bad += 1
    for b, w in weights.items():
        p = w / total; exp = n * p; sd = math.sqrt(n * p * (1 - p)); got = counts[b]
        ok = abs(got - exp) <= 4 * sd
        print(f"== {proto} {b}: {got} of {n} (expected {exp:.0f} ± {4 * sd:.0f}, weight {w}/{total}) {'ok' if ok else 'FAIL'}")
        bad += not ok
sys.exit(1 if bad else 0)
PY
echo "== shares as configured"
