#!/usr/bin/env bash
# A private PostgreSQL cluster for tests and benchmarks: no service manager, nothing shared.
#   scripts/postgres.sh start   creates the cluster when missing, starts it, prints its URL
#   scripts/postgres.sh stop    stops it
#   scripts/postgres.sh url     prints the URL
# HUSH_PG_DIR (default /tmp/hush-postgres) holds the data and the socket; HUSH_PG_PORT (default
# 54329) is its loopback port. The server runs as the `postgres` user when started by root
# (initdb refuses root). Authentication is `trust` on loopback and the socket only.
set -euo pipefail
dir=${HUSH_PG_DIR:-/tmp/hush-postgres}
port=${HUSH_PG_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "postgresql is not installed (apt-get install -y postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
url="postgres://postgres@127.0.0.1:$port/hush"
case "${1:-}" in
start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir"
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
            "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=600 -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on" start >/dev/null
    fi
    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'hush'" | grep -q 1 \
        || as_owner "$bin/createdb" -h "$dir" -p "$port" -U postgres hush
    echo "$url"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    ;;
url)
    echo "$url"
    ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
