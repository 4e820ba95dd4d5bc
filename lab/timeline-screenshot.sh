#!/usr/bin/env bash
# docs/img/timeline.png: the reference capture (captures/ref-snat) replayed with --timeline, rendered by headless
# Chromium with name resolution disabled (the page fetches nothing). Needs chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "timeline-screenshot.sh: needs chromium (apt-get install chromium)" >&2; exit 1; }
dotnet build src/UserLB.Cli/UserLB.Cli.csproj -c Release -nologo -clp:ErrorsOnly >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src/UserLB.Cli/bin/Release/net10.0/userlb replay --config captures/ref-snat/farms.json --in captures/ref-snat/in.pcap \
  --out "$tmp/out.pcapng" --events "$tmp/events.jsonl" --packet-events --timeline "$tmp/timeline.html" --seed 1
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --host-resolver-rules="MAP * ~NOTFOUND" \
  --user-data-dir="$tmp/profile" --window-size=1320,340 --screenshot=docs/img/timeline.png "file://$tmp/timeline.html" 2>/dev/null
echo "docs/img/timeline.png written"
