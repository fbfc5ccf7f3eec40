#!/usr/bin/env bash
# Webhook benchmark over loopback, on a release build:
#   1. deliveries per second: EVENTS opt-outs announced to one endpoint (strict ledger order,
#      one request at a time) and to ENDPOINTS endpoints (sent to concurrently), all to a local
#      receiver (bench/receiver.py) that answers at once;
#   2. GET /v1/check throughput idle, against the same while 1 000 deliveries are pending and
#      being sent to a receiver that takes 100 ms per request.
# Usage: bench/webhooks.sh        (EVENTS, ENDPOINTS, DURATION, CONNECTIONS, PORT to change the defaults; HUSH=path)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-20000}
ENDPOINTS=${ENDPOINTS:-8}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-8091}
FAST=$((PORT + 1))
SLOW=$((PORT + 2))

command -v wrk >/dev/null || { apt-get update && apt-get install -y --no-install-recommends wrk; }
command -v sqlite3 >/dev/null || { apt-get update && apt-get install -y --no-install-recommends sqlite3; }
# HUSH names a release build of hush to use instead of building one here.
if [ -z "${HUSH:-}" ]; then
    swift build -c release --product hush
    HUSH=.build/release/hush
fi

DIR=$(mktemp -d /tmp/hush-webhook-bench.XXXXXX)
PIDS=()
source scripts/stop.sh
SERVER=
trap 'stop "${PIDS[@]}" "${SERVER:-}"; rm -rf "$DIR"' EXIT
python3 bench/receiver.py "$FAST" & PIDS+=($!)
DELAY=0.1 python3 bench/receiver.py "$SLOW" & PIDS+=($!)

start_server() { # database
    HUSH_ALLOW_PRIVATE_WEBHOOK_TARGETS=1 $HUSH serve --database "$1" --port "$PORT" >> "$DIR/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
    KEY=$(grep -m1 hush_ "$DIR/server.log")
}
api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
webhook() { api -X POST "http://127.0.0.1:$PORT/v1/webhooks" -d "{\"url\": \"$1\", \"events\": [\"opt_out.created\"]}" >/dev/null; }
opt_outs() { # count, prefix: in batches of 10 000 addresses
    python3 - "$1" "$2" > "$DIR/batches" <<'PY'
import json, sys
n, prefix = int(sys.argv[1]), sys.argv[2]
for start in range(0, n, 10000):
    print(json.dumps({"addresses": [f"{prefix}{i}@example.com" for i in range(start, min(n, start + 10000))], "channel": "email"}))
PY
    while read -r batch; do
        printf '%s' "$batch" > "$DIR/batch.json"
        api -X POST "http://127.0.0.1:$PORT/v1/opt-outs" --data-binary @"$DIR/batch.json" >/dev/null
    done < "$DIR/batches"
}
pending() { sqlite3 "$1" "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'"; }
delivered_rate() { # database, deliveries, label
    local start=$(date +%s.%N)
    while [ "$(pending "$1")" != 0 ]; do sleep 0.05; done
    local end=$(date +%s.%N)
    python3 -c "print(f'$3: {$2 / ($end - $start):,.0f} deliveries/s ($2 in {$end - $start:.1f} s)')" | tee -a "$DIR/results"
}

echo "== deliveries per second"
for endpoints in 1 "$ENDPOINTS"; do
    DB=$DIR/rate-$endpoints.sqlite
    : > "$DIR/server.log"
    start_server "$DB"
    for i in $(seq 1 "$endpoints"); do webhook "http://127.0.0.1:$FAST/hook/$i"; done
    stop "$SERVER"; SERVER=
    # Imported while no server runs: the import's transaction queues every delivery, and the
    # timing starts with all of them waiting.
    python3 -c "import sys; print('address'); print('\n'.join(f'rate{i}@example.com' for i in range($EVENTS)))" > "$DIR/rate.csv"
    $HUSH import "$DIR/rate.csv" --channel email --database "$DB" >/dev/null
    echo "queued: $(pending "$DB") deliveries"
    start_server "$DB"
    delivered_rate "$DB" $((EVENTS * endpoints)) "$endpoints endpoint(s), receiver answering at once"
    stop "$SERVER"; SERVER=
done

echo "== GET /v1/check, idle and with 1 000 deliveries pending to a slow receiver"
DB=$DIR/check.sqlite
: > "$DIR/server.log"
start_server "$DB"
opt_outs 100000 person
run() { # label
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/check.lua "http://127.0.0.1:$PORT" > "$DIR/wrk.out"
    local rps=$(grep "Requests/sec" "$DIR/wrk.out" | awk '{print $2}')
    echo "$1: $rps requests/s (pending at the end: $(pending "$DB"))"
    echo "$rps" >> "$DIR/$1.rps"
}
export HUSH_KEY=$KEY HUSH_ENTRIES=100000
for i in $(seq 1 10); do webhook "http://127.0.0.1:$SLOW/hook/$i"; done
for _ in $(seq 1 "${ROUNDS:-3}"); do
    run idle
    opt_outs 100 "load$RANDOM-"   # 100 events x 10 endpoints = 1 000 deliveries, 100 ms each
    run busy
    while [ "$(pending "$DB")" != 0 ]; do sleep 0.2; done
done
python3 - "$DIR" <<'PY'
import statistics, sys
d = sys.argv[1]
idle = [float(l) for l in open(f"{d}/idle.rps")]
busy = [float(l) for l in open(f"{d}/busy.rps")]
i, b = statistics.median(idle), statistics.median(busy)
print(open(f"{d}/results").read(), end="")
print(f"GET /v1/check idle median {i:,.0f} requests/s (runs: {', '.join(f'{v:,.0f}' for v in idle)})")
print(f"GET /v1/check busy median {b:,.0f} requests/s (runs: {', '.join(f'{v:,.0f}' for v in busy)})")
print(f"with 1 000 deliveries pending: {100 * b / i:.0f} % of idle; target >= 90 %")
PY
