# Sourced by test.sh and the bench scripts. start_postgres [postgres -c options...]: a throw-away PostgreSQL from Debian's
# packages (installed if missing) in a temporary folder on a free loopback port, as root or not; sets $pg_conn (an Npgsql
# connection string without a database) and $pg_psql (psql as the cluster's owner, for set-up). stop_postgres removes it.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_postgres() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pgbin" ]; then
    echo "Installing PostgreSQL (Debian package postgresql)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  pgdir=$(mktemp -d /tmp/tally-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
  pgport=$(( 20000 + RANDOM % 20000 ))
  as_postgres "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  local opts="-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=300"
  for o in "$@"; do opts="$opts -c $o"; done
  as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w -o "$opts" start >/dev/null
  pg_conn="Host=127.0.0.1;Port=$pgport;Username=postgres"
  pg_psql="$pgbin/psql -h 127.0.0.1 -p $pgport -U postgres -qAt"
}

stop_postgres() {
  [ -n "${pgdir:-}" ] || return 0
  as_postgres "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"; pgdir=
}
