#!/usr/bin/env bash
# The test command: builds everything (warnings are errors) and runs the xunit projects, printing the runner's summary.
#   ./run-tests.sh          every project (what CI runs: .ci/run)
#   ./run-tests.sh unit     every project but the lab tests (tests/UserLB.Lab.Tests): no network namespaces
#   ./run-tests.sh lab      only the lab tests (real traffic in network namespaces; root, else they report skipped)
set -euo pipefail
cd "$(dirname "$0")"
MODE=${1:-all}
case "$MODE" in
  all|unit|lab) ;;
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
  *) echo "run-tests.sh: unknown argument $MODE (all, unit or lab)" >&2; exit 2 ;;
esac
LAB=tests/UserLB.Lab.Tests/UserLB.Lab.Tests.csproj
need=()
command -v dotnet >/dev/null || { echo "run-tests.sh: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  [ -e /usr/lib/x86_64-linux-gnu/libpcap.so.0.8 ] || ls /usr/lib/*/libpcap.so* >/dev/null 2>&1 || need+=(libpcap0.8)
  if [ "$MODE" != lab ]; then
    command -v tshark >/dev/null || need+=(tshark)         # replay's pcapng outputs read back by Wireshark's dissectors
    command -v chromium >/dev/null || need+=(chromium)     # the timeline page rendered headless (TimelineBrowserTests)
  fi
  if [ "$MODE" != unit ]; then
    command -v ip >/dev/null || need+=(iproute2)
    command -v ethtool >/dev/null || need+=(ethtool)       # the lab tests' offloads-off runs turn veth offloads off
    command -v iptables >/dev/null || need+=(iptables)     # the kernel reference rules (differential test)
    command -v python3 >/dev/null || need+=(python3)       # lab servers and probes
    command -v curl >/dev/null || need+=(curl)             # API lab tests
    command -v hping3 >/dev/null || need+=(hping3)         # the full-speed SYN flood (SynFloodLabTests)
    command -v iperf3 >/dev/null || need+=(iperf3)         # the bulk stream under a SYN flood (SynFloodStreamLabTests)
    command -v bird >/dev/null || need+=(bird2)            # the scale-out tier's BGP speakers and router (TierLabTests)
    command -v nginx >/dev/null || need+=(nginx-light)     # the tier's backends
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "run-tests.sh: installing ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null || echo "run-tests.sh: could not install ${need[*]}; tests needing them will be skipped" >&2
  fi
fi
dotnet build UserLB.sln -c Release -nologo -clp:ErrorsOnly
case "$MODE" in
  all) dotnet test UserLB.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" ;;
  # unit: the lab assembly is loaded but the filter selects none of its tests (it says "No test matches …").
  unit) dotnet test UserLB.sln -c Release --no-build -nologo --logger "console;verbosity=minimal" --filter "FullyQualifiedName!~UserLB.Lab.Tests." ;;
  lab) dotnet test "$LAB" -c Release --no-build -nologo --logger "console;verbosity=minimal" ;;
esac
