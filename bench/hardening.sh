#!/usr/bin/env bash
# What the security hardening costs: GET /v1/check and POST /v1/opt-outs (one new address a
# request, each a real write) on two release builds of hush, the same machine, the same index
# size and the same wrk settings, runs alternating between the two (ABBA order).
#
# Also checks of E.164 phone numbers (bench/check.lua with HUSH_CHECK=phone), against as many
# seeded numbers.
#
# Usage: bench/hardening.sh BASE_DIR HEAD_DIR
#   Each directory is a source tree of hush (e.g. `git archive <commit> | tar -x -C DIR`); its
#   .build/release/hush is built there first when missing. The two are never built at once.
#   ENTRIES (default 1 000 000 suppressed addresses), DURATION (seconds a wrk run, 15),
#   CONNECTIONS (check, 64), WRITE_CONNECTIONS (opt-outs, 64), ROUNDS (3), PORT (8089),
#   WRITES (1; 0 leaves the opt-out runs out).
# Each database is seeded by that build's own `hush import` (the schemas differ), once; the
# opt-out runs add addresses to it (HUSH_RUN keeps them distinct across runs). Each run also
# notes the server's CPU time a request (user + system), which this shared machine's noise
# moves less than requests a second.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
BASE_DIR=$(cd "${1:-${BASE_DIR:?give BASE_DIR HEAD_DIR}}" && pwd)
HEAD_DIR=$(cd "${2:-${HEAD_DIR:?give BASE_DIR HEAD_DIR}}" && pwd)
ENTRIES=${ENTRIES:-1000000}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-64}
WRITE_CONNECTIONS=${WRITE_CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-8089}
WRITES=${WRITES:-1}

command -v wrk >/dev/null || { apt-get update && apt-get install -y --no-install-recommends wrk; }
for dir in "$BASE_DIR" "$HEAD_DIR"; do
    [ -x "$dir/.build/release/hush" ] || (cd "$dir" && swift build -c release --product hush)
done

WORK=$(mktemp -d /tmp/hush-hardening.XXXXXX)
SERVER=
source "$BENCH/../scripts/stop.sh"
trap 'stop "${SERVER:-}"; rm -rf "$WORK"' EXIT

python3 - "$ENTRIES" > "$WORK/entries.csv" <<'PY'
import sys
n = int(sys.argv[1])
sys.stdout.write("address\n")
sys.stdout.write("".join(f"person{i}@example.com\n" for i in range(n)))
PY
python3 - "$ENTRIES" > "$WORK/phones.csv" <<'PY'
import sys
n = int(sys.argv[1])
sys.stdout.write("address\n")
sys.stdout.write("".join(f"+1{2012000000 + i}\n" for i in range(n)))
PY

declare -A KEYS
for side in base head; do
    dir=$BASE_DIR; [ "$side" = head ] && dir=$HEAD_DIR
    mkdir -p "$WORK/$side"
    echo "== $side ($dir): seeding $ENTRIES suppressed addresses with hush import"
    "$dir/.build/release/hush" orgs create default --database "$WORK/$side/db.sqlite" >/dev/null
    "$dir/.build/release/hush" import "$WORK/entries.csv" --channel email --database "$WORK/$side/db.sqlite"
    "$dir/.build/release/hush" import "$WORK/phones.csv" --channel sms --database "$WORK/$side/db.sqlite"
    KEYS[$side]=$("$dir/.build/release/hush" keys create --role member --database "$WORK/$side/db.sqlite")
done

start_server() { # side
    local dir=$BASE_DIR; [ "$1" = head ] && dir=$HEAD_DIR
    "$dir/.build/release/hush" serve --database "$WORK/$1/db.sqlite" --port "$PORT" >> "$WORK/$1/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 1200); do
        curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$PORT/v1/check?address=person1%40example.com&channel=email" \
        -H "Authorization: Bearer ${KEYS[$1]}" | grep -q '"allowed":false' \
        || { echo "$1: the seeded index does not block person1@example.com" >&2; exit 1; }
}

stop_server() {
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; } # the server's user + system time, in 1/100 s

run() { # label side wrk-arguments…  (appends Requests/sec to $WORK/label-side.rps, server CPU µs a request to .cpu)
    local label=$1 side=$2; shift 2
    echo "== $label $side"
    local before; before=$(cpu_ticks)
    wrk --latency "$@" > "$WORK/wrk.out"
    local after; after=$(cpu_ticks)
    grep -E "Requests/sec|Latency |99%|Non-2xx|Socket errors" "$WORK/wrk.out" || true
    if grep -q "Non-2xx" "$WORK/wrk.out"; then echo "$label $side: some answers were not 2xx" >&2; exit 1; fi
    grep "Requests/sec" "$WORK/wrk.out" | awk '{print $2}' >> "$WORK/$label-$side.rps"
    local requests; requests=$(grep -oE '^ *[0-9]+ requests in' "$WORK/wrk.out" | awk '{print $1}')
    python3 -c "print(f'{($after - $before) * 10000 / $requests:.1f}')" | tee -a "$WORK/$label-$side.cpu" | sed 's/^/    server CPU µs a request: /'
}

URL="http://127.0.0.1:$PORT"
for round in $(seq 1 "$ROUNDS"); do
    # base, head, head, base, base, head…: a drift of the machine over the runs falls on both alike.
    sides="base head"; [ $((round % 2)) = 0 ] && sides="head base"
    for side in $sides; do
        start_server "$side"
        export HUSH_KEY=${KEYS[$side]} HUSH_ENTRIES=$ENTRIES HUSH_RUN=$round
        wrk -t2 -c"$CONNECTIONS" -d3s -s "$BENCH/check.lua" "$URL" >/dev/null # warm-up, not counted
        run check "$side" -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$BENCH/check.lua" "$URL"
        export HUSH_CHECK=phone
        run check-phone "$side" -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$BENCH/check.lua" "$URL"
        unset HUSH_CHECK
        [ "$WRITES" = 0 ] || run optouts "$side" -t2 -c"$WRITE_CONNECTIONS" -d"${DURATION}s" -s "$BENCH/optouts.lua" "$URL"
        stop_server
    done
done

python3 - "$WORK" <<'PY'
import statistics, sys
d = sys.argv[1]
read = lambda name: [float(line) for line in open(f"{d}/{name}")]
import os
for label, what in (("check", "GET /v1/check"), ("check-phone", "  … phone, sms"), ("optouts", "POST /v1/opt-outs")):
    if not os.path.exists(f"{d}/{label}-base.rps"):
        continue
    base, head = read(f"{label}-base.rps"), read(f"{label}-head.rps")
    b, h = statistics.median(base), statistics.median(head)
    print(f"{what:18} base median {b:9,.0f}/s  (runs: {', '.join(f'{v:,.0f}' for v in base)})")
    print(f"{'':18} head median {h:9,.0f}/s  (runs: {', '.join(f'{v:,.0f}' for v in head)})")
    print(f"{'':18} head/base {h / b:.3f} ({100 * (h / b - 1):+.1f} %; target >= -5 %)")
    base, head = read(f"{label}-base.cpu"), read(f"{label}-head.cpu")
    b, h = statistics.median(base), statistics.median(head)
    print(f"{'':18} server CPU a request: base median {b:.1f} µs (runs: {', '.join(f'{v:.1f}' for v in base)})")
    print(f"{'':18}                       head median {h:.1f} µs (runs: {', '.join(f'{v:.1f}' for v in head)}); head/base {h / b:.3f}")
PY
