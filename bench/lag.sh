#!/usr/bin/env bash
# End-to-end processing lag: 1,000 active order rules, order events offered at a fixed rate (open loop),
# lag = processed_at - received_at of every event, read from the embedded store afterwards, and lag from the send
# (processed_at - the moment the load generator offered it: includes any wait in the client).
# usage: bench/lag.sh [events/s] [seconds] [rules]. Loopback only. TALLY_LOAD_WARMUP=<seconds> offers warm-up orders at the
# same rate first and waits for them to be processed (a warm server; they are left out of the figures).
# TALLY_BENCH_SPLIT=1: offer with the worker off, then restart with it on and time the drain alone: the worker's own
# rate and its server CPU per queued order (what decides the sustainable rate on SQLite's single writer).
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-5000}; secs=${2:-20}; rules=${3:-1000}; port=${TALLY_BENCH_PORT:-5187}
split=${TALLY_BENCH_SPLIT:-0}
[ "$split" = 1 ] && export Tally__RunWorker=false
. bench/server.sh
build_or_die build bench/Tally.Load "$work/load"
bench/publish-rules.sh "http://127.0.0.1:$port" bench-key "$rules" order
if [ "$split" != 1 ]; then
  dotnet "$work/load/Tally.Load.dll" "http://127.0.0.1:$port" bench-key "$rate" "$secs" "$work/data/tally.db"
  echo "server_rss_mb=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))"
  exit 0
fi
dotnet "$work/load/Tally.Load.dll" "http://127.0.0.1:$port" bench-key "$rate" "$secs" "$work/data/tally.db" offer-only
kill $pid; wait $pid 2>/dev/null || true
export Tally__RunWorker=true
TALLY_DATA_DIR="$work/data" Logging__LogLevel__Default=Warning \
  dotnet "$work/app/Tally.Server.dll" --urls "http://127.0.0.1:$port" >>"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
queue() { curl -fs -H "Authorization: Bearer bench-key" "http://127.0.0.1:$port/api/v1/admin/queue" | grep -Eo '[0-9]+' | head -1; }
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
# The first 5 s of the drain warm the JIT up; the figures are over the rest of it.
sleep 5
start=$(date +%s.%N); cpu0=$(cpu); left=$(queue)
while [ "$(queue)" != "0" ]; do sleep 0.5; done  # a coarser poll: curl+grep ten times a second took ~20% of a core
cpu1=$(cpu)
drain=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
echo "queued_after_warmup=$left drain_s=$drain events_per_s=$(awk -v n="$left" -v d="$drain" 'BEGIN {printf "%.0f", n / d}')"
echo "worker_cpu_us_per_event=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$left" 'BEGIN {printf "%.0f", (b - a) * 10000 / n}') load_average=$(cut -d' ' -f1 /proc/loadavg)"
