#!/usr/bin/env bash
# Memory after a million events: ingests at least N events (default 1,000,000) into the embedded store with wrk,
# 64 connections, then reports the server's RSS, the queue depth and the size of the data folder.
# usage: bench/million.sh [events] [connections]. Needs wrk. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-1000000}; conns=${2:-64}; port=${TALLY_BENCH_PORT:-5184}
. bench/server.sh

total=0; errors=0; start=$(date +%s)
while [ "$total" -lt "$target" ]; do
  out=$(wrk -t1 -c"$conns" -d30s -s bench/ingest.lua "http://127.0.0.1:$port/api/v1/events/actions")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  e=$(echo "$out" | awk '/Non-2xx/ {print $NF}'); e=${e:-0}
  total=$((total + n)); errors=$((errors + e))
  echo "ingested=$total rss_mb=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))"
done
elapsed=$(( $(date +%s) - start ))
queue() { curl -fs -H "Authorization: Bearer bench-key" "http://127.0.0.1:$port/api/v1/admin/queue" | grep -Eo '[0-9]+'; }
echo "events=$total errors=$errors seconds=$elapsed"
echo "rss_mb_after=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))"
echo "rss_peak_mb=$(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 ))"
echo "queue_at_end=$(queue)"
echo "data_mb=$(du -sm "$work/data" | cut -f1)"
