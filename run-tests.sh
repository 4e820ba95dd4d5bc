#!/usr/bin/env bash
# The test command: builds everything (warnings are errors) and runs every xunit project, printing the runner's summary.
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v dotnet >/dev/null || { echo "run-tests.sh: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  [ -e /usr/lib/x86_64-linux-gnu/libpcap.so.0.8 ] || ls /usr/lib/*/libpcap.so* >/dev/null 2>&1 || need+=(libpcap0.8)
  command -v ip >/dev/null || need+=(iproute2)
  command -v ethtool >/dev/null || need+=(ethtool)       # the lab tests turn veth offloads off
  command -v iptables >/dev/null || need+=(iptables)     # the kernel reference rules (differential test)
  command -v python3 >/dev/null || need+=(python3)       # lab servers and probes
  command -v curl >/dev/null || need+=(curl)             # API lab tests
  if [ ${#need[@]} -gt 0 ]; then
    echo "run-tests.sh: installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null || echo "run-tests.sh: could not install ${need[*]}; tests needing them will be skipped" >&2
  fi
fi
dotnet build UserLB.sln -c Release -nologo -clp:ErrorsOnly
dotnet test UserLB.sln -c Release --no-build -nologo --logger "console;verbosity=minimal"
