#!/usr/bin/env bash
# Runs the whole test suite, on the embedded store and on PostgreSQL.
# Needs only the .NET SDK: PostgreSQL comes from Debian's packages, installed if missing, and runs
# from a throw-away folder on a free port for the length of the run.
# Set TALLY_TEST_POSTGRES to a connection string to use a server of your own instead.
set -euo pipefail
cd "$(dirname "$0")"

. bench/postgres.sh

if [ -z "${TALLY_TEST_POSTGRES:-}" ]; then
  # fsync off: the tests kill Tally, never the machine, so PostgreSQL's own flushes add only time.
  start_postgres fsync=off
  trap stop_postgres EXIT
  export TALLY_TEST_POSTGRES="$pg_conn"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on port $pgport"
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
