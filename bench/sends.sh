#!/usr/bin/env bash
# Send gate benchmark over loopback, on a release build: a RECIPIENTS-recipient POST /v1/sends
# (default 1 000 000; half of them opted out) against an index of ENTRIES suppressed addresses
# (default 1 000 000, seeded with hush import), answered and its report stored; then the report
# streamed back as CSV; the server's resident memory before the sends and after each (ROUNDS,
# default 5).
# Usage: bench/sends.sh            (ENTRIES, RECIPIENTS, ROUNDS, PORT to change the defaults; HUSH=path)
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=${ENTRIES:-1000000}
RECIPIENTS=${RECIPIENTS:-1000000}
PORT=${PORT:-8093}

# HUSH names a release build of hush to use instead of building one here.
if [ -z "${HUSH:-}" ]; then
    swift build -c release --product hush
    HUSH=.build/release/hush
fi
DIR=$(mktemp -d /tmp/hush-send-bench.XXXXXX)
DB=$DIR/bench.sqlite
source scripts/stop.sh
trap 'stop "${SERVER:-}"; rm -rf "$DIR"' EXIT
SERVER=

python3 - "$ENTRIES" "$RECIPIENTS" "$DIR" <<'PY'
import json, sys
entries, recipients, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(f"{folder}/entries.csv", "w") as out:
    out.write("address\n")
    out.write("".join(f"person{i}@example.com\n" for i in range(entries)))
# Every other recipient is one of the seeded (opted-out) addresses.
with open(f"{folder}/send.json", "w") as out:
    out.write('{"name": "bench", "channel": "email", "scope": "", "lists": [], "recipients": [')
    out.write(",".join(f'{{"address": "person{i % entries if i % 2 == 0 else entries + i}@example.com", "ref": "r{i}"}}' for i in range(recipients)))
    out.write("]}")
PY
$HUSH orgs create default --database "$DB" >/dev/null
$HUSH import "$DIR/entries.csv" --channel email --database "$DB" >/dev/null
KEY=$($HUSH keys create --role member --database "$DB")
$HUSH serve --database "$DB" --port "$PORT" > "$DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
echo "body: $(du -h "$DIR/send.json" | cut -f1) for $RECIPIENTS recipients"
resident() { ps -o rss= -p "$SERVER" | awk '{printf "%.0f", $1 / 1024}'; }
BEFORE=$(resident)
echo "server resident memory before the sends: $BEFORE MB"

# The answer (about 150 MB) is read by curl but not written anywhere, so the figure is the
# server's; the counts are read back from GET /v1/sends/{id} (ids are 1, 2, … on this database).
for round in $(seq 1 "${ROUNDS:-5}"); do
    curl -s -o /dev/null -w '%{time_total} %{http_code} %{size_download}\n' -X POST "http://127.0.0.1:$PORT/v1/sends" \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data-binary @"$DIR/send.json" > "$DIR/timing"
    read -r seconds code size < "$DIR/timing"
    ID=$round
    counts=$(curl -s "http://127.0.0.1:$PORT/v1/sends/$ID" -H "Authorization: Bearer $KEY" \
        | python3 -c "import json, sys; c = json.load(sys.stdin)['counts']; print(' '.join(f'{k} {v}' for k, v in c.items()))")
    python3 -c "print(f'send $round: HTTP $code, {$RECIPIENTS / $seconds:,.0f} recipients/s ({$seconds:.2f} s, answer {$size / 1e6:.0f} MB); $counts; resident $(resident) MB')"
done
sleep 2  # the server hands freed memory back a second after a send's answer (MemoryTrim)
AFTER=$(resident)
echo "server resident memory after the sends, settled: $AFTER MB, $((AFTER - BEFORE)) MB more than before (#19's target: within 150 MB)"
curl -s -o "$DIR/report.csv" -w '%{time_total}\n' "http://127.0.0.1:$PORT/v1/sends/$ID/report.csv?status=blocked" -H "Authorization: Bearer $KEY" > "$DIR/timing"
echo "report.csv?status=blocked: $(($(wc -l < "$DIR/report.csv") - 1)) rows in $(cat "$DIR/timing") s"
echo "server resident memory: $(ps -o rss= -p $SERVER | awk '{printf "%.0f MB", $1 / 1024}')"
