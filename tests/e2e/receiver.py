"""A webhook receiver that verifies X-Webhook-Signature with a booking platform's own Python
verifier, taken verbatim from its webhook guide. Answers 200 when it accepts, 401 otherwise, and prints one
JSON line per request. usage: python3 receiver.py GUIDE_FILE SECRET (prints "listening <port>")."""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

seed_file, secret = sys.argv[1], sys.argv[2]
seed = open(seed_file, encoding="utf-8").read()
start = seed.index("def verify_webhook_signature(")
end = seed.index("@app.route", start)
namespace = {"hmac": hmac, "hashlib": hashlib}
exec(seed[start:end], namespace)
verify_webhook_signature = namespace["verify_webhook_signature"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify_webhook_signature(payload, self.headers.get("X-Webhook-Signature"), secret)
        print(json.dumps({"id": self.headers.get("webhook-id"), "seed": ok}, separators=(",", ":")), flush=True)
        body = json.dumps({"received": ok}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
