#!/usr/bin/env bash
# A tier of UserLB instances behind ECMP and BGP, in network namespaces; one instance killed with SIGKILL mid-transfer.
#   lab/scale-out.sh [--instances N] [--modes "dsr nat kernel"] [--downloads D] [--mb MB] [--victim I] [--keep]
#   lab/scale-out.sh --scale [--instances N] [--modes dsr] [--seconds S] [--pin] [--cpu-quota PCT]
#                                                   new connections/s through 1..N announcing instances (the others
#                                                   drained); --cpu-quota: each userlb in its own cgroup (v1 cpu
#                                                   controller, /sys/fs/cgroup/cpu/PREFIX-lI) capped at PCT % of one CPU,
#                                                   so each instance, not the machine, is the limit
#     --userlb DLL: run that userlb.dll (no build); --summary FILE: append each mode's figures to FILE as a JSON line
#   lab/scale-out.sh down                                    remove the namespaces
#   USERLB_TIER_PREFIX=xy lab/scale-out.sh ...               namespaces xyc, xyr, xyl0.., xyb0.. (default ust)
# Modes (default all three, in this order): dsr, nat, kernel
#        nat     each instance NAT mode (snat) with its own source-addr, scheduler hash (Maglev over srcip srcport)
#        dsr     each instance in dsr mode (L2 DSR: the backends hold the VIP on lo and answer the client directly)
#        kernel  no userlb: the kernel's stateless DSR on each instance (nft netdev ingress: `ether daddr set jhash ip
#                saddr . tcp sport mod 4 seed S map {…} fwd to`, the same seed everywhere); a placeholder process stands
#                for the instance, and its "death" is that process killed with SIGKILL and the nft table deleted
# Topology (everything inside namespaces made here; nothing else is touched):
#   PREFIXc client 172.31.1.2 ── PREFIXr router 172.31.1.1 | br-f 172.31.2.1 | br-b 172.31.3.1 (the backends' gateway)
#   PREFIXl$i instance i: f0 172.31.2.(11+i) on br-f, b0 172.31.3.(21+i) on br-b; userlb owns f0 and b0 (NAT source
#            172.31.3.(31+i)); BIRD beside it announces the VIP 172.31.100.250/32 to the router over eBGP (BFD, hold 3 s)
#            while lab/announce.py sees its userlb alive and GET /ready answering 200 (withdrawn on a drain or death)
#   PREFIXb$j backend j (0-3): 172.31.3.(11+j) on br-b, the VIP on lo (arp_ignore 1, arp_announce 2), nginx on :80
#   The router (BIRD, `merge paths`) installs the VIP as one multipath route; fib_multipath_hash_policy=1 (L4 hash).
# The event: D long downloads (curl; the backends' nginx sends them at a rate that makes them span the kill; each checked with sha256) and a stream of short
# connections (lab/tier.py short); one instance killed with SIGKILL mid-transfer; printed: when the router dropped its
# next hop, each instance's connections, the downloads that moved, the downloads complete byte for byte, the short
# connections that succeeded (all and in the event's window); then a drain of a survivor (userlb drain) and its undo,
# and (first mode only) that survivor's BIRD killed and restarted while its userlb runs on.
# --victim I: the instance killed (default 0; with Linux's hash-threshold ECMP, removing the first next hop also moves
# some of the survivors' flows between them, removing a middle one moves only the victim's).
# Installs bird2, nginx-light, curl, nftables, python3 with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
P=${USERLB_TIER_PREFIX:-ust}; N=3; MODES="dsr nat kernel"; D=12; MB=24; KEEP=0; VICTIM=0; USERLB_DLL=""; SUMMARY=""; CMD=event; BIRD_DOWN_SHOWN=""; SECONDS_SCALE=10; PIN=0; QUOTA=""
while [ $# -gt 0 ]; do
  case "$1" in
    down) CMD=down ;;
    --scale) CMD=scale ;;
    --instances) N=$2; shift ;;
    --modes) MODES=$2; shift ;;
    --downloads) D=$2; shift ;;
    --mb) MB=$2; shift ;;
    --seconds) SECONDS_SCALE=$2; shift ;;
    --pin) PIN=1 ;;
    --cpu-quota) QUOTA=$2; shift ;;
    --keep) KEEP=1 ;;
    --victim) VICTIM=$2; shift ;;
    --userlb) USERLB_DLL=$2; shift ;;
    --summary) SUMMARY=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "scale-out.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$N" in [1-8]) ;; *) echo "scale-out.sh: --instances must be 1-8, not $N" >&2; exit 2 ;; esac
case "$VICTIM" in [0-7]) [ "$VICTIM" -lt "$N" ] ;; *) false ;; esac || { echo "scale-out.sh: --victim must be an instance (0-$((N - 1))), not $VICTIM" >&2; exit 2; }
for m in $MODES; do case "$m" in nat|dsr|kernel) ;; *) echo "scale-out.sh: mode $m is not nat, dsr or kernel" >&2; exit 2 ;; esac; done
[ "$(id -u)" = 0 ] || { echo "scale-out.sh: must run as root (network namespaces)" >&2; exit 1; }

VIP=172.31.100.250; CLIENT=172.31.1.2; DL_PORT0=18500; EV_PIDS=(); KEY=tier-lab-key; SEED=0x5eed
NS_LIST() { echo "${P}c ${P}r"; for ((i = 0; i < N; i++)); do echo "${P}l$i"; done; for j in 0 1 2 3; do echo "${P}b$j"; done; }
front() { echo "172.31.2.$((11 + $1))"; }
natsrc() { echo "172.31.3.$((31 + $1))"; }
bmac() { echo "02:00:00:03:00:1$1"; }
WORK=""; declare -A LB_PID=() WATCH_PID=()

tier_down() {
  local n p
  for n in $(NS_LIST) ${P}l4 ${P}l5 ${P}l6 ${P}l7; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
}
if [ "$CMD" = down ]; then tier_down; echo "tier removed"; exit 0; fi

install_deps() {
  local need=()
  command -v bird >/dev/null && command -v birdc >/dev/null || need+=(bird2)
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v curl >/dev/null || need+=(curl)
  command -v nft >/dev/null || need+=(nftables)
  command -v python3 >/dev/null || need+=(python3)
  command -v ip >/dev/null || need+=(iproute2)
  [ "$CMD" = scale ] && { command -v wrk >/dev/null || need+=(wrk); }
  if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 || true
  fi
  local missing=()
  command -v bird >/dev/null || missing+=("bird (apt-get install bird2: the BGP speakers)")
  command -v birdc >/dev/null || missing+=("birdc (apt-get install bird2)")
  command -v nginx >/dev/null || missing+=("nginx (apt-get install nginx-light: the backends)")
  command -v curl >/dev/null || missing+=("curl (the downloads)")
  if [[ " $MODES " == *" kernel "* ]]; then command -v nft >/dev/null || missing+=("nft (apt-get install nftables: the kernel DSR comparison)"); fi
  if [ "$CMD" = scale ]; then command -v wrk >/dev/null || missing+=("wrk (the connection generator)"); fi
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'scale-out.sh: missing: %s\n' "${missing[@]}" >&2
    exit 1
  fi
  command -v dotnet >/dev/null || { echo "scale-out.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
}

topo_up() {
  local i j r="${P}r"
  tier_down
  for n in $(NS_LIST); do ip netns add "$n"; ip -n "$n" link set lo up; done
  ip -n "$r" link add br-f type bridge; ip -n "$r" link add br-b type bridge
  ip -n "$r" link set br-f up; ip -n "$r" link set br-b up
  ip -n "$r" addr add 172.31.2.1/24 dev br-f; ip -n "$r" addr add 172.31.3.1/24 dev br-b
  ip link add c0 netns "${P}c" type veth peer name rc netns "$r"
  ip -n "${P}c" addr add $CLIENT/24 dev c0; ip -n "${P}c" link set c0 up; ip -n "${P}c" route add default via 172.31.1.1
  ip -n "$r" addr add 172.31.1.1/24 dev rc; ip -n "$r" link set rc up
  ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  for ((i = 0; i < N; i++)); do
    local l="${P}l$i"
    ip link add f0 netns "$l" type veth peer name lf$i netns "$r"
    ip link add b0 netns "$l" type veth peer name lb$i netns "$r"
    ip -n "$r" link set lf$i master br-f up; ip -n "$r" link set lb$i master br-b up
    ip -n "$l" addr add "$(front $i)/24" dev f0; ip -n "$l" link set f0 up
    ip -n "$l" addr add "172.31.3.$((21 + i))/24" dev b0; ip -n "$l" link set b0 up
    ip netns exec "$l" sysctl -qw net.ipv4.ip_forward=0
  done
  for j in 0 1 2 3; do
    local b="${P}b$j"
    ip link add eth0 netns "$b" address "$(bmac $j)" type veth peer name bk$j netns "$r"
    ip -n "$r" link set bk$j master br-b up
    ip -n "$b" addr add "172.31.3.$((11 + j))/24" dev eth0; ip -n "$b" link set eth0 up
    ip -n "$b" route add default via 172.31.3.1
    ip -n "$b" addr add $VIP/32 dev lo
    ip netns exec "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
    mkdir -p "$WORK/nginx$j"
    cat > "$WORK/nginx$j/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $WORK/nginx$j/nginx.pid;
error_log $WORK/nginx$j/error.log;
events { worker_connections 16384; }
http {
  access_log off; sendfile on; keepalive_timeout 0;
  client_body_temp_path $WORK/nginx$j; proxy_temp_path $WORK/nginx$j; fastcgi_temp_path $WORK/nginx$j;
  uwsgi_temp_path $WORK/nginx$j; scgi_temp_path $WORK/nginx$j;
  server { listen 80 backlog=4096; location = / { default_type text/plain; return 200 "bck$j\n"; } location /blob { root $WORK/www; limit_rate $DL_RATE; } }
}
CONF
    ip netns exec "$b" nginx -c "$WORK/nginx$j/nginx.conf" 9>&-
  done
}

bird_up() {
  local i r="${P}r"
  {
    echo "log \"$WORK/bird-r.log\" all; router id 172.31.2.1;"
    echo "protocol device { scan time 10; }"
    echo "protocol kernel { ipv4 { import none; export all; }; merge paths on; }"
    echo "protocol bfd { interface \"br-f\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 5; }; }"
    echo "template bgp lbs { local 172.31.2.1 as 65000; hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 5; bfd on; ipv4 { import all; export none; }; }"
    for ((i = 0; i < N; i++)); do echo "protocol bgp l$i from lbs { neighbor $(front $i) as 65001; }"; done
  } > "$WORK/bird-r.conf"
  ip netns exec "$r" bird -f -c "$WORK/bird-r.conf" -s "$WORK/bird-r.ctl" -P "$WORK/bird-r.pid" 9>&- &
  disown $!
  for ((i = 0; i < N; i++)); do
    cat > "$WORK/bird-l$i.conf" <<CONF
log "$WORK/bird-l$i.log" all; router id $(front $i);
protocol device { scan time 10; }
protocol static vip { disabled; ipv4; route $VIP/32 blackhole; }
protocol bfd { interface "f0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 5; }; }
protocol bgp uplink { local $(front $i) as 65001; neighbor 172.31.2.1 as 65000; hold time 3; keepalive time 1;
  connect retry time 1; error wait time 1, 5; bfd on; ipv4 { import none; export where proto = "vip"; next hop self; }; }
CONF
    ip netns exec "${P}l$i" bird -f -c "$WORK/bird-l$i.conf" -s "$WORK/bird-l$i.ctl" -P "$WORK/bird-l$i.pid" 9>&- &
    disown $!
  done
  local s
  for s in r $(for ((i = 0; i < N; i++)); do echo l$i; done); do
    for _ in $(seq 50); do [ -S "$WORK/bird-$s.ctl" ] && break; sleep 0.1; done
    [ -S "$WORK/bird-$s.ctl" ] || { echo "scale-out.sh: BIRD did not start in ${P}$s (its config: $WORK/bird-$s.conf)" >&2; exit 1; }
  done
}

nexthops() { ip -n "${P}r" -j route show $VIP | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(len(x.get("nexthops",[])) or ("gateway" in x) for x in r))'; }
wait_nexthops() { # COUNT SECONDS
  local k
  for ((k = 0; k < $2 * 10; k++)); do [ "$(nexthops)" = "$1" ] && return 0; sleep 0.1; done
  echo "scale-out.sh: the router has $(nexthops) next hop(s) for $VIP, not $1, after $2 s; BGP sessions:" >&2
  birdc -s "$WORK/bird-r.ctl" show protocols >&2 || true
  return 1
}

farms() { # MODE INSTANCE
  local mode=$1 i=$2 extra='' j backends=''
  for j in 0 1 2 3; do
    local mac=''
    [ "$mode" != dsr ] || mac=",\"ether-addr\":\"$(bmac $j)\""
    backends+="${backends:+,}{\"name\":\"bck$j\",\"ip-addr\":\"172.31.3.$((11 + j))\"$mac}"
  done
  [ "$mode" = nat ] && extra=",\"source-addr\":\"$(natsrc $i)\""
  echo "{\"farms\":[{\"name\":\"web\",\"virtual-addr\":\"$VIP\",\"virtual-ports\":\"80\",\"protocol\":\"tcp\",\"mode\":\"$([ "$mode" = nat ] && echo snat || echo dsr)\",\"scheduler\":\"hash\",\"sched-param\":\"srcip srcport\",\"iface\":\"f0\",\"oface\":\"b0\"$extra,\"backends\":[$backends]}]}"
}

kernel_dsr() { # INSTANCE: the kernel's stateless L2 DSR on f0, the same jhash seed on every instance
  local l="${P}l$1" own
  own=$(ip -n "$l" -j link show b0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
  ip netns exec "$l" nft -f - <<NFT
table netdev tier {
  chain ingress {
    type filter hook ingress device "f0" priority 0;
    ip daddr $VIP tcp dport 80 tcp flags & (syn | ack) == syn counter
    ip daddr $VIP tcp dport 80 ether saddr set $own ether daddr set jhash ip saddr . tcp sport mod 4 seed $SEED map { 0 : $(bmac 0), 1 : $(bmac 1), 2 : $(bmac 2), 3 : $(bmac 3) } fwd to "b0"
  }
}
NFT
}

instance_up() { # MODE INSTANCE
  local mode=$1 i=$2 l="${P}l$2"
  if [ "$mode" = kernel ]; then
    kernel_dsr "$i"
    ip netns exec "$l" sleep infinity 9>&- &
    LB_PID[$i]=$!
    disown $!
    ip netns exec "$l" python3 lab/announce.py "${LB_PID[$i]}" none "$WORK/bird-l$i.ctl" vip "$WORK/announce-$i.log" 9>&- &
  else
    farms "$mode" "$i" > "$WORK/farms-$i.json"
    ip netns exec "$l" $USERLB run --config "$WORK/farms-$i.json" --engine afpacket --api 127.0.0.1:5555 --key $KEY >"$WORK/userlb-$i.log" 2>&1 9>&- &
    LB_PID[$i]=$!
    disown $!
    local k
    for k in $(seq 100); do grep -q "forwarding with" "$WORK/userlb-$i.log" && break; sleep 0.1; done
    grep -q "forwarding with" "$WORK/userlb-$i.log" || { echo "scale-out.sh: instance $i did not start:" >&2; tail -5 "$WORK/userlb-$i.log" >&2; return 1; }
    ip netns exec "$l" python3 lab/announce.py "${LB_PID[$i]}" http://127.0.0.1:5555/ready "$WORK/bird-l$i.ctl" vip "$WORK/announce-$i.log" 9>&- &
  fi
  WATCH_PID[$i]=$!
}

instances_down() {
  local i
  for i in "${!LB_PID[@]}"; do
    kill -9 "${LB_PID[$i]}" 2>/dev/null || true
    while kill -0 "${LB_PID[$i]}" 2>/dev/null; do sleep 0.05; done
    ip netns exec "${P}l$i" nft delete table netdev tier 2>/dev/null || true
  done
  for i in "${!WATCH_PID[@]}"; do wait "${WATCH_PID[$i]}" 2>/dev/null || true; done
  LB_PID=(); WATCH_PID=()
}

api() { # INSTANCE METHOD PATH
  ip netns exec "${P}l$1" curl -s -m 5 -X "$2" -H "Key: $KEY" "http://127.0.0.1:5555$3"
}
connections() { # MODE INSTANCE: the farm's connections counter (GET /stats); kernel: the SYNs its nft rule counted
  if [ "$1" = kernel ]; then
    ip netns exec "${P}l$2" nft list chain netdev tier ingress 2>/dev/null | grep -o 'packets [0-9]*' | head -1 | cut -d' ' -f2
    return
  fi
  set -- "$2"
  api "$1" GET /stats | python3 -c 'import json,sys; print(sum(f["connections"] for f in json.load(sys.stdin)["farms"]))' 2>/dev/null || echo "?"
}
events_of() { # INSTANCE FILE: the instance's new connections to port 80 as they happen (conntrack -E lines, stamped)
  ip netns exec "${P}l$1" python3 lab/tier.py events http://127.0.0.1:5555 $KEY "$2" 9>&- &
  EV_PIDS+=($!)
}

event() { # MODE: the downloads, the short connections, the victim killed; then a drain of a survivor and its undo
  local mode=$1 i k victim=$VICTIM label d=$((N - 1))
  case "$mode" in nat) label="NAT mode (snat, own source-addr each)" ;; dsr) label="DSR mode (userlb dsr)" ;; kernel) label="kernel stateless DSR (nft netdev fwd, one jhash seed)" ;; esac
  [ "$N" -ge 2 ] || { echo "scale-out.sh: the event needs 2 instances or more" >&2; return 1; }
  for ((i = 0; i < N; i++)); do instance_up "$mode" "$i"; done
  wait_nexthops "$N" 15
  local ev="$WORK/ev-$mode"; mkdir -p "$ev"
  DL_PORT0=$((DL_PORT0 + 1500)) # fresh client ports for each event (no 4-tuple of the last one's still in TIME_WAIT)
  python3 lab/tier.py routes "${P}r" $VIP "$ev/routes.log" & local routes_pid=$!
  EV_PIDS=()
  if [ "$mode" != kernel ]; then
    for ((i = 0; i < N; i++)); do events_of "$i" "$ev/events-$i.log"; done
    for ((i = 0; i < N; i++)); do # until each instance counts its event subscriber
      for k in $(seq 100); do [ "$(api $i GET /stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"]["subscribers"])' 2>/dev/null)" = 1 ] && break; sleep 0.1; done
    done
  fi
  : > "$ev/downloads.txt"
  local dl_pids=()
  for ((k = 0; k < D; k++)); do
    ( rc=0; ip netns exec "${P}c" curl -s --local-port $((DL_PORT0 + 97 * k)) --speed-time 8 --speed-limit 1000 -m 90 \
        -o "$ev/dl.$k" "http://$VIP/blob" || rc=$?
      echo "$((DL_PORT0 + 97 * k)) $rc $([ -f "$ev/dl.$k" ] && sha256sum < "$ev/dl.$k" | cut -d' ' -f1 || echo none)" >> "$ev/downloads.txt"; rm -f "$ev/dl.$k" ) &
    dl_pids+=($!)
  done
  sleep 2
  ip netns exec "${P}c" python3 lab/tier.py short $VIP 80 100 12 5 "$ev/short.jsonl" & local short_pid=$!
  sleep 3.5
  local conns_before=()
  for ((i = 0; i < N; i++)); do conns_before[$i]=$(connections "$mode" "$i"); done
  local kill_at; kill_at=$(date +%s.%N)
  kill -9 "${LB_PID[$victim]}"
  [ "$mode" = kernel ] && ip netns exec "${P}l$victim" nft delete table netdev tier
  sleep 5
  wait "$short_pid" || true
  for pid in "${dl_pids[@]}"; do wait "$pid" || true; done
  for pid in "${EV_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  local conns="{"
  for ((i = 0; i < N; i++)); do
    local c=${conns_before[$i]}
    [ $i = $victim ] || c=$(connections "$mode" "$i")
    conns+="\"$i\":\"$c\","
  done
  conns="${conns%,}}"
  echo "{\"label\":\"$label\",\"kill\":$kill_at,\"victim\":$victim,\"victim_addr\":\"$(front $victim)\",\"instances\":$N,\"window\":4,\"sha256\":\"$SHA\",\"ports\":[$DL_PORT0,$((DL_PORT0 + 97 * (D - 1)))],\"connections\":$conns}" > "$ev/event.json"
  python3 lab/tier.py report "$ev" || true
  [ -z "$SUMMARY" ] || { cat "$ev/summary.json"; echo; } >> "$SUMMARY"
  # Drain a survivor: the route loses its next hop; undo: it comes back.
  [ "$d" != "$victim" ] || d=$((N - 2))
  if [ "$mode" != kernel ] && [ "$N" -ge 2 ]; then
    local t0 t1 t2 t3
    ip netns exec "${P}l$d" $USERLB drain --api 127.0.0.1:5555 --key $KEY | sed 's/^/  userlb drain: /'
    t0=$(date +%s.%N)
    wait_nexthops $((N - 2)) 10 && t1=$(date +%s.%N)
    ip netns exec "${P}l$d" $USERLB drain --undo --api 127.0.0.1:5555 --key $KEY >/dev/null
    t2=$(date +%s.%N)
    wait_nexthops $((N - 1)) 10 && t3=$(date +%s.%N)
    python3 -c "print(f'  drain of instance $d: its next hop left the route {($t1 - $t0) * 1000:.0f} ms after userlb drain returned; back {($t3 - $t2) * 1000:.0f} ms after userlb drain --undo returned')"
  fi
  [ -n "$BIRD_DOWN_SHOWN" ] || bird_down "$d"
  kill "$routes_pid" 2>/dev/null || true
  instances_down
  wait_nexthops 0 10 || true
}

bird_down() { # INSTANCE: its BIRD killed with SIGKILL (userlb runs on): the router's BFD drops the next hop, the
  # watcher logs that BIRD does not answer; BIRD restarted: the watcher announces the VIP again
  local i=$1 t0 t1 t2 t3 pid
  BIRD_DOWN_SHOWN=yes
  pid=$(cat "$WORK/bird-l$i.pid")
  t0=$(date +%s.%N); kill -9 "$pid"
  wait_nexthops $((N - 2)) 10 && t1=$(date +%s.%N)
  sleep 1.5
  ip netns exec "${P}l$i" bird -f -c "$WORK/bird-l$i.conf" -s "$WORK/bird-l$i.ctl" -P "$WORK/bird-l$i.pid" 9>&- &
  disown $!
  t2=$(date +%s.%N)
  wait_nexthops $((N - 1)) 20 && t3=$(date +%s.%N)
  python3 -c "print(f'  BIRD beside instance $i killed (userlb still up): the router dropped its next hop after {($t1 - $t0) * 1000:.0f} ms (its BGP session closed); restarted: announced again after {($t3 - $t2) * 1000:.0f} ms')"
  grep -m1 ' error ' "$WORK/announce-$i.log" | sed 's/^[0-9.]* error /  its watcher logged: /' || echo "  its watcher logged no error"
}

scale() { # MODE: new connections per second through 1..N announcing instances (the others drained)
  local mode=$1 k i
  for ((i = 0; i < N; i++)); do instance_up "$mode" "$i"; done
  wait_nexthops "$N" 15
  [ "$PIN" = 1 ] && for ((i = 0; i < N; i++)); do taskset -a -p -c 1 "${LB_PID[$i]}" >/dev/null; done
  local pids=() note=""
  for ((i = 0; i < N; i++)); do pids+=("${LB_PID[$i]}"); done
  [ "$PIN" = 1 ] && note+="; userlb pinned to CPU 1, wrk to CPU 0"
  # Warm-up, every instance announcing: JIT and tiered compilation of the forwarding path happen here, not in a row.
  ip netns exec "${P}c" python3 lab/tier.py wrk 5 "http://$VIP/" "$WORK/wrk-warmup.txt"
  # The drain endpoints' first calls (compiled then) too; then the tier-up compilations finish before any cap would
  # stretch them over a measured row.
  for ((i = 0; i < N; i++)); do api $i POST /drain >/dev/null; api $i DELETE /drain >/dev/null; done
  wait_nexthops "$N" 15
  sleep 3
  if [ -n "$QUOTA" ]; then
    [ -d /sys/fs/cgroup/cpu ] || { echo "scale-out.sh: --cpu-quota needs the cgroup v1 cpu controller at /sys/fs/cgroup/cpu" >&2; return 1; }
    for ((i = 0; i < N; i++)); do
      local cg="/sys/fs/cgroup/cpu/${P}-l$i"
      mkdir -p "$cg"; echo 50000 > "$cg/cpu.cfs_period_us"; echo $((QUOTA * 500)) > "$cg/cpu.cfs_quota_us"
      echo "${LB_PID[$i]}" > "$cg/cgroup.procs"
    done
    note+="; each userlb capped at $QUOTA % of one CPU (cgroup cpu.cfs_quota_us $((QUOTA * 500)) per 50 ms)"
  fi
  echo "== scaling, $mode mode: wrk -t1 -c64 -d$SECONDS_SCALE (Connection: close) through k announcing instances, after a 5 s warm-up through all$note"
  printf '  %-3s %10s %12s  %-26s %8s %8s %s\n' k "conn/s" "userlb CPU%" "CPU% of instance 0 1 .." "wrk CPU%" "idle%/200" "errors"
  local order=()
  for ((k = 1; k <= N; k++)); do order+=($k); done
  for ((k = N - 1; k >= 1; k--)); do order+=($k); done # and back down: a drift over the run shows as two figures for one k
  for k in "${order[@]}"; do
    for ((i = 0; i < N; i++)); do
      if [ $i -lt $k ]; then api $i DELETE /drain >/dev/null; else api $i POST /drain >/dev/null; fi
    done
    wait_nexthops "$k" 15
    sleep 1
    local tp=(); [ "$PIN" = 1 ] && tp=(taskset -c 0)
    local before after
    before=$(python3 lab/tier.py cpu "${pids[@]}")
    ip netns exec "${P}c" "${tp[@]}" python3 lab/tier.py wrk "$SECONDS_SCALE" "http://$VIP/" "$WORK/wrk-$k.txt"
    after=$(python3 lab/tier.py cpu "${pids[@]}")
    python3 lab/tier.py scale-row "$k" "$WORK/wrk-$k.txt" "$before" "$after" "$SECONDS_SCALE"
  done
  instances_down
  wait_nexthops 0 10 || true
}

WORK=$(mktemp -d /tmp/userlb-tier.XXXXXX)
trap 'instances_down 2>/dev/null; tier_down; rmdir /sys/fs/cgroup/cpu/${P}-l* 2>/dev/null || true; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
install_deps
if [ -z "$USERLB_DLL" ]; then
  echo "== building UserLB"
  dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly -v q >/dev/null
  USERLB_DLL="$(pwd)/src/UserLB.Cli/bin/Release/net10.0/userlb.dll"
fi
USERLB="dotnet $USERLB_DLL"
# The backends send each download at MB/16 per second (nginx limit_rate: on the wire, not from a client's socket
# buffer), so it lasts about 16 s and the kill, about 6 s in, comes mid-transfer.
DL_RATE=$(( MB * 1024 / 16 ))k
mkdir -p "$WORK/www"; head -c "${MB}M" /dev/urandom > "$WORK/www/blob"; SHA=$(sha256sum < "$WORK/www/blob" | cut -d' ' -f1)
topo_up
bird_up
echo "== tier: $N instances behind ECMP (router BIRD, eBGP + BFD, merge paths; fib_multipath_hash_policy=1), 4 backends, VIP $VIP"
for mode in $MODES; do
  if [ "$CMD" = scale ]; then scale "$mode"; else event "$mode"; fi
done
if [ "$KEEP" = 1 ]; then trap - EXIT; echo "== tier kept up (work dir $WORK); remove with lab/scale-out.sh down"; fi
