#!/usr/bin/env bash
# The views on a live instance, for the README and for students: builds the lab (lab/topo.sh, namespaces
# ${USERLB_LAB_PREFIX:-vw}c, …lb, …), runs `userlb run` with its API in the LB namespace, makes traffic from the client
# (6 HTTP requests, 6 UDP exchanges and one TCP connection held open) while `userlb conntrack -E` listens (and
# `conntrack -E -o json`, drawn with `userlb timeline`), then shows userlb status, stats, conntrack -L/-C/-D and
# GET /metrics. Everything it made is removed on exit.
#   lab/views-demo.sh [--engine pcap|afpacket]
set -euo pipefail
cd "$(dirname "$0")/.."
P=${USERLB_LAB_PREFIX:-vw}; ENGINE=pcap
[ "${1:-}" = --engine ] && ENGINE=$2
[ "$(id -u)" = 0 ] || { echo "views-demo.sh: must run as root (network namespaces)" >&2; exit 1; }
mkdir -p /run/lock; exec 9>"/run/lock/userlb-lab-$P.lock"; flock 9
WORK=$(mktemp -d /tmp/userlb-views.XXXXXX)
source lab/topo.sh
trap 'lab_down "$P"; rm -rf "$WORK"' EXIT
dotnet build src/UserLB.Cli -c Release -nologo -clp:ErrorsOnly -v q >/dev/null
USERLB="dotnet $(pwd)/src/UserLB.Cli/bin/Release/net10.0/userlb.dll"
lab_up "$P" veth "$WORK"
cat >"$WORK/farms.json" <<JSON
{"farms":[
 {"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"tcp","mode":"snat","scheduler":"weight","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10","weight":"1"},{"name":"bck1","ip-addr":"192.168.1.11","weight":"2"}]},
 {"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"5000","protocol":"udp","mode":"dnat","scheduler":"rr","iface":"lbc","oface":"lbs",
  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
JSON
LB="ip netns exec ${P}lb"
export USERLB_KEY=demo-key
$LB $USERLB run --config "$WORK/farms.json" --engine "$ENGINE" --seed 7 >"$WORK/userlb.log" 2>&1 &
UPID=$!
for _ in $(seq 100); do $LB $USERLB status --json >/dev/null 2>&1 && break; sleep 0.2; done
show() { echo "\$ userlb $*"; local rc=0; $LB $USERLB "$@" 2>&1 || rc=$?; [ $rc = 0 ] || echo "(exit status $rc)"; echo; }

$LB $USERLB conntrack -E >"$WORK/events" 2>&1 &
EVENTS=$!
$LB $USERLB conntrack -E -o json >"$WORK/events.jsonl" 2>"$WORK/events-json.err" &
JSON=$!
$LB $USERLB conntrack -E -o timestamp,id -p udp >"$WORK/events-ts" 2>&1 &
STAMPED=$!
sleep 0.5
ip netns exec "${P}c" python3 lab/client.py 192.168.101.250 80 5000 6 >/dev/null
ip netns exec "${P}c" python3 -c 'import socket,time; s=socket.create_connection(("192.168.101.250",80)); time.sleep(20)' &
sleep 1
kill "$EVENTS" "$JSON" "$STAMPED"; wait "$EVENTS" "$JSON" "$STAMPED" 2>/dev/null || true
echo "\$ userlb conntrack -E        # while the client made its requests (first 8 lines)"
head -8 "$WORK/events"; echo
echo "\$ userlb conntrack -E -o timestamp,id -p udp        # at the same time (first 2 lines)"
head -2 "$WORK/events-ts"; echo
echo "\$ userlb conntrack -E -o json > events.jsonl        # at the same time: $(wc -l <"$WORK/events.jsonl") lines, the first:"
head -1 "$WORK/events.jsonl"; echo
echo "\$ userlb timeline --events events.jsonl --out live.html"
$USERLB timeline --events "$WORK/events.jsonl" --out "$WORK/live.html" 2>&1
echo "  lanes: $(grep -c '<g class="lane"' "$WORK/live.html"), NEW events: $(grep -c '"event":"NEW"' "$WORK/events.jsonl")"
[ -n "${TIMELINE_OUT:-}" ] && cp "$WORK/live.html" "$TIMELINE_OUT"
echo

show status
show stats
show conntrack -L -p tcp --state ESTABLISHED
show conntrack -L -p tcp --state ESTABLISHED -o extended,id
show conntrack -L --farm dns --backend bck1
show conntrack -C
show conntrack -C -p tcp --dport 80 --state TIME_WAIT
show conntrack -D --farm dns
show conntrack -L --dport abc
echo "\$ curl -s http://127.0.0.1:5555/metrics | grep -E '^userlb_(backend_connections_total|backend_up|farm_active|drops_total\{reason=\"no_farm|conntrack_entries|queue_depth)'"
$LB curl -s http://127.0.0.1:5555/metrics | grep -E '^userlb_(backend_connections_total|backend_up|farm_active|drops_total\{reason="no_farm|conntrack_entries|queue_depth)'
echo
kill "$UPID" 2>/dev/null || true; wait "$UPID" 2>/dev/null || true
echo "\$ userlb status              # after the instance stopped"
$LB $USERLB status 2>&1 || echo "(exit status $?)"
