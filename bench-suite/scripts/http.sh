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
# Usage: bench-suite/scripts/http.sh [CASE...]   cases: c1 c64 c1000 close h2 (default: these)
#        RUNTIMES="evloop tokio" bench-suite/scripts/http.sh c64   (default: evloop tokio smol)
#
# Two-thread cases (HTTP/1.1; nothing pinned: the server's two threads and the client's share
# the two CPUs), run against MC_RUNTIMES (default: evloop evloop2 evloop2-handoff tokio-mt2
# tokio-2ct smol2; see src/bin/http_server.rs):
#   mc64     wrk -t2 -c64, keep-alive
#   mccpu    wrk -t2 -c16, each request 100 µs of server CPU (server-bound)
#   mcpaced  http_load paced: 32 connections sending PACED_RATE requests/s (default 5600, 70%
#            of one evloop loop's saturation on mccpu on the machine this was written on: set it
#            to 70% of yours) of 100 µs each, latency counted from when each request was due
#   mcchurn  http_load churn: 32 threads opening connections, sending 1 to 400 requests on each
#            and closing them, in bursts, so the live connections per server thread drift
#   mcuneven http_load uneven: 32 keep-alive connections, 4 of them asking for 100 µs of server
#            CPU per request and 28 for the plain answer (uneven work per connection)
# Every case also reports the client's CPU share: its CPU time over the run's wall time times
# the CPUs. The load average and the steal time of the run are printed at its start and end,
# and the evloop2 servers' per-loop counts (lines starting with #) after each of their runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
read -r -a RTS <<<"${RUNTIMES:-evloop tokio smol}"
read -r -a MC_RTS <<<"${MC_RUNTIMES:-evloop evloop2 evloop2-handoff tokio-mt2 tokio-2ct smol2}"
CASES=("$@")
[ ${#CASES[@]} -eq 0 ] && CASES=(c1 c64 c1000 close h2)

# The tool each case needs; cases whose tool is missing are dropped.
tool_of() {
    case "$1" in h2) echo h2load ;; mcpaced | mcchurn | mcuneven) echo cargo ;; *) echo wrk ;; esac
}
KEPT=()
for case in "${CASES[@]}"; do
    case "$case" in c1 | c64 | c1000 | close | h2 | mc64 | mccpu | mcpaced | mcchurn | mcuneven) ;; *)
        echo "unknown case $case (c1 c64 c1000 close h2 mc64 mccpu mcpaced mcchurn mcuneven)" >&2
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

cargo build -q --release -p evloop-bench --bin http_server --bin http_load
BIN=target/release/http_server
LOAD=target/release/http_load
PACED_RATE=${PACED_RATE:-5600}
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

# Runs command "$2..." with its output in file $1; prints the CPU time (user + system) it used,
# in clock ticks (the waiting shell's children's time, read before the shell exits).
client_ticks() {
    bash -c '"$@" >"$0" 2>&1; awk "{ print \$16 + \$17 }" /proc/$$/stat' "$@"
}

# Runs the load of case $1 against $2 (host:port), the client pinned by "$3..." (if anything);
# prints "requests p50_us p99_us max_us client_ticks".
load() {
    local case=$1 addr=$2 out log ticks
    shift 2
    out=$(mktemp)
    case "$case" in
        h2)
            log=$(mktemp)
            ticks=$(client_ticks "$out" "$@" h2load -t1 -c16 -m10 -D "$SECS" --log-file="$log" \
                "http://$addr/")
            # The log has one line per request: start (µs), status, duration (µs).
            awk '/^requests:/ { printf "%d ", $8 }' "$out"
            cut -f3 "$log" | sort -n | awk -v t="$ticks" '{ v[NR] = $1 } END {
                if (NR == 0) { print "0 0 0 " t; exit }
                printf "%s %s %s %s\n", v[int((NR + 1) * 0.5)], v[int((NR - 1) * 0.99) + 1], v[NR], t }'
            rm -f "$log"
            ;;
        mcpaced | mcchurn | mcuneven)
            case "$case" in
                mcpaced) ticks=$(client_ticks "$out" "$@" "$LOAD" paced "$addr" /cpu "$PACED_RATE" "$SECS") ;;
                mcchurn) ticks=$(client_ticks "$out" "$@" "$LOAD" churn "$addr" / "$SECS") ;;
                *) ticks=$(client_ticks "$out" "$@" "$LOAD" uneven "$addr" "$SECS") ;;
            esac
            awk -v t="$ticks" '/^requests/ { print $2, $4, $6, $8, t; found = 1 }
                END { if (!found) print "0 0 0 0", t }' "$out"
            ;;
        *)
            local args=(-t1 -c1) path=/
            case "$case" in
                c64) args=(-t1 -c64) ;;
                c1000) args=(-t1 -c1000) ;;
                close) args=(-t1 -c16 -H "Connection: close") ;;
                mc64) args=(-t2 -c64) ;;
                mccpu) args=(-t2 -c16) path=/cpu ;;
            esac
            ticks=$(client_ticks "$out" "$@" wrk "${args[@]}" -d"${SECS}s" --latency \
                "http://$addr$path")
            local requests p50 p99 max
            requests=$(awk '/requests in/ { print $1 }' "$out")
            p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
            p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
            max=$(to_us "$(awk '$1 == "Latency" { print $4 }' "$out")")
            echo "$requests $p50 $p99 $max $ticks"
            ;;
    esac
    rm -f "$out"
}

# Runs case $2 against runtime $1; prints "case runtime requests/s p50 p99 max
# cpu_us_per_request client_share_percent".
one_run() {
    local runtime=$1 case=$2 out pid addr before after figures protocol=h1
    local server_pin=("${SERVER_PIN[@]}") client_pin=("${CLIENT_PIN[@]}")
    [ "$case" = h2 ] && protocol=h2
    # The two-thread cases pin nothing: the server's threads and the client's share the CPUs.
    case "$case" in mc*) server_pin=() client_pin=() ;; esac
    out=$(mktemp)
    "${server_pin[@]}" "$BIN" "$runtime" 127.0.0.1:0 "$protocol" >"$out" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$out" && break
        sleep 0.05
    done
    addr=$(sed -n 's/^listening on //p' "$out")
    before=$(cpu_ticks "$pid")
    figures=$(load "$case" "$addr" "${client_pin[@]}")
    after=$(cpu_ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    sed -n "s/^loop /# $case $runtime: loop /p" "$out"
    rm -f "$out"
    # shellcheck disable=SC2086
    set -- $figures
    awk -v c="$case" -v r="$runtime" -v n="$1" -v p50="$2" -v p99="$3" -v max="$4" -v ct="$5" \
        -v t=$((after - before)) -v hz="$TICK" -v secs="$SECS" -v cpus="$(nproc)" 'BEGIN {
        if (n == 0) { printf "%-7s %-15s failed: no request completed\n", c, r; exit }
        printf "%-7s %-15s %10.0f %9.0f %9.0f %9.0f %8.2f %7.1f\n", c, r, n / secs, p50, p99,
            max, t / hz * 1e6 / n, ct / hz / (secs * cpus) * 100
    }'
}

# The runtimes of case $1.
runtimes_of() {
    case "$1" in mc*) echo "${MC_RTS[@]}" ;; *) echo "${RTS[@]}" ;; esac
}

# The load average over the last minute and the machine's steal time so far (clock ticks).
machine() {
    echo "load average $(cut -d' ' -f1 /proc/loadavg), steal $(awk '$1 == "cpu" { print $9 }' /proc/stat) ticks"
}

HEADER="case    runtime          requests/s  p50 (µs)  p99 (µs)  max (µs)  CPU µs/req  client %"
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
echo "start: $(machine)"
echo "$HEADER"
for round in $(seq "$ROUNDS"); do
    for case in "${CASES[@]}"; do
        read -r -a rts <<<"$(runtimes_of "$case")"
        # Rotate which runtime goes first.
        for k in $(seq 0 $((${#rts[@]} - 1))); do
            runtime=${rts[$(((k + round) % ${#rts[@]}))]}
            one_run "$runtime" "$case" | tee -a "$RESULTS"
        done
    done
done
echo "end: $(machine)"

median() { # case runtime column
    awk -v c="$1" -v r="$2" -v k="$3" '$1 == c && $2 == r && $3 != "failed:" { print $k }' \
        "$RESULTS" | sort -n |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan"; exit }
            print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "medians over $ROUNDS rounds (requests/s: min-max); the last columns: requests/s and CPU"
echo "per request over the case's first runtime's"
echo "$HEADER  rps range           rps/first  CPU/first"
range() { # case runtime column
    awk -v c="$1" -v r="$2" -v k="$3" '$1 == c && $2 == r && $3 != "failed:" { print $k }' \
        "$RESULTS" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'
}
for case in "${CASES[@]}"; do
    read -r -a rts <<<"$(runtimes_of "$case")"
    base=$(median "$case" "${rts[0]}" 7)
    base_rps=$(median "$case" "${rts[0]}" 3)
    for runtime in "${rts[@]}"; do
        awk -v c="$case" -v r="$runtime" -v rps="$(median "$case" "$runtime" 3)" \
            -v p50="$(median "$case" "$runtime" 4)" -v p99="$(median "$case" "$runtime" 5)" \
            -v max="$(median "$case" "$runtime" 6)" \
            -v cpu="$(median "$case" "$runtime" 7)" -v share="$(median "$case" "$runtime" 8)" \
            -v base="$base" -v base_rps="$base_rps" -v range="$(range "$case" "$runtime" 3)" 'BEGIN {
            printf "%-7s %-15s %10.0f %9.0f %9.0f %9.0f %8.2f %7.1f    %-17s %6.2fx %7.2fx\n",
                c, r, rps, p50, p99, max, cpu, share, range, rps / base_rps, cpu / base
        }'
    done
done
