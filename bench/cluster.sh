#!/usr/bin/env bash
# Hush on PostgreSQL with three nodes behind nginx, on this machine (release build):
#   1. hush-bench --postgres: index load at start and memory per suppression for ENTRIES (and
#      LARGE) suppressions, durable opt-outs/s (one writer, 16 writers, 10 000-address batches)
#      and the cross-node lag without min_sequence (p50, p99);
#   2. the same database behind three `hush serve` nodes and nginx (an upstream block, as
#      docs/deploy.md runs them): GET /v1/check with wrk through nginx against one node directly,
#      and HTTP opt-outs through nginx;
#   3. SQLite beside it: hush-bench on a SQLite file for the same figures.
# Installs postgresql, nginx and wrk from Debian when missing; everything runs on loopback and
# is removed at the end.
# Usage: bench/cluster.sh   (ENTRIES=1000000 LARGE=10000000 DURATION=15 CONNECTIONS=64 to change)
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${ENTRIES:-1000000}
LARGE=${LARGE:-10000000}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
BASE_PORT=${BASE_PORT:-18080}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

swift build -c release --product hush
swift build -c release --product hush-bench
HUSH=.build/release/hush
BENCH=.build/release/hush-bench

DIR=$(mktemp -d /tmp/hush-cluster-bench.XXXXXX)
chmod 755 "$DIR"   # the postgres user keeps its cluster in here
export HUSH_PG_DIR=$DIR/postgres HUSH_PG_PORT=${HUSH_PG_PORT:-54339}
NODES=()
cleanup() {
    stop "${NODES[@]}"
    [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
    bash scripts/postgres.sh stop
    rm -rf "$DIR"
}
source scripts/stop.sh
trap cleanup EXIT
URL=$(bash scripts/postgres.sh start)
echo "PostgreSQL at $URL"

echo "== hush-bench on PostgreSQL: $ENTRIES and $LARGE suppressions"
$BENCH --postgres="$URL" "$ENTRIES"
$BENCH --postgres="$URL" --only=fixture "$LARGE"
echo "== hush-bench on SQLite, for comparison: $ENTRIES and $LARGE suppressions"
HUSH_BENCH_DIR=$DIR $BENCH --only=writes "$ENTRIES"
HUSH_BENCH_DIR=$DIR $BENCH --only=fixture "$LARGE"

echo "== three nodes on $ENTRIES suppressions, nginx in front"
psql "${URL%/hush}/postgres" -qc "DROP DATABASE IF EXISTS hush WITH (FORCE)" -c "CREATE DATABASE hush" >/dev/null
export HUSH_DATABASE=$URL HUSH_ERASURE_SECRET=$(openssl rand -hex 32) HUSH_SECRET_KEY=$(openssl rand -hex 32)
python3 - "$ENTRIES" > "$DIR/entries.csv" <<'PY'
import sys
n = int(sys.argv[1])
sys.stdout.write("address\n" + "".join(f"person{i}@example.com\n" for i in range(n)))
PY
$HUSH orgs create default >/dev/null
START=$(date +%s.%N)
$HUSH import "$DIR/entries.csv" --channel email
END=$(date +%s.%N)
python3 -c "print(f'import on PostgreSQL: {$ENTRIES / ($END - $START):,.0f} rows/s ({$END - $START:.1f} s)')"
KEY=$($HUSH keys create --role member)
export HUSH_KEY=$KEY HUSH_ENTRIES=$ENTRIES

for n in 1 2 3; do
    $HUSH serve --port $((BASE_PORT + n)) > "$DIR/node$n.log" 2>&1 &
    NODES+=($!)
done
for n in 1 2 3; do
    for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$((BASE_PORT + n))/health" >/dev/null && break; sleep 0.1; done
done
cat > "$DIR/nginx.conf" <<NGINX
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    upstream hush {
        server 127.0.0.1:$((BASE_PORT + 1));
        server 127.0.0.1:$((BASE_PORT + 2));
        server 127.0.0.1:$((BASE_PORT + 3));
        keepalive 128;
    }
    server {
        listen 127.0.0.1:$BASE_PORT;
        location / {
            proxy_pass http://hush;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            client_max_body_size 64m;
        }
    }
}
NGINX
$NGINX -c "$DIR/nginx.conf" -p "$DIR"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$BASE_PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$BASE_PORT/v1/check?address=person1%40example.com&channel=email" -H "Authorization: Bearer $KEY" | grep -q '"allowed":false' \
    || { echo "the cluster does not block person1@example.com" >&2; exit 1; }

run() { # label, wrk arguments…
    local label=$1; shift
    echo "-- $label"
    wrk --latency "$@" | grep -E "Requests/sec|Latency|99%|Non-2xx|Socket errors" || true
}
for _ in 1 2; do
    run "GET /v1/check through nginx, 3 nodes" -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/check.lua "http://127.0.0.1:$BASE_PORT"
    run "GET /v1/check on one node directly" -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/check.lua "http://127.0.0.1:$((BASE_PORT + 1))"
done
HUSH_RUN=nginx run "POST /v1/opt-outs through nginx, 16 connections" -t2 -c16 -d"${DURATION}s" -s bench/optouts.lua "http://127.0.0.1:$BASE_PORT"
for n in 1 2 3; do echo "node $n: $(ps -o rss= -p "${NODES[$((n - 1))]}") KiB resident"; done
