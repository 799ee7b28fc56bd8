#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the storage tests and print the
# SQLAlchemy URL on stdout. Installs Debian's postgresql package when no server binary
# exists (needs root, as on CI). The server runs as the 'postgres' system user because
# PostgreSQL refuses to run as root. Stop it with: scripts/postgres.sh stop DATADIR
set -euo pipefail
if [ "${1:-}" = "stop" ]; then
  datadir=$2
  pgbin=$(cat "$datadir/.pgbin" 2>/dev/null || true)
  [ -n "$pgbin" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$datadir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$datadir"
  exit 0
fi
find_pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
pgbin=$(find_pgbin)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/postgres" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: no PostgreSQL server installed and not root to install it" >&2
    exit 3
  fi
  echo "postgres.sh: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  pgbin=$(find_pgbin)
fi
id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/sh postgres
datadir=$(mktemp -d /tmp/medcrypt-pg.XXXXXX)
chown postgres "$datadir"
echo "$pgbin" > "$datadir/.pgbin.tmp"
# One server per test run, shared by the xdist workers (each test gets its own database
# on it). max_connections=200 is far above what two workers hold at once: sampled every
# 0.3 s over the storage, audit and jobs suites with -n 2, the peak was 13 clients.
# pick a free loopback port
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$pgbin/initdb" -D "$datadir/data" -U postgres --auth=trust -E UTF8 >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$datadir/data" -w -l "$datadir/data/server.log" \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir/data -c fsync=off -c max_connections=200" start >/dev/null
mv "$datadir/.pgbin.tmp" "$datadir/.pgbin"
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres $datadir"
