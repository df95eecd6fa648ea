#!/usr/bin/env bash
# Worker throughput with live rules: publishes N action rules (points, pointsRate, nth, everyNth, repeat,
# segment and attribute conditions spread over the ingest.lua namespaces), loads POST /api/v1/events/actions
# with wrk, then times how long the worker takes to drain the queue. usage: bench/rules.sh [rules] [seconds] [connections]
# TALLY_BENCH_SPLIT=1: ingest with the worker off, then restart with it on and time the drain alone (the worker's own rate).
set -euo pipefail
cd "$(dirname "$0")/.."
rules=${1:-50}; secs=${2:-10}; conns=${3:-64}; port=${TALLY_BENCH_PORT:-5182}
. bench/build.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_or_die publish src/Tally.Server "$work/app"
split=${TALLY_BENCH_SPLIT:-0}
start_server() {
  TALLY_DATA_DIR="$work/data" TALLY_BOOTSTRAP_API_KEY=bench-key Logging__LogLevel__Default=Warning Tally__RunWorker=$1 \
    dotnet "$work/app/Tally.Server.dll" --urls "http://127.0.0.1:$port" >>"$work/server.log" 2>&1 &
  pid=$!
}
start_server $([ "$split" = 1 ] && echo false || echo true)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done

namespaces=(Customer.Registration Page.View Survey.Completed Game.Completed Cart.Add)
conditions=('' ', {"nth": 3}' ', {"everyNth": 5}' ', {"repeat": {"times": 3, "within": "P30D"}}' ', {"field": "attributes.channel", "op": "eq", "value": "web"}'
  ', {"not": {"segment": "vip"}}' ', {"field": "action.amount", "op": "gt", "value": 50}')
outcomes=('[{"type": "points", "points": 10}]' '[{"type": "pointsRate", "rate": 2, "of": "action.amount"}]' '[{"type": "points", "points": 1}, {"type": "addToSegment", "segment": "vip"}]')
for i in $(seq 0 $((rules - 1))); do
  ns=${namespaces[$((i % 5))]}; cond=${conditions[$((i % 7))]}; out=${outcomes[$((i % 3))]}
  body="{\"name\": \"bench $i\", \"eventType\": \"action\", \"status\": \"active\", \"priority\": $i,
    \"conditions\": {\"all\": [{\"field\": \"nameSpace\", \"op\": \"eq\", \"value\": \"$ns\"}$cond]}, \"outcomes\": $out}"
  curl -fs -o /dev/null -H "Authorization: Bearer bench-key" -H "Content-Type: application/json" -d "$body" "http://127.0.0.1:$port/api/v1/rules"
done

queue() { curl -fs -H "Authorization: Bearer bench-key" "http://127.0.0.1:$port/api/v1/admin/queue" | grep -Eo '[0-9]+' | head -1; }
wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/ingest.lua "http://127.0.0.1:$port/api/v1/events/actions" | tee "$work/wrk.txt"
if [ "$split" = 1 ]; then
  kill $pid; wait $pid 2>/dev/null || true
  start_server true
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  secs=0
fi
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
start=$(date +%s.%N); left=$(queue); cpu0=$(cpu)
while [ "$(queue)" != "0" ]; do sleep 0.2; done
cpu1=$(cpu)
drain=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
total=$(sqlite3 "$work/data/tally.db" "SELECT COUNT(*) FROM events" 2>/dev/null || echo "?")
elapsed=$(awk -v a="$secs" -v d="$drain" 'BEGIN {print a + d}')
echo "rules=$rules events=$total ingest_eps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") queue_after_load=$left drain_s=$drain"
[ "$total" != "?" ] && echo "processed_eps=$(awk -v n="$total" -v t="$elapsed" 'BEGIN {printf "%.0f", n / t}') (all events over load + drain time)"
[ "$split" = 1 ] && echo "worker_cpu_ms_per_queued_event=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$left" 'BEGIN {printf "%.2f", (b - a) * 1000 / 100 / n}') (server CPU during the drain / events queued; includes points events the awards add)"
echo "load_average=$(cut -d' ' -f1 /proc/loadavg)"
