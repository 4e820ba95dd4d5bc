#!/usr/bin/env bash
# Coverage-guided fuzzing of the engine with AFL++ and SharpFuzz (not part of ./run-tests.sh).
#   tests/UserLB.Fuzz/fuzz.sh [engine|state|config] [SECONDS (600)]     FUZZ_OUT=DIR (default /tmp/userlb-fuzz)
#   FUZZ_REUSE=1: reuse the harness already published and instrumented in FUZZ_OUT (another target, a longer run)
# Installs afl++ (apt) and the sharpfuzz tool (SharpFuzz.CommandLine 2.3.0, NuGet) when missing, publishes the
# harness, instruments UserLB.Packets/Engine/IO in the published copy, writes the seed corpora from captures/, and
# runs afl-fuzz for SECONDS. Findings: $FUZZ_OUT/findings-TARGET/default/{crashes,hangs}; reproduce one with
#   dotnet $FUZZ_OUT/plain/UserLB.Fuzz.dll replay TARGET FILE      (the uninstrumented copy)
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${1:-engine}; SECS=${2:-600}; OUT=${FUZZ_OUT:-/tmp/userlb-fuzz}
case "$TARGET" in engine|state|config) ;; *) sed -n '2,7p' "$0"; exit 2 ;; esac
if ! command -v afl-fuzz >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi
SHARPFUZZ=${SHARPFUZZ:-$(command -v sharpfuzz || echo /opt/sharpfuzz/sharpfuzz)}
if [ ! -x "$SHARPFUZZ" ]; then
  dotnet tool install --tool-path /opt/sharpfuzz SharpFuzz.CommandLine --version 2.3.0 >/dev/null
  SHARPFUZZ=/opt/sharpfuzz/sharpfuzz
fi
mkdir -p "$OUT"
if [ "${FUZZ_REUSE:-0}" != 1 ] || [ ! -f "$OUT/bin/UserLB.Fuzz.dll" ]; then
rm -rf "$OUT/bin" "$OUT/plain"
# plain: as built, for seeds and replay (instrumented code needs afl-fuzz's shared memory); bin: instrumented copy.
dotnet publish tests/UserLB.Fuzz -c Release -o "$OUT/plain" -nologo -clp:ErrorsOnly >/dev/null
dotnet "$OUT/plain/UserLB.Fuzz.dll" seeds "$OUT/seeds" >/dev/null
cp -r "$OUT/plain" "$OUT/bin"
for dll in UserLB.Packets UserLB.Engine UserLB.IO; do "$SHARPFUZZ" "$OUT/bin/$dll.dll" >/dev/null; done
fi
# dotnet is not AFL-instrumented itself (SharpFuzz instruments the IL); no core dumps needed; a loaded machine.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
exec afl-fuzz -V "$SECS" -t 5000 -m none -i "$OUT/seeds/$TARGET" -o "$OUT/findings-$TARGET" -- dotnet "$OUT/bin/UserLB.Fuzz.dll" "$TARGET"
