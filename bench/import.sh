#!/usr/bin/env bash
# hush import of ROWS new email addresses (default 1 000 000) into a new SQLite database, on a
# release build (HUSH=path to reuse one), ROUNDS times (default 3). Beside each import a probe
# takes SQLite's write lock every 10 ms, as a server's write would, and reports the longest wait:
# how long the import's commit held other writers up.
# Usage: bench/import.sh            (ROWS, ROUNDS, HUSH to change the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
if [ -z "${HUSH:-}" ]; then
    swift build -c release --product hush
    HUSH=.build/release/hush
fi
DIR=$(mktemp -d /tmp/hush-import-bench.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
python3 - "$ROWS" > "$DIR/rows.csv" <<'PY'
import sys
n = int(sys.argv[1])
sys.stdout.write("address\n" + "".join(f"person{i}@example.com\n" for i in range(n)))
PY
for round in $(seq 1 "${ROUNDS:-3}"); do
    rm -f "$DIR"/bench.sqlite*
    "$HUSH" orgs create default --database "$DIR/bench.sqlite" >/dev/null
    python3 - "$HUSH" "$DIR/bench.sqlite" "$DIR/rows.csv" "$round" <<'PY'
import sqlite3, subprocess, sys, threading, time
hush, db, rows, round = sys.argv[1:]
stop, waits = False, []
def probe():
    connection = sqlite3.connect(db, timeout=60, isolation_level=None)
    while not stop:
        start = time.time()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("COMMIT")
        waits.append(time.time() - start)
        time.sleep(0.01)
thread = threading.Thread(target=probe)
thread.start()
start = time.time()
process = subprocess.Popen([hush, "import", rows, "--channel", "email", "--database", db],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
read = None
for line in process.stderr:
    if line.startswith("checked"):
        read = time.time()
output = process.stdout.read().strip()
process.wait()
end = time.time()
stop = True
thread.join()
if process.returncode != 0 or read is None:
    sys.exit(f"the import failed: {output}")
print(f"round {round}: {output}")
print(f"  {end - start:.1f} s in all ({int(output.split()[1]) / (end - start):,.0f} rows/s); reading and staging {read - start:.1f} s;"
      f" the longest wait of another writer {max(waits):.2f} s")
PY
done
