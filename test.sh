#!/usr/bin/env bash
# Runs the whole test suite, on the embedded store and on PostgreSQL.
# Needs only the .NET SDK: PostgreSQL comes from Debian's packages, installed if missing, and runs
# from a throw-away folder on a free port for the length of the run.
# Set TALLY_TEST_POSTGRES to a connection string to use a server of your own instead.
set -euo pipefail
cd "$(dirname "$0")"

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ -z "${TALLY_TEST_POSTGRES:-}" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pgbin" ]; then
    echo "Installing PostgreSQL (Debian package postgresql)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  pgdir=$(mktemp -d /tmp/tally-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
  port=$(( 20000 + RANDOM % 20000 ))
  as_postgres "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  # fsync off: the tests kill Tally, never the machine, so PostgreSQL's own flushes add only time.
  as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  trap 'as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"' EXIT
  export TALLY_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on port $port"
fi

log=$(mktemp)
set +e
dotnet test Tally.slnx -c Release --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line for CI: "N passed, N failed".
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
echo "$passed passed, $failed failed"
exit "$status"
