#!/usr/bin/env bash
# Server CPU per request of the same hyper HTTP/1.1 server on evloop and on tokio's
# current_thread runtime, under wrk: the server pinned to one CPU and wrk to another, the two
# runtimes alternated in every round, each case run ROUNDS times (default 5) for SECS seconds
# (default 5). Prints every round, then the medians and evloop's over tokio's.
#
# Linux only (taskset, /proc/PID/stat). Needs wrk: `apt-get install wrk` (or your system's
# package). Usage: bench-suite/scripts/http.sh [CASE...]   cases: c1 c64 c1000 close
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CASES=("$@")
[ ${#CASES[@]} -eq 0 ] && CASES=(c1 c64 c1000 close)

command -v wrk >/dev/null || { echo "http.sh needs wrk: apt-get install wrk" >&2; exit 1; }
cargo build -q --release -p evloop-bench --features http --bin http_server
BIN=target/release/http_server
TICK=$(getconf CLK_TCK)
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# One CPU for the server, another for wrk, when the machine has two.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
else
    SERVER_PIN=()
    CLIENT_PIN=()
    echo "warning: no taskset or a single CPU: server and wrk share the CPUs" >&2
fi

# Sets WRK_ARGS to wrk's options for case $1.
wrk_args() {
    case "$1" in
        c1) WRK_ARGS=(-t1 -c1) ;;
        c64) WRK_ARGS=(-t1 -c64) ;;
        c1000) WRK_ARGS=(-t1 -c1000) ;;
        close) WRK_ARGS=(-t1 -c16 -H "Connection: close") ;;
        *) echo "unknown case $1 (c1 c64 c1000 close)" >&2; exit 2 ;;
    esac
}

# The CPU time (user + system) of process $1 so far, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Runs case $2 against runtime $1; prints "case runtime requests cpu_us_per_request".
one_run() {
    local runtime=$1 case=$2 out pid addr before after requests
    out=$(mktemp)
    "${SERVER_PIN[@]}" "$BIN" "$runtime" 127.0.0.1:0 >"$out" &
    pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$out" && break
        sleep 0.05
    done
    addr=$(sed -n 's/^listening on //p' "$out")
    wrk_args "$case"
    before=$(cpu_ticks "$pid")
    requests=$("${CLIENT_PIN[@]}" wrk "${WRK_ARGS[@]}" -d"${SECS}s" "http://$addr/" |
        awk '/requests in/ { print $1 }')
    after=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    awk -v c="$case" -v r="$runtime" -v n="$requests" -v t=$((after - before)) -v hz="$TICK" \
        'BEGIN { printf "%-6s %-7s %10d %8.2f\n", c, r, n, t / hz * 1e6 / n }'
}

RESULTS=$(mktemp)
echo "case   runtime   requests  CPU µs/request (server)"
for round in $(seq "$ROUNDS"); do
    for case in "${CASES[@]}"; do
        # Alternate which runtime goes first.
        if [ $((round % 2)) -eq 1 ]; then order=(evloop tokio); else order=(tokio evloop); fi
        for runtime in "${order[@]}"; do
            one_run "$runtime" "$case" | tee -a "$RESULTS"
        done
    done
done

echo
echo "medians over $ROUNDS rounds: case, evloop, tokio (CPU µs/request), evloop / tokio"
for case in "${CASES[@]}"; do
    median() {
        awk -v c="$case" -v r="$1" '$1 == c && $2 == r { print $4 }' "$RESULTS" | sort -n |
            awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
    }
    e=$(median evloop)
    t=$(median tokio)
    awk -v c="$case" -v e="$e" -v t="$t" 'BEGIN { printf "%-6s %8.2f %8.2f   %.2fx\n", c, e, t, e / t }'
done
rm -f "$RESULTS"
