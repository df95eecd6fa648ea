#!/usr/bin/env bash
# Balance reads of loyal customers: orders (1,000 order rules, 5 awards each on average) over TALLY_LOAD_CUSTOMERS customers
# (default 100, so each holds hundreds of unspent lots under the default program, where points never expire), then
# GET .../balance at 16 connections. usage: bench/balance.sh [orders] [seconds]. Needs wrk. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-20000}; secs=${2:-10}; port=${TALLY_BENCH_PORT:-5187}
export TALLY_LOAD_CUSTOMERS=${TALLY_LOAD_CUSTOMERS:-100}
. bench/server.sh
build_or_die build bench/Tally.Load "$work/load"
bench/publish-rules.sh "http://127.0.0.1:$port" bench-key 1000 order >/dev/null
dotnet "$work/load/Tally.Load.dll" "http://127.0.0.1:$port" bench-key 4000 $(( (orders + 3999) / 4000 )) "$work/data/tally.db" | grep -E "offered|processed"
wrk -t1 -c16 -d3s -s bench/balance.lua "http://127.0.0.1:$port" >/dev/null
wrk -t1 -c16 -d"${secs}s" --latency -s bench/balance.lua "http://127.0.0.1:$port" | grep -E "Requests/sec|50%|99%|Non-2xx"
