#!/usr/bin/env bash
# HTTP benchmark over loopback with wrk, on a release build:
#   GET /health against GET /v1/check on the same server, and POST /v1/check with
#   10 000-address batches, on an index of ENTRIES suppressed addresses (default 1 000 000).
# Usage: bench/http.sh            (ENTRIES, DURATION, CONNECTIONS, PORT to change the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${ENTRIES:-1000000}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-8089}

command -v wrk >/dev/null || { apt-get update && apt-get install -y --no-install-recommends wrk; }
swift build -c release --product hush
HUSH=.build/release/hush

DIR=$(mktemp -d /tmp/hush-http-bench.XXXXXX)
DB=$DIR/bench.sqlite
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
SERVER=

echo "== seeding $ENTRIES suppressed addresses with hush import"
python3 - "$ENTRIES" > "$DIR/entries.csv" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
out.write("address\n")
out.write("".join(f"person{i}@example.com\n" for i in range(n)))
PY
$HUSH orgs create default --database "$DB" >/dev/null
START=$(date +%s.%N)
$HUSH import "$DIR/entries.csv" --channel email --database "$DB"
END=$(date +%s.%N)
python3 -c "print(f'import: {$ENTRIES / ($END - $START):,.0f} rows/s ({$END - $START:.1f} s, two passes, one transaction)')"
KEY=$($HUSH keys create --role member --database "$DB")
export HUSH_KEY=$KEY HUSH_ENTRIES=$ENTRIES

$HUSH serve --database "$DB" --port "$PORT" > "$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/v1/check?address=person1%40example.com&channel=email" -H "Authorization: Bearer $KEY" | grep -q '"allowed":false' \
    || { echo "the seeded index does not block person1@example.com" >&2; exit 1; }

run() { # label, wrk arguments…
    local label=$1; shift
    echo "== $label"
    wrk --latency "$@" | tee "$DIR/wrk.out" | grep -E "Requests/sec|Latency|99%|Non-2xx|Socket errors" || true
    grep "Requests/sec" "$DIR/wrk.out" | awk '{print $2}' > "$DIR/$label.rps"
}

run health -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT/health"
run check -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/check.lua "http://127.0.0.1:$PORT"
run batch -t1 -c2 -d"${DURATION}s" --timeout 30s -s bench/batch.lua "http://127.0.0.1:$PORT"

python3 - "$DIR" <<'PY'
import sys
d = sys.argv[1]
health = float(open(f"{d}/health.rps").read())
check = float(open(f"{d}/check.rps").read())
batch = float(open(f"{d}/batch.rps").read())
print(f"GET /health      {health:12,.0f} requests/s")
print(f"GET /v1/check    {check:12,.0f} requests/s  ({100 * check / health:.0f} % of /health; target >= 80 %)")
print(f"POST /v1/check   {batch * 10000:12,.0f} recipients/s in 10 000-address batches ({batch:.1f} requests/s; target >= 500 000)")
PY
