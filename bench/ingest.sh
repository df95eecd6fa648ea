#!/usr/bin/env bash
# Load test of POST /api/v1/events/actions on the embedded store, beside the machine's ceiling
# (../shared/tools/ceiling) measured in the same run. usage: bench/ingest.sh [seconds] [connections]
# Needs wrk (apt-get install -y wrk). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}; conns=${2:-64}; port=${TALLY_BENCH_PORT:-5181}
. bench/server.sh

wrk -t1 -c"$conns" -d3s -s bench/ingest.lua "http://127.0.0.1:$port/api/v1/events/actions" >/dev/null
wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/ingest.lua "http://127.0.0.1:$port/api/v1/events/actions" | tee "$work/wrk.txt"
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
queue() { curl -fs -H "Authorization: Bearer bench-key" "http://127.0.0.1:$port/api/v1/admin/queue" | grep -Eo '[0-9]+'; }
queue_end=$(queue); sleep 2; queue_later=$(queue)
kill $pid; wait $pid 2>/dev/null || true

echo "--- ceiling (same run) ---"
# Not `tee /dev/stderr`: reopening stderr truncates it when it is a file (bench/ingest.sh ... >log 2>&1 lost wrk's figures).
ceiling_out=$(../shared/tools/ceiling/run.sh "$secs" "$conns")
echo "$ceiling_out"
ceiling=$(echo "$ceiling_out" | awk -F= '/durable_ingest_eps/ {print $2}')
ours=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
echo "tally_eps=$ours"
echo "ceiling_eps=$ceiling"
echo "ratio=$(awk -v a="$ours" -v b="$ceiling" 'BEGIN {printf "%.2f", a/b}')"
echo "server_rss_mb=$((rss_kb / 1024))"
echo "queue_at_end=$queue_end queue_2s_later=$queue_later"
