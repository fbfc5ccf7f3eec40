# Sourced by the scripts that start servers. `stop PID…` stops each process (TERM, then KILL
# after ten seconds) and waits until it has gone, so that a server's shutdown (its index
# snapshot, SQLite's checkpoint) has finished writing before its folder is removed: removing it
# while they wrote failed with "Directory not empty".
stop() {
    local pid
    for pid in "$@"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
}
