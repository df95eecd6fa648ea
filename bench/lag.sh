#!/usr/bin/env bash
# End-to-end processing lag: 1,000 active order rules, order events offered at a fixed rate (open loop),
# lag = processed_at - received_at of every event, read from the embedded store afterwards.
# usage: bench/lag.sh [events/s] [seconds] [rules]. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-5000}; secs=${2:-20}; rules=${3:-1000}; port=${TALLY_BENCH_PORT:-5187}
. bench/server.sh
dotnet build bench/Tally.Load -c Release -o "$work/load" -v q -nologo >/dev/null
bench/publish-rules.sh "http://127.0.0.1:$port" bench-key "$rules" order
dotnet "$work/load/Tally.Load.dll" "http://127.0.0.1:$port" bench-key "$rate" "$secs" "$work/data/tally.db"
echo "server_rss_mb=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))"
