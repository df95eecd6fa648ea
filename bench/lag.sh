#!/usr/bin/env bash
# End-to-end processing lag: 1,000 active order rules, order events offered at a fixed rate (open loop),
# lag = processed_at - received_at of every event, read from the embedded store afterwards.
# usage: bench/lag.sh [events/s] [seconds] [rules]. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-5000}; secs=${2:-20}; rules=${3:-1000}; port=${TALLY_BENCH_PORT:-5187}
work=$(mktemp -d)
dotnet publish src/Tally.Server -c Release -o "$work/app" -v q -nologo >/dev/null
dotnet build bench/Tally.Load -c Release -o "$work/load" -v q -nologo >/dev/null
TALLY_DATA_DIR="$work/data" TALLY_BOOTSTRAP_API_KEY=bench-key Logging__LogLevel__Default=Warning \
  dotnet "$work/app/Tally.Server.dll" --urls "http://127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
bench/publish-rules.sh "http://127.0.0.1:$port" bench-key "$rules" order
dotnet "$work/load/Tally.Load.dll" "http://127.0.0.1:$port" bench-key "$rate" "$secs" "$work/data/tally.db"
echo "server_rss_mb=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))"
