#!/usr/bin/env bash
# Ingest benchmark: keep-alive POSTs of seed 000's booking payload, N connections, against
#   1. nginx on loopback answering 202 (the ceiling, measured in the same run), and
#   2. webhookd with a fresh database and one subscribed, paused endpoint (so every event
#      also writes a delivery row), synchronous=FULL.
# Prints rate, p50/p95/p99 latency, errors, and webhookd's CPU seconds and peak RSS.
# usage: bench/ingest.sh [seconds=10] [connections=64] [runs=1]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
secs=${1:-10}
conns=${2:-64}
runs=${3:-1}
threads=2

. "$here/lib.sh"
export WRK_BODY_FILE="$here/booking.json"

run_wrk() {  # url -> RESULT line
    wrk -t"$threads" -c"$conns" -d"${secs}s" -s "$here/post.lua" "$1" | grep '^RESULT'
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# --- nginx: the ceiling -------------------------------------------------------------------
start_nginx 202 '{"id":"evt_x","deliveries":1}'

# --- webhookd -------------------------------------------------------------------------------
start_webhookd() {
    local dir=$1 port=$2 admin=$3
    cat >"$dir/webhookd.json" <<CONF
{"ingest": {"listen": "127.0.0.1:$port"}, "admin": {"listen": "127.0.0.1:$admin"},
 "storage": {"path": "$dir/webhookd.db", "synchronous": "full"}, "log": {"level": "warn"}}
CONF
    "$root/build/webhookd" --config "$dir/webhookd.json" 2>"$dir/webhookd.log" &
    WEBHOOKD_PID=$!
    pids+=($WEBHOOKD_PID)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.05; done
    echo "bench: webhookd did not start" >&2; cat "$dir/webhookd.log" >&2; exit 1
}

printf '\n%-10s %-4s %10s %9s %9s %9s %8s %8s %8s %7s\n' target run "req/s" "p50 ms" "p95 ms" "p99 ms" errors "cpu s" "rss MB" ratio
for run in $(seq "$runs"); do
    n=$(run_wrk "http://127.0.0.1:$nginx_port/v1/events")
    printf '%-10s %-4s %10s %9s %9s %9s %8s %8s %8s %7s\n' nginx "$run" "$(field rate "$n")" "$(field p50_ms "$n")" \
        "$(field p95_ms "$n")" "$(field p99_ms "$n")" "$(field errors "$n")" - - 1.00

    dir="$work/run$run"; mkdir -p "$dir"
    port=$(free_port); admin=$(free_port)
    start_webhookd "$dir" "$port" "$admin"
    sqlite3 "$dir/webhookd.db" "INSERT INTO endpoints (id, seq, url, event_patterns, paused_at, created_at, updated_at)
        VALUES ('ep_bench', 1, 'http://127.0.0.1:9/', '[\"booking.*\"]', 1, 0, 0)"
    w=$(run_wrk "http://127.0.0.1:$port/v1/events")
    read -r ut st < <(awk '{print $14, $15}' "/proc/$WEBHOOKD_PID/stat")
    cpu=$(awk -v u="$ut" -v s="$st" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (u+s)/hz}')
    rss=$(awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$WEBHOOKD_PID/status")
    ratio=$(awk -v a="$(field rate "$w")" -v b="$(field rate "$n")" 'BEGIN{printf "%.2f", a/b}')
    printf '%-10s %-4s %10s %9s %9s %9s %8s %8s %8s %7s\n' webhookd "$run" "$(field rate "$w")" "$(field p50_ms "$w")" \
        "$(field p95_ms "$w")" "$(field p99_ms "$w")" "$(field errors "$w")" "$cpu" "$rss" "$ratio"
    stored=$(sqlite3 "$dir/webhookd.db" "SELECT COUNT(*) FROM events; SELECT COUNT(*) FROM deliveries;" | paste -sd/)
    echo "           stored events/deliveries: $stored (wrk counted $(field requests "$w") requests)"
    kill "$WEBHOOKD_PID"; wait "$WEBHOOKD_PID" 2>/dev/null || true
done
echo
echo "machine: $(nproc) cores, $(awk -F: '/model name/{print $2; exit}' /proc/cpuinfo | sed 's/^ //'), $secs s per run, $conns connections, wrk -t$threads"
