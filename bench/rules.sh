#!/usr/bin/env bash
# Worker throughput with live rules: publishes N action rules (points, pointsRate, nth, everyNth, repeat,
# segment and attribute conditions spread over the ingest.lua namespaces), loads POST /api/v1/events/actions
# with wrk, then times how long the worker takes to drain the queue. usage: bench/rules.sh [rules] [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
rules=${1:-50}; secs=${2:-10}; conns=${3:-64}; port=${TALLY_BENCH_PORT:-5182}
work=$(mktemp -d)
dotnet publish src/Tally.Server -c Release -o "$work/app" -v q -nologo >/dev/null
TALLY_DATA_DIR="$work/data" TALLY_BOOTSTRAP_API_KEY=bench-key Logging__LogLevel__Default=Warning \
  dotnet "$work/app/Tally.Server.dll" --urls "http://127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
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
start=$(date +%s.%N); left=$(queue)
while [ "$(queue)" != "0" ]; do sleep 0.2; done
drain=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
total=$(sqlite3 "$work/data/tally.db" "SELECT COUNT(*) FROM events" 2>/dev/null || echo "?")
elapsed=$(awk -v a="$secs" -v d="$drain" 'BEGIN {print a + d}')
echo "rules=$rules events=$total ingest_eps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") queue_after_load=$left drain_s=$drain"
[ "$total" != "?" ] && echo "processed_eps=$(awk -v n="$total" -v t="$elapsed" 'BEGIN {printf "%.0f", n / t}') (all events over load + drain time)"
echo "load_average=$(cut -d' ' -f1 /proc/loadavg)"
