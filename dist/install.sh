#!/usr/bin/env bash
# Builds userlb as one self-contained file (no .NET SDK or runtime needed on the host) and, with --install, installs it
# as a systemd service (dist/userlb.service) running as the system user userlb with CAP_NET_RAW alone.
#   dist/install.sh [--out DIR]     publish to DIR (default dist/out): DIR/userlb
#   dist/install.sh --install       publish, then install: /usr/local/bin/userlb, /etc/systemd/system/userlb.service,
#                                   /etc/userlb/userlb.env (example key, 0600) and /etc/userlb/farms.json ({"farms": []})
#                                   when absent, the user userlb; then `systemctl enable --now userlb`
# The host needs libpcap only for --engine pcap (apt-get install libpcap0.8).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/out install=no
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --install) install=yes; shift ;;
    *) echo "usage: dist/install.sh [--out DIR] [--install]" >&2; exit 2 ;;
  esac
done
dotnet publish src/UserLB.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:DebugType=none \
  -p:GenerateDocumentationFile=false -o "$out" -nologo
"$out/userlb" version
[ "$install" = yes ] || exit 0
[ "$(id -u)" = 0 ] || { echo "install: needs root" >&2; exit 1; }
install -m 0755 "$out/userlb" /usr/local/bin/userlb
id userlb >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin userlb
install -d -m 0755 /etc/userlb
[ -e /etc/userlb/userlb.env ] || install -m 0600 dist/userlb.env /etc/userlb/userlb.env
[ -e /etc/userlb/farms.json ] || echo '{"farms": []}' > /etc/userlb/farms.json
install -m 0644 dist/userlb.service /etc/systemd/system/userlb.service
systemctl daemon-reload
systemctl enable --now userlb
