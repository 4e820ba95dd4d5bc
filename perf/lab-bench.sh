#!/usr/bin/env bash
# End-to-end benchmark: one lab in network namespaces (lab/topo.sh), the same traffic through each path, one table.
#   perf/lab-bench.sh [-d SECONDS] [--paths "direct kernel nft pcap afpacket tap"] [--prefix pf] [--pin-traffic]
#                     [--offloads on|off]   (the lab's veths: on, the default, as `ip link add … type veth` makes them —
#                                    tx checksum offload, TSO/GSO; off: ethtool -K … tx off rx off tso off gso off gro off)
#                     [--only "bulk udp conns latency"]   (a subset of the measurements)
#                     [--ipv6]       (the same in IPv6: client fd00:101::1 → [fd00:101::250] → fd00:1::10/::11; the
#                                    kernel's rules are `userlb rules`' ip6tables ones; every path but tap)
#                     [--rounds N]   (every path N times, in alternating order within the one lab: the table shows
#                                    each figure's median and its range over the rounds; a second table the ratio to
#                                    the kernel within each round, its median and range)
# Paths (client 192.168.101.1 → 192.168.101.250:8080 or :5201 → backends 192.168.1.10/.11, NAT mode):
#   direct    no LB: the LB namespace's kernel routes the client straight to backend .10 (no NAT, no conntrack rules)
#   kernel    the LB namespace's kernel with the reference iptables rules (`userlb rules --format save` of the same
#             farms: CONNMARK/MARK statistic, DNAT, SNAT), the VIP on lbc, forwarding on
#   nft       the same farms as nftables in nftlb's style (`userlb rules --nft`: numgen/verdict maps, DNAT/SNAT by
#             mark) loaded with nft — nftlb's ruleset; the nftlb daemon itself is not packaged here
#   pcap, afpacket, tap   userlb run with that engine (tap: the routed TAP topology of run-lab.sh --engine tap)
#   ENGINE-w2             the same with --workers 2 (receive threads → channels → two workers);
#   afpacket-bpN          --busy-poll N (us: the receive thread polls the rings while it is alone and a CPU is spare)
#   ENGINE-nice / -fifo / -batch / -pinN   userlb under `nice -n -10` / `chrt -f 10` / `chrt -b 0` / `taskset -c N`
#                         (scheduling experiments)
# Measures per path: TCP bulk throughput (iperf3 -t D, one stream, to .10), small-packet UDP rate (iperf3 -u -l 64
# -b 0, datagrams received per second at .10), new TCP connections per second (wrk -t1 -c32, Connection: close,
# against nginx on both backends) and request latency p50/p99 (wrk -t1 -c1 --latency, keep-alive: one request in
# flight, so the path's own delay), also timed on the wire from a tcpdump capture on the client's veth (request out →
# response in: without the client's own wake-ups, which on a machine shared by client, servers and LB dominate wrk's
# tail). Offloads on every veth as --offloads says (lab/topo.sh; every path runs on the same veths, the kernel's too),
# printed in the header and the table. Each test's line also gives the CPU pressure over it (the share
# of the time some task waited for a CPU, /proc/pressure/cpu) and the context switches per second (/proc/stat). Prints
# one table, every figure also as a ratio to the kernel's.
# --pin-traffic: client tools and servers on the last CPU, userlb on the others. Installs iperf3, wrk, tcpdump and
# nginx-light with apt-get when missing. Root only.
set -euo pipefail
cd "$(dirname "$0")/.."
D=5; P=pf; PATHS="direct kernel nft pcap afpacket tap"; ONLY="bulk udp conns latency"; PIN=0; ROUNDS=1; OFFLOADS=on; IPV6=""
while [ $# -gt 0 ]; do
  case "$1" in
    -d) D=$2; shift ;;
    --paths) PATHS=$2; shift ;;
    --prefix) P=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --pin-traffic) PIN=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --offloads) OFFLOADS=$2; shift ;;
    --ipv6) IPV6=ipv6 ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "lab-bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$OFFLOADS" in on|off) ;; *) echo "lab-bench.sh: --offloads must be on or off, not $OFFLOADS" >&2; exit 2 ;; esac
if [ -n "$IPV6" ] && [[ " $PATHS " =~ \ tap ]]; then # the TAP topology routes IPv4 only (lab/topo.sh)
  echo "lab-bench.sh: --ipv6: the tap paths are left out (the TAP topology routes IPv4 only)" >&2
  kept=""; for p in $PATHS; do [ "${p%%-*}" = tap ] || kept="$kept $p"; done; PATHS=${kept# }
fi
[ "$(id -u)" = 0 ] || { echo "lab-bench.sh: must run as root (network namespaces)" >&2; exit 1; }
need=()
for t in iperf3 wrk tcpdump; do command -v $t >/dev/null || need+=($t); done
command -v nginx >/dev/null || need+=(nginx-light)
[ "$OFFLOADS" = on ] || command -v ethtool >/dev/null || need+=(ethtool) # only to turn veth offloads off
command -v iptables >/dev/null || need+=(iptables)
command -v nft >/dev/null || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p /run/lock; exec 9>"/run/lock/userlb-lab-$P.lock"; flock 9
WORK=$(mktemp -d /tmp/userlb-bench.XXXXXX)
USERLB_PID=""
source lab/topo.sh
cleanup() {
  [ -n "$USERLB_PID" ] && kill "$USERLB_PID" 2>/dev/null && wait "$USERLB_PID" 2>/dev/null || true
  lab_down "$P"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building UserLB (Release)"
dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly -v q >/dev/null
USERLB="dotnet $(pwd)/src/UserLB.Cli/bin/Release/net10.0/userlb.dll"
# --pin-traffic: the client's tools and the servers on the last CPU, userlb on the others (a host where the LB has a
# core of its own); the kernel paths forward in the softirq of the sender, so on the traffic's CPU. Default: no pinning.
TP=(); LBPIN=()
if [ "$PIN" = 1 ]; then last=$(( $(nproc) - 1 )); TP=(taskset -c "$last"); LBPIN=(taskset -c "0-$(( last > 0 ? last - 1 : 0 ))"); fi
C="ip netns exec ${P}c"; LB="ip netns exec ${P}lb"
# The run's addresses: IPv4, or IPv6 with --ipv6 (lab/topo.sh's; URL hosts in brackets).
if [ -n "$IPV6" ]; then
  FAMILY=ipv6; VIP=fd00:101::250; B0=fd00:1::10; B1=fd00:1::11; LBC_ADDR=fd00:101::254; BACKENDS=fd00:1::/64; VIP_PREFIX=64
  FWD=net.ipv6.conf.all.forwarding; IPT=ip6tables; HOST_VIP="[$VIP]"; HOST_B0="[$B0]"
else
  FAMILY=ipv4; VIP=192.168.101.250; B0=192.168.1.10; B1=192.168.1.11; LBC_ADDR=192.168.101.254; BACKENDS=192.168.1.0/24; VIP_PREFIX=24
  FWD=net.ipv4.ip_forward; IPT=iptables; HOST_VIP=$VIP; HOST_B0=$B0
fi

farms() { # $1 = client-side interface, $2 = backend-side interface
  cat <<JSON
{"farms":[
 {"name":"web","family":"$FAMILY","virtual-addr":"$VIP","virtual-ports":"8080","protocol":"tcp","mode":"snat","scheduler":"weight","iface":"$1","oface":"$2",
  "backends":[{"name":"bck0","ip-addr":"$B0","weight":"1"},{"name":"bck1","ip-addr":"$B1","weight":"1"}]},
 {"name":"bulk","family":"$FAMILY","virtual-addr":"$VIP","virtual-ports":"5201","protocol":"all","mode":"snat","scheduler":"weight","iface":"$1","oface":"$2",
  "backends":[{"name":"bck0","ip-addr":"$B0"}]}]}
JSON
}

start_servers() { # nginx on 8080 (both backends), iperf3 -s on .10
  local i
  for i in 0 1; do
    mkdir -p "$WORK/nginx$i"
    cat > "$WORK/nginx$i/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx$i/nginx.pid;
error_log $WORK/nginx$i/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx$i; proxy_temp_path $WORK/nginx$i; fastcgi_temp_path $WORK/nginx$i;
  uwsgi_temp_path $WORK/nginx$i; scgi_temp_path $WORK/nginx$i;
  server { listen 8080 reuseport backlog=4096;$([ -n "$IPV6" ] && echo " listen [::]:8080 reuseport backlog=4096;") location / { return 200 "bck$i\n"; } }
}
CONF
    ip netns exec "${P}b$i" "${TP[@]}" nginx -c "$WORK/nginx$i/nginx.conf"
  done
  ip netns exec "${P}b0" "${TP[@]}" iperf3 -s -D --logfile "$WORK/iperf3.log"
  for _ in $(seq 50); do
    ip netns exec "${P}b1" ss -ltn | grep -q ':8080 ' && ip netns exec "${P}b0" ss -ltn | grep -q ':5201 ' && break
    sleep 0.1
  done
}

flush_neigh() { local n; for n in ${P}c ${P}lb ${P}b0 ${P}b1; do ip -n "$n" neigh flush all 2>/dev/null || true; done; }

# ---- per-path setup/teardown on the veth topology (the LB namespace keeps .254 on lbc and .1 on lbs)
path_up() {
  case "$1" in
    direct)
      $LB sysctl -qw $FWD=1
      ip -n ${P}c route replace $BACKENDS via $LBC_ADDR ;;
    kernel|nft)
      $LB sysctl -qw $FWD=1
      ip -n ${P}lb addr add $VIP/$VIP_PREFIX dev lbc $([ -n "$IPV6" ] && echo nodad)
      farms lbc lbs > "$WORK/farms.json"
      if [ "$1" = kernel ]; then
        $USERLB rules --config "$WORK/farms.json" --format save > "$WORK/rules.txt"
        $LB $IPT-restore < "$WORK/rules.txt"
      else
        $USERLB rules --config "$WORK/farms.json" --nft > "$WORK/rules.nft"
        $LB nft -f "$WORK/rules.nft"
      fi ;;
    pcap*|afpacket*|tap*) # ENGINE, ENGINE-w2 for --workers 2, ENGINE-bpN for --busy-poll N
      local name=${1%@alt}; local engine=${name%%-*} extra=()
      [[ "$1" == *-w2* ]] && extra+=(--workers 2)
      [[ "$1" =~ -bp([0-9]+) ]] && extra+=(--busy-poll "${BASH_REMATCH[1]}")
      local sched=()
      [[ "$1" == *-nice* ]] && sched=(nice -n -10)
      [[ "$1" == *-fifo* ]] && sched=(chrt -f 10)
      [[ "$1" == *-batch* ]] && sched=(chrt -b 0)
      [[ "$1" =~ -pin([0-9]+) ]] && sched=(taskset -c "${BASH_REMATCH[1]}")
      [ "$engine" = tap ] || $LB sysctl -qw $FWD=0
      if [ "$engine" = tap ]; then farms lbt lbt; else farms lbc lbs; fi > "$WORK/farms.json"
      # ENGINE…@alt: the build at $USERLB_ALT (a userlb.dll; comparing two builds in one lab, alternating rounds)
      local bin=$USERLB
      [[ "$1" == *@alt ]] && bin="dotnet ${USERLB_ALT:?set USERLB_ALT to another build\'s userlb.dll for @alt paths}"
      $LB "${LBPIN[@]}" "${sched[@]}" $bin run --config "$WORK/farms.json" --engine "$engine" "${extra[@]}" >"$WORK/userlb-$1.log" 2>&1 &
      USERLB_PID=$!
      for _ in $(seq 100); do grep -q "forwarding with" "$WORK/userlb-$1.log" 2>/dev/null && break; sleep 0.2; done
      grep -q "forwarding with" "$WORK/userlb-$1.log" || { echo "userlb ($1) did not start:"; cat "$WORK/userlb-$1.log"; return 1; } ;;
  esac
  flush_neigh
}

path_down() {
  case "$1" in
    direct) ip -n ${P}c route del $BACKENDS via $LBC_ADDR 2>/dev/null || true ;;
    kernel|nft)
      $LB $IPT -t mangle -F; $LB $IPT -t nat -F; $LB nft flush ruleset 2>/dev/null || true
      ip -n ${P}lb addr del $VIP/$VIP_PREFIX dev lbc 2>/dev/null || true
      $LB conntrack -F >/dev/null 2>&1 || true ;;
    pcap*|afpacket*|tap*)
      kill "$USERLB_PID" 2>/dev/null; wait "$USERLB_PID" 2>/dev/null || true; USERLB_PID="" ;;
  esac
  $LB sysctl -qw $FWD=0
}

# ---- measurements; each prints one number (or "-" when the tool failed)
target() { [ "$1" = direct ] && echo $B0 || echo $VIP; }
web_target() { [ "$1" = direct ] && echo "$HOST_B0" || echo "$HOST_VIP"; } # a URL's host

bulk() {
  $C "${TP[@]}" timeout $((D + 10)) iperf3 -c "$(target "$1")" -t "$D" -J 2>/dev/null \
    | python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' 2>/dev/null || echo -
}

udp_rate() {
  $C "${TP[@]}" timeout $((D + 10)) iperf3 -c "$(target "$1")" -u -b 0 -l 64 -t "$D" -J 2>/dev/null \
    | python3 -c 'import json,sys; s=json.load(sys.stdin)["end"]["sum"]; print("%.1f" % ((s["packets"] - s["lost_packets"]) / s["seconds"] / 1e3))' 2>/dev/null || echo -
}

conns() {
  { $C "${TP[@]}" timeout $((D + 10)) wrk -t1 -c32 -d"${D}s" -H "Connection: close" "http://$(web_target "$1"):8080/" 2>/dev/null || true; } \
    | awk '/Requests\/sec/ {printf "%.2f\n", $2 / 1000; found=1} END {if (!found) print "-"}'
}

latency() { # prints "p50 p99 wire-p50 wire-p99" in microseconds
  # wrk's figures are taken in wrk, so they hold the client's own wake-ups on a shared machine; the same exchanges are
  # also timed on the wire, from a capture on the client's veth (request segment out → response segment in).
  local cap="$WORK/latency-$1.pcap" tpid w
  $C tcpdump -i c0 -n -w "$cap" --time-stamp-precision=nano -B 65536 "tcp port 8080 and greater 60" >/dev/null 2>&1 &
  tpid=$!
  sleep 0.5
  w=$({ $C "${TP[@]}" timeout $((D + 10)) wrk -t1 -c1 -d"${D}s" --latency "http://$(web_target "$1"):8080/" 2>/dev/null || true; } | awk '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
    $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
    END { if (p50 == "") print "- -"; else printf "%.0f %.0f\n", p50, p99 }')
  kill -INT "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null || true
  echo "$w $(wire_latency "$cap")"
}

wire_latency() { # pcap (ns) of one keep-alive connection's exchanges on the client side → "p50 p99" in us, or "- -"
  python3 - "$1" <<'PY' 2>/dev/null || echo "- -"
import struct, sys
f = open(sys.argv[1], "rb"); f.read(24)
sent, lat = {}, []
while True:
    h = f.read(16)
    if len(h) < 16: break
    sec, frac, incl, _ = struct.unpack("<IIII", h); d = f.read(incl); t = sec + frac * 1e-9
    if d[12:14] == b"\x08\x00" and d[23] == 6:                  # IPv4, TCP
        ihl = (d[14] & 15) * 4; tot = struct.unpack(">H", d[16:18])[0]
    elif d[12:14] == b"\x86\xdd" and d[20] == 6:                # IPv6, TCP (no extension header)
        ihl = 40; tot = 40 + struct.unpack(">H", d[18:20])[0]
    else: continue
    tcp = d[14 + ihl:]
    sp, dp = struct.unpack(">HH", tcp[:4])
    if tot - ihl - (tcp[12] >> 4) * 4 <= 0: continue            # segments with data only
    if dp == 8080: sent[sp] = t                                 # a request leaves the client
    elif sp == 8080 and dp in sent: lat.append(t - sent.pop(dp)) # its response arrives
if len(lat) < 100: raise SystemExit(1)
lat.sort()
print("%.0f %.0f" % (lat[len(lat) // 2] * 1e6, lat[int(len(lat) * 0.99)] * 1e6))
PY
}

# The machine's load over a test: CPU pressure, the share of its wall time in which some task was runnable but waiting
# for a CPU (/proc/pressure/cpu "some", system-wide; "-" without PSI) — whether the CPUs were all taken; and context
# switches per second, all CPUs (/proc/stat ctxt) — the wake-ups the path costs.
psi_some_us() { sed -n 's/^some .*total=\([0-9]*\)$/\1/p' /proc/pressure/cpu 2>/dev/null || true; }
ctxt() { awk '$1 == "ctxt" {print $2}' /proc/stat; }
load_mark() { PSI0=$(psi_some_us); CTXT0=$(ctxt); T0=$(date +%s%N); }
load_report() {
  local now c t1 p=-; now=$(psi_some_us); c=$(ctxt); t1=$(date +%s%N)
  [ -n "$now" ] && [ -n "$PSI0" ] && p="$(( (now - PSI0) * 100000 / (t1 - T0) ))%"
  echo "CPU pressure $p, $(( (c - CTXT0) * 1000000 / ((t1 - T0) / 1000) )) context switches/s"
}

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
run_path() {
  local path=$1 b u c l lp50 lp99 wp50 wp99
  echo "== $path"
  if ! path_up "$path"; then echo -e "$path\t-\t-\t-\t-\t-\t-\t-" >> "$RESULTS"; path_down "$path"; return; fi
  # Warm-up: ARP, the JIT, the first connections.
  $C "${TP[@]}" timeout 5 wrk -t1 -c2 -d1s "http://$(web_target "$path"):8080/" >/dev/null 2>&1 || true
  b=-; u=-; c=-; l="- - - -"
  if [[ " $ONLY " == *" bulk "* ]]; then load_mark; b=$(bulk "$path"); echo "   bulk $b Gbit/s, $(load_report)"; fi
  if [[ " $ONLY " == *" udp "* ]]; then load_mark; u=$(udp_rate "$path"); echo "   udp $u kpps (64-byte datagrams received), $(load_report)"; fi
  if [[ " $ONLY " == *" conns "* ]]; then load_mark; c=$(conns "$path"); echo "   new connections $c k/s, $(load_report)"; fi
  if [[ " $ONLY " == *" latency "* ]]; then
    load_mark; l=$(latency "$path"); read -r lp50 lp99 wp50 wp99 <<< "$l"
    echo "   latency p50/p99 $lp50 $lp99 us (wrk), on the wire $wp50 $wp99 us, $(load_report)"
  fi
  read -r lp50 lp99 wp50 wp99 <<< "$l"
  echo -e "$path\t$b\t$u\t$c\t$lp50\t$lp99\t$wp50\t$wp99" >> "$RESULTS"
  if [ -n "$USERLB_PID" ]; then
    grep -E "offload|warn" "$WORK/userlb-$path.log" | head -2 | sed 's/^/   userlb: /' || true
    # The process's GC work and (afpacket) the sampled kernel → userlb receive delay, from /metrics.
    $LB curl -s --max-time 5 http://127.0.0.1:5555/metrics 2>/dev/null \
      | grep -E '^userlb_(gc_collections_total|gc_pause_seconds_total|rx_delay_seconds\{|rx_threads_engage|busy_poll_polled|busy_poll_held_back|rx_frames_total|rx_sleeps_total)' | sed 's/^userlb_/   userlb: /' || true
  fi
  path_down "$path"
}

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$IPV6" ] || echo "== IPv6: client fd00:101::1, VIP $VIP, backends $B0, $B1"
echo "== veth offloads $OFFLOADS$([ "$OFFLOADS" = on ] && echo " (as created: tx checksum offload, TSO/GSO)" || echo " (ethtool -K … tx off rx off tso off gso off gro off)")"
[ "$PIN" = 1 ] && echo "== pinned: client tools and servers on CPU ${TP[2]}, userlb on CPU(s) ${LBPIN[2]}"
lab_up "$P" veth "$WORK" "$OFFLOADS" "$IPV6"; start_servers
for round in $(seq "$ROUNDS"); do
  [ "$ROUNDS" = 1 ] || echo "== round $round of $ROUNDS"
  for path in $PATHS; do p0=${path%@alt}; [ "${p0%%-*}" = tap ] || run_path "$path"; done
done
for path in $PATHS; do # each TAP path in a fresh TAP lab (a second userlb on the same lab passed no traffic here once)
  [ "${path%%-*}" = tap ] || continue
  lab_down "$P"; lab_up "$P" tap "$WORK" "$OFFLOADS"; start_servers
  run_path "$path"
done
if [ "$ROUNDS" = 1 ]; then echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg); each figure one run of ${D} s"
else echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg); each figure the median of $ROUNDS runs of ${D} s [min–max]"; fi
python3 - "$RESULTS" "$OFFLOADS" "$IPV6" <<'PY'
import sys
offloads = sys.argv[2]
family = ", IPv6" if sys.argv[3] == "ipv6" else ""
runs = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
# Several rounds: one row per path with each figure's median (ratios from the medians) and its [min–max].
order, byPath = [], {}
for r in runs:
    if r[0] not in byPath: order.append(r[0]); byPath[r[0]] = []
    byPath[r[0]].append(r)
def median(vals):
    v = sorted(vals); n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
rows, spans = [], {}
for name in order:
    rs = byPath[name]; row = [name]
    for i in range(1, len(rs[0])):
        vals = [float(r[i]) for r in rs if r[i] not in ("-", "")]
        if not vals: row.append("-"); continue
        m = median(vals); row.append(rs[0][i] if len(rs) == 1 else ("%.3f" % m).rstrip("0").rstrip("."))
        if len(vals) > 1: spans[(name, i)] = "[%s–%s]" % (("%.3f" % min(vals)).rstrip("0").rstrip("."), ("%.3f" % max(vals)).rstrip("0").rstrip("."))
    rows.append(row)
names = {"direct": "direct routing, no LB", "kernel": "kernel, reference iptables rules", "nft": "nftables, nftlb's ruleset",
         "pcap": "userlb, pcap engine", "afpacket": "userlb, afpacket engine", "tap": "userlb, tap engine",
         "afpacket-w2": "userlb, afpacket, 2 workers (queue)", "pcap-w2": "userlb, pcap, 2 workers (queue)",
         "afpacket-nice": "userlb, afpacket, nice -10", "afpacket-fifo": "userlb, afpacket, SCHED_FIFO 10",
         "afpacket-batch": "userlb, afpacket, SCHED_BATCH", "afpacket-pin0": "userlb, afpacket, on CPU 0 only",
         "afpacket-bp50": "userlb, afpacket, --busy-poll 50", "afpacket-bp200": "userlb, afpacket, --busy-poll 200"}
kernel = next((r for r in rows if r[0] == "kernel"), None)
cols = ["TCP bulk Gbit/s", "UDP 64 B kpps", "new conns k/s", "p50 us", "p99 us", "wire p50 us", "wire p99 us"]
def cell(r, i):
    v = r[i + 1]
    if v == "-" : return "-"
    if kernel is None or kernel[i + 1] in ("-", "0", "0.0") or r[0] == "kernel": return v
    return f"{v} ({float(v) / float(kernel[i + 1]):.2f}x)"
def cellSpan(r, i):
    c = cell(r, i)
    return c + " " + spans[(r[0], i + 1)] if (r[0], i + 1) in spans else c
print()
print(f"Veth offloads {offloads} (--offloads {offloads}), every path{family}.")
print()
print(f"| path (offloads {offloads}) | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
def label(name):
    base = name[:-4] if name.endswith("@alt") else name
    return names.get(base, base) + (" (USERLB_ALT build)" if base != name else "")
for r in rows:
    print(f"| {label(r[0])} | " + " | ".join(cellSpan(r, i) for i in range(len(cols))) + " |")
print("\n(x) = ratio to the kernel's figure; for latency lower is better. p50/p99: wrk's (in the client, with its own")
print("wake-ups); wire p50/p99: the same exchanges timed on the client's veth (request out → response in).")
# Several rounds: the ratio to the kernel within each round (the k-th run of a path against the kernel's k-th run,
# minutes apart), whose median is steadier than the ratio of medians when the machine drifts between modes.
if kernel is not None and len(byPath["kernel"]) > 1:
    def paired(name, i):
        ks, us = byPath["kernel"], byPath[name]
        q = [float(u[i]) / float(k[i]) for k, u in zip(ks, us) if k[i] not in ("-", "", "0", "0.0") and u[i] not in ("-", "")]
        if not q: return "-"
        return "%.2fx [%.2f–%.2f]" % (median(q), min(q), max(q)) if len(q) > 1 else "%.2fx" % q[0]
    print("\nRatio to the kernel within each round: median [min–max] over the rounds")
    print(f"\n| path (offloads {offloads}) | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name in order:
        if name == "kernel": continue
        print(f"| {label(name)} | " + " | ".join(paired(name, i + 1) for i in range(len(cols))) + " |")
PY
