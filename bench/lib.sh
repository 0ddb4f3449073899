# Shared by the benchmark scripts: a work dir cleaned up on exit, free ports, and nginx on
# loopback as the ceiling. Source it after setting `here` and `root`.

for tool in wrk sqlite3 curl python3; do
    command -v "$tool" >/dev/null && continue
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light sqlite3 curl >/dev/null
        break
    fi
    echo "bench: $tool is missing (apt-get install wrk nginx-light sqlite3 curl)" >&2
    exit 2
done
if [ ! -x /usr/sbin/nginx ]; then
    [ "$(id -u)" -eq 0 ] || { echo "bench: nginx is missing (apt-get install nginx-light)" >&2; exit 2; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
[ -x "$root/build/webhookd" ] || "$root/scripts/dev" build

work=$(mktemp -d /tmp/webhookd-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx STATUS BODY: nginx answering every request with STATUS and BODY; sets nginx_port.
start_nginx() {
    nginx_port=$(free_port)
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        location / { client_max_body_size 1m; return $1 '$2'; }
    }
}
CONF
    /usr/sbin/nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
    pids+=($!)
    sleep 0.5
}
