#!/usr/bin/env bash
# The worker alone: seeds a store with queued orders (worker off, 1,000 order rules by default), then drains copies of it
# with the worker on and prints orders/s and server CPU per order. With TALLY_DRAIN_BASE=<git ref>, that ref is built
# too, seeds the store, and the two builds drain it in turn (base, this, this, base, ...): on a VM whose speed drifts within
# the hour, only such pairs compare. usage: bench/drain.sh [orders] [rules] [rounds]; TALLY_LOAD_CUSTOMERS=<n> spreads the orders over n
# customers (5,000 by default; fewer make loyal customers with many open lots); TALLY_DRAIN_PROGRAM=<json> puts that
# program (PUT /api/v1/program, e.g. spend-based tiers) before the orders are queued; TALLY_DRAIN_WARMUP=<s> (4 by default)
# is how long a drain runs before it is measured (with 1,000 rules the JIT is still busy after 4 s: give it 10 and enough
# orders to last beyond); TALLY_DRAIN_KEEP=<dir> keeps the last drain's server log there, and its SQLite store (e.g. for sqlite3's dbstat). Besides the
# time and CPU (TALLY_DRAIN_LOG=<level> sets the server log's level, Warning by default), each drain prints the bytes and write calls the server made per order. TALLY_DRAIN_POSTGRES=1 runs it on
# PostgreSQL instead (a throw-away cluster from bench/postgres.sh, fsync on; each drain on a copy of the seeded database
# made with CREATE DATABASE ... TEMPLATE); the CPU per order then adds PostgreSQL's processes to the server's. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-30000}; rules=${2:-1000}; rounds=${3:-2}; port=${TALLY_BENCH_PORT:-5189}
warmup=${TALLY_DRAIN_WARMUP:-4}
base=${TALLY_DRAIN_BASE:-}
postgres=${TALLY_DRAIN_POSTGRES:-}
. bench/build.sh
. bench/postgres.sh
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  [ -d "$work/base-src" ] && git worktree remove --force "$work/base-src" >/dev/null 2>&1
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT
pg_db=
if [ -n "$postgres" ]; then
  # A bench server's usual settings beside the defaults: room for the working set and for WAL between checkpoints.
  # pg_stat_statements: after each drain, the statements that took PostgreSQL's time are printed.
  start_postgres shared_buffers=1GB max_wal_size=4GB shared_preload_libraries=pg_stat_statements
  $pg_psql -c "CREATE DATABASE seed"
  $pg_psql -d seed -c "CREATE EXTENSION pg_stat_statements"
fi

build_or_die publish src/Tally.Server "$work/app"
build_or_die build bench/Tally.Load "$work/load"
builds=("$work/app")
if [ -n "$base" ]; then
  git worktree add --detach "$work/base-src" "$base" >/dev/null 2>&1
  build_or_die publish "$work/base-src/src/Tally.Server" "$work/base"
  builds=("$work/base" "$work/app")
fi

# start APP DIR: the server from DIR (its data in DIR/data), as a user runs it; sets $pid.
start() {
  local store=(); [ -n "$pg_db" ] && store=("ConnectionStrings__Postgres=$pg_conn;Database=$pg_db")
  (cd "$2" && exec env "${store[@]}" TALLY_BOOTSTRAP_API_KEY=bench-key Logging__LogLevel__Default="${TALLY_DRAIN_LOG:-Warning}" \
    dotnet "$1/Tally.Server.dll" --urls "http://127.0.0.1:$port" >>"$2/server.log" 2>&1) &
  pid=$!
  for _ in $(seq 150); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.2; done
  echo "drain: the server did not start" >&2; cat "$2/server.log" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

mkdir "$work/seed"
# Seeded by the base when there is one: this tree's build upgrades an older store at start, never the other way round.
[ -n "$postgres" ] && pg_db=seed
Tally__RunWorker=false start "${builds[0]}" "$work/seed"
bench/publish-rules.sh "http://127.0.0.1:$port" bench-key "$rules" order >/dev/null
if [ -n "${TALLY_DRAIN_PROGRAM:-}" ]; then
  curl -fs -X PUT -H "Authorization: Bearer bench-key" -H "Content-Type: application/json" \
    -d "$TALLY_DRAIN_PROGRAM" "http://127.0.0.1:$port/api/v1/program" >/dev/null
fi
dotnet "$work/load/Tally.Load.dll" "http://127.0.0.1:$port" bench-key 5000 $(( (orders + 4999) / 5000 )) "$work/seed/data/tally.db" offer-only
stop

queue() { curl -fs -m 5 -H "Authorization: Bearer bench-key" "http://127.0.0.1:$port/api/v1/admin/queue" | grep -Eo '[0-9]+' | head -1; }
# The server's CPU (clock ticks), and on PostgreSQL its processes' too (pooled connections: the backends live throughout).
cpu() {
  local pids=("$pid"); [ -n "$postgres" ] && pids+=($(pgrep -u postgres || true))
  for p in "${pids[@]}"; do cat "/proc/$p/stat" 2>/dev/null || true; done | awk '{s += $14 + $15} END {print s}'
}
# Bytes the server had the kernel write (WAL frames and checkpoints) and its write calls: pages per order, unlike time, do
# not drift with the VM.
written() { awk '/^write_bytes/ {b = $2} /^syscw/ {c = $2} END {print b, c}' "/proc/$pid/io"; }
for round in $(seq "$rounds"); do
  # Alternate who goes first (base, this, this, base, ...): the second drain of a pair tends to run slower.
  order=("${builds[@]}")
  [ $((round % 2)) -eq 0 ] && [ ${#builds[@]} -eq 2 ] && order=("${builds[1]}" "${builds[0]}")
  for app in "${order[@]}"; do
    run="$work/run"; rm -rf "$run"; mkdir "$run"
    if [ -n "$postgres" ]; then
      pg_db=run; $pg_psql -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS run" -c "CREATE DATABASE run TEMPLATE seed"
    else
      cp -r "$work/seed/data" "$run/"
    fi
    start "$app" "$run"
    # The first seconds warm the JIT up; the figures are over the rest of the drain.
    sleep "$warmup"
    [ -n "$postgres" ] && $pg_psql -d run -c "SELECT pg_stat_statements_reset()" >/dev/null
    t0=$(date +%s.%N); c0=$(cpu); read -r w0 s0 <<<"$(written)"; left=$(queue)
    while [ "$(queue)" != "0" ]; do sleep 0.5; done
    c1=$(cpu); read -r w1 s1 <<<"$(written)"; t1=$(date +%s.%N)
    stop
    if [ -n "${TALLY_DRAIN_KEEP:-}" ]; then
      rm -rf "$TALLY_DRAIN_KEEP"; mkdir -p "$TALLY_DRAIN_KEEP"; cp "$run/server.log" "$TALLY_DRAIN_KEEP/"
      if [ -z "$postgres" ]; then cp -r "$run/data/." "$TALLY_DRAIN_KEEP/"; fi
    fi
    name=this; [ "$app" = "$work/base" ] && name="base ($base)"
    awk -v r="$round" -v n="$name" -v left="$left" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
      -v w="$((w1 - w0))" -v s="$((s1 - s0))" 'BEGIN {
      printf "round=%s build=%s drained=%d seconds=%.2f orders_per_s=%.0f server_cpu_us_per_order=%.0f kb_written_per_order=%.1f writes_per_order=%.1f\n",
        r, n, left, t1 - t0, left / (t1 - t0), (c1 - c0) * 10000 / left, w / 1024 / left, s / left }'
    if [ -n "$postgres" ]; then
      $pg_psql -d run -F ' | ' -c "SELECT round(total_exec_time::numeric * 1000 / $left) AS us_per_order, calls, round(mean_exec_time::numeric * 1000) AS us_per_call,
        regexp_replace(left(query, 110), '\s+', ' ', 'g') FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"
    fi
  done
done
