#!/usr/bin/env bash
# Delivery benchmark: N events queued behind a paused endpoint that points at nginx on
# loopback (answering 200), then the endpoint is resumed; the rate is N / time until no
# delivery is pending. Every delivery is signed (hex and Standard Webhooks) and its outcome
# recorded (synchronous=FULL). The ceiling, measured in the same run: wrk POSTing the same
# envelope into the same nginx with the same number of connections.
# usage: bench/deliver.sh [events=50000] [connections=64] [runs=1]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
events=${1:-50000}
conns=${2:-64}
runs=${3:-1}

. "$here/lib.sh"
now_ms() { date +%s%3N; }

start_nginx 200 ok

# An envelope like the ones webhookd sends, for the wrk ceiling.
echo '{"id":"evt_01JS2ZQ8Y3K5N3W6X7V8T9R0AB","timestamp":"2025-04-19T14:30:00Z","event":"booking.created","data":'"$(sed 's/^{"event":"booking.created","data"://; s/}$//' "$here/booking.json")"'}' > "$work/envelope.json"
export WRK_BODY_FILE="$work/envelope.json"

printf '\n%-4s %12s %14s %8s %10s %8s %8s\n' run "nginx req/s" "webhookd del/s" ratio "seconds" "cpu s" "rss MB"
for run in $(seq "$runs"); do
    ceiling=$(wrk -t2 -c"$conns" -d10s -s "$here/post.lua" "http://127.0.0.1:$nginx_port/hook" | sed -n 's/^RESULT rate=\([0-9]*\).*/\1/p')

    dir="$work/run$run"; mkdir -p "$dir"
    port=$(free_port); admin=$(free_port)
    cat >"$dir/webhookd.json" <<CONF
{"ingest": {"listen": "127.0.0.1:$port"}, "admin": {"listen": "127.0.0.1:$admin"},
 "storage": {"path": "$dir/webhookd.db"}, "log": {"level": "warn"},
 "delivery": {"allowed_cidrs": ["127.0.0.0/8"], "max_in_flight_per_endpoint": $conns}}
CONF
    "$root/build/webhookd" --config "$dir/webhookd.json" 2>"$dir/webhookd.log" &
    pid=$!
    pids+=($pid)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
    sqlite3 "$dir/webhookd.db" "INSERT INTO endpoints (id, seq, url, event_patterns, paused_at, created_at, updated_at)
        VALUES ('ep_bench', 1, 'http://127.0.0.1:$nginx_port/hook', '[\"booking.*\"]', 1, 0, 0);
        INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ('ep_bench', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 0);"
    python3 - "$port" "$events" "$here/booking.json" <<'PY'
import json, sys, urllib.request
port, n, payload = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
for start in range(0, n, 1000):
    body = json.dumps({"events": [payload] * min(1000, n - start)}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events/batch", body, {"Content-Type": "application/json"})
    assert urllib.request.urlopen(req).status == 202
PY
    sleep 6  # let the dispatcher's periodic rescan see the endpoint (paused) first
    pending_of() { curl -s "http://127.0.0.1:$admin/metrics" | awk '/^webhookd_deliveries_pending /{print $2}'; }
    sqlite3 "$dir/webhookd.db" "UPDATE endpoints SET paused_at = NULL WHERE id = 'ep_bench'"
    # The dispatcher sees the change at its next rescan (<= 5 s); the clock starts at the
    # first delivery.
    while [ "$(pending_of)" = "$events" ]; do sleep 0.01; done
    read -r ut0 st0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    start=$(now_ms)
    start_pending=$(pending_of)
    while :; do
        [ "$(pending_of)" = 0 ] && break
        sleep 0.05
    done
    end=$(now_ms)
    read -r ut1 st1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", (b-a)/1000}')
    rate=$(awk -v n="$start_pending" -v s="$secs" 'BEGIN{printf "%.0f", n/s}')
    cpu=$(awk -v a=$((ut1+st1-ut0-st0)) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", a/hz}')
    rss=$(awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$pid/status")
    ratio=$(awk -v a="$rate" -v b="$ceiling" 'BEGIN{printf "%.2f", a/b}')
    delivered=$(sqlite3 "$dir/webhookd.db" "SELECT COUNT(*) FROM deliveries WHERE state='delivered'")
    printf '%-4s %12s %14s %8s %10s %8s %8s\n' "$run" "$ceiling" "$rate" "$ratio" "$secs" "$cpu" "$rss"
    echo "     delivered rows: $delivered of $events"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo
echo "machine: $(nproc) cores, $(awk -F: '/model name/{print $2; exit}' /proc/cpuinfo | sed 's/^ //'); $conns connections; timed from the first delivery to the last"
