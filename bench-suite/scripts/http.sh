#!/usr/bin/env bash
# The same hyper server on evloop, tokio's current_thread runtime and smol, under wrk (HTTP/1.1)
# and h2load (HTTP/2): the server pinned to one CPU and the load generator to another, the
# runtimes alternated in every round (the order rotating), each case run ROUNDS times (default
# 5) for SECS seconds (default 5). Prints every round (requests/s, latency p50 and p99 as the
# load generator saw them, server CPU time per request), then each case's medians and every
# runtime's CPU per request over evloop's.
#
# Linux only (taskset, /proc/PID/stat). Needs wrk and h2load:
#   Debian/Ubuntu: apt-get install wrk nghttp2-client      Fedora: dnf install wrk nghttp2
# A case whose tool is missing is skipped with a message.
# Usage: bench-suite/scripts/http.sh [CASE...]   cases: c1 c64 c1000 close h2 (default: all)
#        RUNTIMES="evloop tokio" bench-suite/scripts/http.sh c64   (default: evloop tokio smol)
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
read -r -a RTS <<<"${RUNTIMES:-evloop tokio smol}"
CASES=("$@")
[ ${#CASES[@]} -eq 0 ] && CASES=(c1 c64 c1000 close h2)

# The tool each case needs; cases whose tool is missing are dropped.
tool_of() { if [ "$1" = h2 ]; then echo h2load; else echo wrk; fi; }
KEPT=()
for case in "${CASES[@]}"; do
    case "$case" in c1 | c64 | c1000 | close | h2) ;; *)
        echo "unknown case $case (c1 c64 c1000 close h2)" >&2
        exit 2
        ;;
    esac
    tool=$(tool_of "$case")
    if command -v "$tool" >/dev/null; then
        KEPT+=("$case")
    else
        echo "skipping $case: $tool is not installed (apt-get install wrk nghttp2-client)" >&2
    fi
done
[ ${#KEPT[@]} -eq 0 ] && { echo "nothing to run" >&2; exit 1; }
CASES=("${KEPT[@]}")

cargo build -q --release -p evloop-bench --bin http_server
BIN=target/release/http_server
TICK=$(getconf CLK_TCK)
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# One CPU for the server, another for the load generator, when the machine has two.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
else
    SERVER_PIN=()
    CLIENT_PIN=()
    echo "warning: no taskset or a single CPU: server and load generator share the CPUs" >&2
fi

# The CPU time (user + system) of process $1 so far, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Converts wrk's latency ("256.00us", "1.23ms", "1.02s") to microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1e3; else if (v ~ /s$/) print n * 1e6
    }'
}

# Runs the load of case $1 against $2 (host:port); prints "requests p50_us p99_us".
load() {
    local case=$1 addr=$2 out log
    out=$(mktemp)
    case "$case" in
        h2)
            log=$(mktemp)
            "${CLIENT_PIN[@]}" h2load -t1 -c16 -m10 -D "$SECS" --log-file="$log" \
                "http://$addr/" >"$out" 2>&1
            # The log has one line per request: start (µs), status, duration (µs).
            awk '/^requests:/ { printf "%d ", $8 }' "$out"
            cut -f3 "$log" | sort -n | awk '{ v[NR] = $1 } END {
                if (NR == 0) { print "0 0"; exit }
                printf "%s %s\n", v[int((NR + 1) * 0.5)], v[int((NR - 1) * 0.99) + 1] }'
            rm -f "$log"
            ;;
        *)
            local args=(-t1 -c1)
            case "$case" in
                c64) args=(-t1 -c64) ;;
                c1000) args=(-t1 -c1000) ;;
                close) args=(-t1 -c16 -H "Connection: close") ;;
            esac
            "${CLIENT_PIN[@]}" wrk "${args[@]}" -d"${SECS}s" --latency "http://$addr/" >"$out"
            local requests p50 p99
            requests=$(awk '/requests in/ { print $1 }' "$out")
            p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
            p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
            echo "$requests $p50 $p99"
            ;;
    esac
    rm -f "$out"
}

# Runs case $2 against runtime $1; prints "case runtime requests/s p50 p99 cpu_us_per_request".
one_run() {
    local runtime=$1 case=$2 out pid addr before after figures protocol=h1
    [ "$case" = h2 ] && protocol=h2
    out=$(mktemp)
    "${SERVER_PIN[@]}" "$BIN" "$runtime" 127.0.0.1:0 "$protocol" >"$out" &
    pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$out" && break
        sleep 0.05
    done
    addr=$(sed -n 's/^listening on //p' "$out")
    before=$(cpu_ticks "$pid")
    figures=$(load "$case" "$addr")
    after=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
    # shellcheck disable=SC2086
    set -- $figures
    awk -v c="$case" -v r="$runtime" -v n="$1" -v p50="$2" -v p99="$3" \
        -v t=$((after - before)) -v hz="$TICK" -v secs="$SECS" 'BEGIN {
        if (n == 0) { printf "%-6s %-7s failed: no request completed\n", c, r; exit }
        printf "%-6s %-7s %10.0f %9.0f %9.0f %8.2f\n", c, r, n / secs, p50, p99, t / hz * 1e6 / n
    }'
}

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
echo "case   runtime  requests/s  p50 (µs)  p99 (µs)  server CPU µs/request"
for round in $(seq "$ROUNDS"); do
    for case in "${CASES[@]}"; do
        # Rotate which runtime goes first.
        for k in $(seq 0 $((${#RTS[@]} - 1))); do
            runtime=${RTS[$(((k + round) % ${#RTS[@]}))]}
            one_run "$runtime" "$case" | tee -a "$RESULTS"
        done
    done
done

median() { # case runtime column
    awk -v c="$1" -v r="$2" -v k="$3" '$1 == c && $2 == r && $3 != "failed:" { print $k }' \
        "$RESULTS" | sort -n |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan"; exit }
            print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "medians over $ROUNDS rounds; the last column: CPU per request over the first runtime's"
echo "case   runtime  requests/s  p50 (µs)  p99 (µs)  server CPU µs/request"
for case in "${CASES[@]}"; do
    base=$(median "$case" "${RTS[0]}" 6)
    for runtime in "${RTS[@]}"; do
        awk -v c="$case" -v r="$runtime" -v rps="$(median "$case" "$runtime" 3)" \
            -v p50="$(median "$case" "$runtime" 4)" -v p99="$(median "$case" "$runtime" 5)" \
            -v cpu="$(median "$case" "$runtime" 6)" -v base="$base" 'BEGIN {
            printf "%-6s %-7s %10.0f %9.0f %9.0f %8.2f   %.2fx\n", c, r, rps, p50, p99, cpu, cpu / base
        }'
    done
done
