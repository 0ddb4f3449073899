#!/usr/bin/env bash
# Installs webhookd into a temporary prefix with `cmake --install`, then runs the installed
# binary with the installed config: it must become ready, take an event, drain on SIGTERM
# with exit 0, and find the event again after a restart.
#   install_test.sh BUILD_DIR
# Exit 77 (skipped) when the installed config's ports (8080, 8081) are taken on this machine.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/state/log" ] && sed 's/^/  daemon: /' "$tmp/state/log" >&2; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/webhookd lib/systemd/system/webhookd.service etc/webhookd/webhookd.json \
         share/webhookd/migrations/0001_initial.sql share/doc/webhookd/docs/operations.md share/doc/webhookd/copyright share/doc/webhookd/changelog.gz; do
    [ -e "$prefix/$f" ] || fail "$f was not installed"
done
[ -x "$prefix/bin/webhookd" ] || fail "bin/webhookd is not executable"
unit=$prefix/lib/systemd/system/webhookd.service
grep -qx "ExecStart=$prefix/bin/webhookd --config $prefix/etc/webhookd/webhookd.json" "$unit" ||
    fail "the unit's ExecStart does not name the installed binary and config: $(grep ExecStart "$unit")"
grep -qx "Type=notify" "$unit" || fail "the unit is not Type=notify"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify --man=no "$unit" || fail "systemd-analyze verify rejects the installed unit"
fi

config=$prefix/etc/webhookd/webhookd.json
"$prefix/bin/webhookd" --check-config "$config" >/dev/null || fail "--check-config rejects the installed config"

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_taken 8080 || port_taken 8081; then
    echo "SKIP: port 8080 or 8081 is in use; the installed config listens there" >&2
    exit 77
fi

mkdir "$tmp/state"
start() {
    (cd "$tmp/state" && exec "$prefix/bin/webhookd" --config "$config" >>log 2>&1) &
    pid=$!
    for _ in $(seq 1 100); do
        if curl -fsS localhost:8080/readyz >/dev/null 2>&1; then return 0; fi
        kill -0 "$pid" 2>/dev/null || fail "the installed daemon exited at start-up"
        sleep 0.1
    done
    fail "the installed daemon did not become ready within 10 s"
}
stop() {
    kill -TERM "$pid"
    local code=0
    wait "$pid" || code=$?
    pid=""
    [ "$code" -eq 0 ] || fail "exit code $code after SIGTERM (want 0)"
}

start
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST localhost:8080/v1/events \
    -H 'Content-Type: application/json' -d '{"id": "evt_install_1", "event": "install.checked", "data": {}}')
[ "$status" = 202 ] || fail "ingest answered $status (want 202)"
metrics=$(curl -fsS localhost:8081/metrics) || fail "no metrics"
grep -qx 'webhookd_events_ingested_total 1' <<<"$metrics" || fail "metrics do not count the event"
stop
[ -f "$tmp/state/webhookd.db" ] || fail "no webhookd.db in the working directory"

start
body=$(curl -fsS localhost:8081/v1/events/evt_install_1) || fail "the event is gone after a restart"
case "$body" in *'"install.checked"'*) ;; *) fail "unexpected event: $body" ;; esac
stop
echo "PASS: installed into $prefix, served, drained, restarted"
