#!/usr/bin/env bash
# One address's worst case, over HTTP on a release build:
#  1. a point-in-time check (GET /v1/check?…&at=) of an address with 1 000 suppressions in force
#     and 10 000 ledger events (1 000 opt-outs at scopes p0…p999, then 9 cycles lifting and
#     re-adding p0…p499 through DELETE/POST /v1/lists/{id}/entries); target median < 50 ms;
#  2. same-address writes into a fresh organization: POST /v1/lists/{id}/entries with 1 000
#     entries for one address (scopes s0…s999), then 10 000 for one address (refused with 422 by
#     the limit of 1 000 suppressions in force); target 10 000 / 1 000 <= 12x; meanwhile single
#     opt-outs of another organization show how long it is held up.
# Usage: bench/history.sh TREE   (a hush source tree; its .build/release/hush is built when missing)
#   CHECKS (point-in-time checks, 50), RUNS (writes of each size, 3), PORT (8090).
set -euo pipefail
TREE=$(cd "${1:-${TREE:-$(dirname "$0")/..}}" && pwd)
CHECKS=${CHECKS:-50}
RUNS=${RUNS:-3}
PORT=${PORT:-8090}
HUSH=$TREE/.build/release/hush
[ -x "$HUSH" ] || (cd "$TREE" && swift build -c release --product hush)

WORK=$(mktemp -d /tmp/hush-history.XXXXXX)
DB=$WORK/db.sqlite
SERVER=
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/stop.sh"
trap 'stop "${SERVER:-}"; rm -rf "$WORK"' EXIT
URL="http://127.0.0.1:$PORT"

for org in default same other; do "$HUSH" orgs create "$org" --database "$DB" >/dev/null; done
ADMIN=$("$HUSH" keys create --role admin --database "$DB")
SAME=$("$HUSH" keys create --role member --org same --database "$DB")
OTHER=$("$HUSH" keys create --role member --org other --database "$DB")
"$HUSH" serve --database "$DB" --port "$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do curl -sf "$URL/health" >/dev/null && break; sleep 0.1; done

default_list() { # key
    curl -sf "$URL/v1/lists" -H "Authorization: Bearer $1" \
        | python3 -c 'import json, sys; print(next(l["id"] for l in json.load(sys.stdin)["lists"] if l["default"]))'
}

entries() { # address first last [evidence]  → a body for /v1/lists/{id}/entries, scopes <prefix><first>…<prefix><last>
    python3 - "$@" <<'PY'
import json, sys
address, prefix, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = {"entries": [{"address": address, "channel": "email", "scope": f"{prefix}{i}"} for i in range(first, last + 1)]}
if len(sys.argv) > 5:
    body["evidence"] = {"kind": "written_consent", "reference": "x"}
print(json.dumps(body))
PY
}

send() { # method path key body-file expected-status  → prints seconds
    local out
    out=$(curl -s -o "$WORK/answer" -w '%{http_code} %{time_total}' -X "$1" "$URL$2" \
        -H "Authorization: Bearer $3" -H 'Content-Type: application/json' --data-binary "@$4")
    [ "${out% *}" = "$5" ] || { echo "$1 $2: got ${out% *}, expected $5: $(head -c 300 "$WORK/answer")" >&2; exit 1; }
    echo "${out#* }"
}

median() { python3 -c 'import statistics, sys; v = [float(x) for x in sys.stdin.read().split()]; print(f"{statistics.median(v) * 1000:.1f}")'; }

echo "== 1. point-in-time check of an address with 1 000 suppressions in force and 10 000 events"
LIST=$(default_list "$ADMIN")
entries hist@example.com p 0 999 > "$WORK/all.json"
entries hist@example.com p 0 499 > "$WORK/half.json"
entries hist@example.com p 0 499 evidence > "$WORK/lift.json"
START=$(date +%s.%N)
send POST "/v1/lists/$LIST/entries" "$ADMIN" "$WORK/all.json" 201 >/dev/null
for _ in $(seq 1 9); do
    send DELETE "/v1/lists/$LIST/entries" "$ADMIN" "$WORK/lift.json" 200 >/dev/null
    send POST "/v1/lists/$LIST/entries" "$ADMIN" "$WORK/half.json" 201 >/dev/null
done
END=$(date +%s.%N)
EVENTS=$(sqlite3 "file:$DB?mode=ro" "SELECT COUNT(*) FROM ledger l JOIN addresses a ON a.id = l.address_id WHERE a.key = 'hist@example.com'")
IN_FORCE=$(sqlite3 "file:$DB?mode=ro" "SELECT COUNT(*) FROM suppressions s JOIN addresses a ON a.id = s.address_id WHERE a.key = 'hist@example.com'")
python3 -c "print(f'history written in {$END - $START:.2f} s: $EVENTS ledger events, $IN_FORCE suppressions in force')"
sleep 1.2
AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
: > "$WORK/at.times"; : > "$WORK/now.times"
for _ in $(seq 1 "$CHECKS"); do
    curl -s -o "$WORK/answer" -w '%{time_total}\n' -H "Authorization: Bearer $ADMIN" \
        "$URL/v1/check?address=hist%40example.com&channel=email&scope=p1&at=$AT" >> "$WORK/at.times"
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $ADMIN" \
        "$URL/v1/check?address=hist%40example.com&channel=email&scope=p1" >> "$WORK/now.times"
done
grep -q '"allowed":false' "$WORK/answer" || { echo "the point-in-time check did not block: $(head -c 300 "$WORK/answer")" >&2; exit 1; }
sort -n "$WORK/at.times" | python3 -c '
import statistics, sys
v = [float(x) * 1000 for x in sys.stdin.read().split()]
print(f"GET /v1/check …&at={sys.argv[1]}: median {statistics.median(v):.1f} ms, min {v[0]:.1f}, p90 {v[int(len(v) * 0.9) - 1]:.1f}, max {v[-1]:.1f} over {len(v)} requests (target < 50 ms)")
' "$AT"
echo "GET /v1/check (index, no at) on the same address: median $(median < "$WORK/now.times") ms"

echo "== 2. same-address writes into a fresh organization (POST /v1/lists/{id}/entries)"
SAME_LIST=$(default_list "$SAME")
entries big@example.com s 0 9999 > "$WORK/ten.json"
: > "$WORK/one.times"; : > "$WORK/ten.times"; : > "$WORK/probe.times"
for run in $(seq 1 "$RUNS"); do
    entries "one$run@example.com" s 0 999 > "$WORK/one.json"
    send POST "/v1/lists/$SAME_LIST/entries" "$SAME" "$WORK/one.json" 201 >> "$WORK/one.times"
done
for run in $(seq 1 "$RUNS"); do
    send POST "/v1/lists/$SAME_LIST/entries" "$SAME" "$WORK/ten.json" 422 >> "$WORK/ten.times" &
    WRITER=$!
    probe=0
    while kill -0 "$WRITER" 2>/dev/null; do
        probe=$((probe + 1))
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST "$URL/v1/opt-outs" -H "Authorization: Bearer $OTHER" \
            -H 'Content-Type: application/json' --data "{\"address\":\"probe$run-$probe@example.com\",\"channel\":\"email\"}" \
            >> "$WORK/probe.times.raw"
        sleep 0.02
    done
    wait "$WRITER"
done
grep -q limit "$WORK/answer" && echo "10 000 refused: $(head -c 200 "$WORK/answer")"
grep -v '^201 ' "$WORK/probe.times.raw" && { echo "a probe opt-out was not 201" >&2; exit 1; }
awk '{print $2}' "$WORK/probe.times.raw" > "$WORK/probe.times"
python3 - "$WORK" <<'PY'
import statistics, sys
d = sys.argv[1]
read = lambda name: [float(x) * 1000 for x in open(f"{d}/{name}.times").read().split()]
one, ten, probe = read("one"), read("ten"), read("probe")
o, t = statistics.median(one), statistics.median(ten)
print(f"1 000 entries, one address (201):      median {o:7.1f} ms  (runs: {', '.join(f'{v:.1f}' for v in one)})")
print(f"10 000 entries, one address (422):     median {t:7.1f} ms  (runs: {', '.join(f'{v:.1f}' for v in ten)})")
print(f"10 000 / 1 000: {t / o:.1f}x (target <= 12x)")
print(f"single opt-out of another organization meanwhile: median {statistics.median(probe):.1f} ms, max {max(probe):.1f} ms over {len(probe)} requests")
PY
