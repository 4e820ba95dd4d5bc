#!/usr/bin/env bash
# Live forwarding throughput through userlb in the lab topology (lab/topo.sh veth: client -- [lbc | userlb | lbs] -- backend).
#   perf/live-bench.sh [--engine afpacket|pcap] [--offloads on|off] [-t SECONDS] [--prefix P] [-- EXTRA userlb run ARGS]     (root)
# One farm VIP:5201, protocol all, NAT mode, one backend running `iperf3 -s`. From the client: one TCP stream for
# SECONDS (veth offloads on by default: super-frames; off: 1500-byte frames) and a UDP flood of 64-byte datagrams (iperf3 -u -b 0 -l 64).
# Prints TCP Gbit/s, for UDP the datagrams per second that reached the backend and the share lost, and userlb's CPU
# time per frame received over both tests (after start-up).
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=afpacket; OFFLOADS=on; T=5; P=lvb; EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) ENGINE=$2; shift ;; --offloads) OFFLOADS=$2; shift ;; -t) T=$2; shift ;; --prefix) P=$2; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) sed -n '2,6p' "$0"; exit 2 ;;
  esac; shift
done
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null
source lab/topo.sh
WORK=$(mktemp -d /tmp/userlb-bench.XXXXXX); PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; lab_down "$P"; rm -rf "$WORK"; }
trap cleanup EXIT
USERLB=src/UserLB.Cli/bin/Release/net10.0/userlb.dll
[ -f "$USERLB" ] || dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly >/dev/null
lab_up "$P" veth "$WORK" "$OFFLOADS"
cat > "$WORK/farms.json" <<JSON
{"farms":[{"name":"bench","virtual-addr":"192.168.101.250","virtual-ports":"5201","protocol":"all","mode":"snat",
  "scheduler":"weight","iface":"lbc","oface":"lbs","backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
JSON
ip netns exec "${P}b0" iperf3 -s -D
ip netns exec "${P}lb" dotnet "$USERLB" run --config "$WORK/farms.json" --engine "$ENGINE" --api off "${EXTRA[@]}" >"$WORK/userlb.log" 2>&1 &
PID=$!
for _ in $(seq 100); do grep -q "forwarding with" "$WORK/userlb.log" && break; sleep 0.1; done
grep -q "forwarding with" "$WORK/userlb.log" || { cat "$WORK/userlb.log"; exit 1; }
TICKS0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
C="ip netns exec ${P}c iperf3 -c 192.168.101.250 -t $T -J"
$C > "$WORK/tcp.json" || true
$C -u -b 0 -l 64 > "$WORK/udp.json" || true
python3 - "$WORK/tcp.json" "$WORK/udp.json" "$ENGINE" "${EXTRA[*]:-}" <<'PY'
import json, sys
tcp, udp = (json.load(open(p)) for p in sys.argv[1:3])
engine = sys.argv[3] + (" " + sys.argv[4] if sys.argv[4] else "")
def err(j): return j.get("error")
if err(tcp): print(f"{engine}: tcp error {err(tcp)}")
else: print(f"{engine}: tcp {tcp['end']['sum_received']['bits_per_second'] / 1e9:.2f} Gbit/s")
if err(udp): print(f"{engine}: udp error {err(udp)}")
else:
    s = udp["end"]["sum"]; got = s["packets"] - s["lost_packets"]
    print(f"{engine}: udp 64 B: {got / s['seconds'] / 1e3:.0f} kpps delivered, {s['lost_percent']:.1f}% lost of {s['packets'] / s['seconds'] / 1e3:.0f} kpps sent")
PY
TICKS=$(awk -v t0="$TICKS0" '{print $14 + $15 - t0}' "/proc/$PID/stat")
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
grep -iE "warn|fail" "$WORK/userlb.log" || true
# userlb's CPU time (user + system, all threads) per frame received: less sensitive to a busy machine than the rates.
FRAMES=$(grep -oE "stopped: [0-9]+ frames received" "$WORK/userlb.log" | grep -oE "[0-9]+" || echo 0)
QDROPS=$(grep -oE "[0-9]+ queue drops" "$WORK/userlb.log" | grep -oE "^[0-9]+" || echo "?")
python3 -c "import sys; t, f = int(sys.argv[1]) / 100, int(sys.argv[2]); print(f'{sys.argv[3]}: userlb cpu {t:.1f} s for {f} frames = {t / max(f, 1) * 1e6:.1f} us/frame, {sys.argv[4]} queue drops')" "$TICKS" "$FRAMES" "$ENGINE${EXTRA[*]:+ ${EXTRA[*]}}" "$QDROPS"
