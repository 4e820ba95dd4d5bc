#!/usr/bin/env bash
# Soak: userlb under full load in the lab for a long time, sampling its memory and connection table.
#   perf/soak.sh [--minutes N (10)] [--interval S (10)] [--engine pcap|afpacket] [--max-conns N]
#   USERLB_SOAK_PREFIX=xy perf/soak.sh       namespaces xyc, xylb, ... (default rbs)
# Load, all at once for the whole run, from the client namespace through the VIP (NAT mode):
#   bulk   iperf3 -c VIP -p 5201 (one TCP stream, as fast as it goes; hash farm so control and data hit one backend)
#   churn  perf/churn.py: new TCP connections to VIP:80 back to back (HTTP/1.0 GET, server.py) -> TIME_WAIT entries
#   udp    perf/churn.py --udp: UDP exchanges with VIP:5000 from fresh source ports
# Every S seconds prints: elapsed, userlb RSS (VmRSS, MB), connection table entries,
# frames received / forwarded / dropped, queue drops, new connections, early drops, neighbours.
# Ends with the load generators' totals. Needs root; removes the namespaces on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=10; INTERVAL=10; ENGINE=pcap; MAXCONNS=262144
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --engine) ENGINE=$2; shift ;;
    --max-conns) MAXCONNS=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "soak.sh: must run as root (network namespaces)" >&2; exit 1; }
command -v iperf3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null; }
P=${USERLB_SOAK_PREFIX:-rbs}
mkdir -p /run/lock; exec 9>"/run/lock/userlb-lab-$P.lock"; flock 9 # one lab per prefix at a time, as run-lab.sh
SECONDS_TOTAL=$((MINUTES * 60))
WORK=$(mktemp -d /tmp/userlb-soak.XXXXXX)
source lab/topo.sh
cleanup() { lab_down "$P"; rm -rf "$WORK"; }
trap cleanup EXIT

dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly >/dev/null
USERLB=src/UserLB.Cli/bin/Release/net10.0/userlb.dll
lab_up "$P" veth "$WORK"
for i in 0 1; do ip netns exec "${P}b$i" iperf3 -s -D -p 5201 >/dev/null; done
sleep 0.5
cat >"$WORK/farms.json" <<JSON
{"farms":[
 {"name":"bulk","virtual-addr":"192.168.101.250","virtual-ports":"5201","protocol":"tcp","mode":"snat","scheduler":"hash","sched-param":"srcip","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]},
 {"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"tcp","mode":"snat","scheduler":"weight","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]},
 {"name":"udp","virtual-addr":"192.168.101.250","virtual-ports":"5000","protocol":"udp","mode":"snat","scheduler":"rr","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
JSON
ip netns exec "${P}lb" dotnet "$USERLB" run --config "$WORK/farms.json" --engine "$ENGINE" --api off --max-conns "$MAXCONNS" \
  --status-file "$WORK/status" >"$WORK/userlb.log" 2>&1 &
LB=$!
for _ in $(seq 300); do grep -q "forwarding with" "$WORK/userlb.log" && break; kill -0 $LB 2>/dev/null || { cat "$WORK/userlb.log"; exit 1; }; sleep 0.1; done
echo "# soak: $MINUTES min, engine $ENGINE, max-conns $MAXCONNS, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
C="ip netns exec ${P}c"
$C iperf3 -c 192.168.101.250 -p 5201 -t "$SECONDS_TOTAL" -J >"$WORK/iperf.json" 2>&1 &
BULK=$!
$C python3 perf/churn.py tcp 192.168.101.250 80 "$SECONDS_TOTAL" >"$WORK/churn-tcp.json" 2>&1 &
CHURN=$!
$C python3 perf/churn.py udp 192.168.101.250 5000 "$SECONDS_TOTAL" >"$WORK/churn-udp.json" 2>&1 &
UDP=$!

field() { grep -o "\b$1=[0-9]*" "$WORK/sample" 2>/dev/null | head -1 | cut -d= -f2; }
printf "%6s %8s %9s %10s %10s %8s %8s %9s %8s %7s\n" elapsed rss_mb table rx forwarded dropped qdrops new_conns early nbrs
start=$(date +%s); k=0
while :; do
  k=$((k + 1)); wait_s=$((start + k * INTERVAL - $(date +%s))); [ "$wait_s" -gt 0 ] && sleep "$wait_s"
  now=$(($(date +%s) - start))
  cp "$WORK/status" "$WORK/sample" 2>/dev/null || true # one snapshot per sample: userlb rewrites the file every second
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$LB/status 2>/dev/null || echo "-")
  printf "%6s %8s %9s %10s %10s %8s %8s %9s %8s %7s\n" "$now" "$rss" "$(field active)" "$(field rx)" "$(field forwarded)" \
    "$(field dropped)" "$(field queue_drops)" "$(field connections)" "$(field early_drops)" "$(field neighbours)"
  kill -0 $LB 2>/dev/null || { echo "soak.sh: userlb exited"; cat "$WORK/userlb.log"; exit 1; }
  [ "$now" -ge "$SECONDS_TOTAL" ] && break
done
wait $BULK || true; wait $CHURN || true; wait $UDP || true
kill -TERM $LB; wait $LB || true
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
try:
    j = json.load(open(f"{w}/iperf.json"))
    e = j["end"]
    print(f"# bulk (iperf3): {e['sum_received']['bits_per_second']/1e9:.2f} Gbit/s received over {e['sum_received']['seconds']:.0f} s, "
          f"{e['sum_sent']['retransmits']} retransmits")
except Exception as ex:  # iperf3 failed: show what it said
    print("# bulk (iperf3): failed:", open(f"{w}/iperf.json").read()[-400:].replace("\n", " "), ex)
for kind in ("tcp", "udp"):
    try:
        r = json.load(open(f"{w}/churn-{kind}.json"))
        print(f"# churn {kind}: {r['ok']} ok, {r['fail']} failed in {r['seconds']:.0f} s ({r['ok']/r['seconds']:.0f}/s); first errors: {r['errors'][:3]}")
    except Exception as ex:
        print(f"# churn {kind}: failed:", open(f"{w}/churn-{kind}.json").read()[-400:], ex)
PY
grep -E "stopped:|warn|fail" "$WORK/userlb.log" | sed 's/^/# userlb: /'
