"""A webhookd receiver in Python (standard library only). It checks each request's
signature over the raw body bytes and answers 200 when it is valid, 401 otherwise.

    WEBHOOK_FORMAT=hex WEBHOOK_SECRET=whsec_... python3 receiver.py
    python3 receiver.py FORMAT SECRET      (the same, from argv)

FORMAT is the endpoint's signature.format (hex, sha256 or stripe), or "standard" to check
the Standard Webhooks headers that every request carries. Prints "listening <port>", then
one line per request: "verified <event id>" or "rejected <event id>".
"""
import base64
import hashlib
import hmac
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORMAT = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WEBHOOK_FORMAT", "hex")
SECRET = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("WEBHOOK_SECRET", "")
HEADER = "X-Webhook-Signature"  # or your endpoint's signature.header
TOLERANCE = 5 * 60  # seconds: a timestamp further from now is a replay (or a bad clock)
if FORMAT not in ("hex", "sha256", "stripe", "standard") or not SECRET.startswith("whsec_"):
    sys.exit("usage: python3 receiver.py hex|sha256|stripe|standard whsec_...")


def sign(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 of the parts, one after the other."""
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def equal(a: str, b: str) -> bool:
    """Constant-time comparison (on bytes: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode(), b.encode())


def fresh(ts: str) -> bool:
    """True when ts (Unix seconds, in decimal) is within the tolerance of now."""
    return ts.isascii() and ts.isdigit() and abs(time.time() - int(ts)) <= TOLERANCE


def verify(headers, body: bytes) -> bool:
    sig = headers.get(HEADER, "")
    if FORMAT == "hex":  # lowercase hex of HMAC-SHA256(secret, body)
        return equal(sig, sign(SECRET.encode(), body).hex())
    if FORMAT == "sha256":  # "sha256=" + that hex
        return equal(sig, "sha256=" + sign(SECRET.encode(), body).hex())
    if FORMAT == "stripe":  # "t=<ts>,v1=<hex of HMAC-SHA256(secret, "<ts>.<body>")>"
        fields = [item.partition("=") for item in sig.split(",")]
        t = next((value for name, _, value in fields if name == "t"), "")
        expected = sign(SECRET.encode(), f"{t}.".encode(), body).hex()
        return fresh(t) and any(equal(value, expected) for name, _, value in fields if name == "v1")
    if FORMAT == "standard":  # "v1,<base64 of HMAC-SHA256(key, "<id>.<ts>.<body>")>", space-separated
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        msg_id, t = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        expected = base64.b64encode(sign(key, f"{msg_id}.{t}.".encode(), body)).decode()
        signatures = headers.get("webhook-signature", "").split(" ")
        return fresh(t) and any(s.startswith("v1,") and equal(s[3:], expected) for s in signatures)
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: webhookd reuses its connections

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))  # the raw bytes
        ok = verify(self.headers, body)
        print("verified" if ok else "rejected", self.headers.get("X-Webhook-Id"), flush=True)
        # Here: dedupe on the event id, queue json.loads(body) for processing, answer at once.
        reply = b"ok" if ok else b"invalid signature"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):  # no access log: one line per request is printed above
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", 0))), Handler)  # 0: any free port
print("listening", server.server_address[1], flush=True)
server.serve_forever()
