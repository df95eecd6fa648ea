#!/usr/bin/env bash
# Basket assessment over HTTP: 1,000 active basket rules, 50-line baskets, 16 connections, embedded store.
# usage: bench/basket.sh [seconds] [connections] [rules]. Needs wrk. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}; conns=${2:-16}; rules=${3:-1000}; port=${TALLY_BENCH_PORT:-5186}
. bench/server.sh
bench/publish-rules.sh "http://127.0.0.1:$port" bench-key "$rules" basket
wrk -t1 -c"$conns" -d5s -s bench/basket.lua "http://127.0.0.1:$port/api/v1/events/basket" >/dev/null
wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/basket.lua "http://127.0.0.1:$port/api/v1/events/basket"
echo "server_rss_mb=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))"
