// A webhookd receiver in Go (standard library only). It checks each request's signature
// over the raw body bytes and answers 200 when it is valid, 401 otherwise.
//
//	WEBHOOK_FORMAT=hex WEBHOOK_SECRET=whsec_... go run receiver.go
//	go run receiver.go FORMAT SECRET      (the same, from argv)
//
// FORMAT is the endpoint's signature.format (hex, sha256 or stripe), or "standard" to check
// the Standard Webhooks headers that every request carries. Prints "listening <port>", then
// one line per request: "verified <event id>" or "rejected <event id>".
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// header is the signature header: X-Webhook-Signature, or your endpoint's signature.header.
const header = "X-Webhook-Signature"

// tolerance is in seconds: a timestamp further from now is a replay (or a bad clock).
const tolerance = 5 * 60

var format, secret = arg(1, "WEBHOOK_FORMAT", "hex"), arg(2, "WEBHOOK_SECRET", "")

// arg is os.Args[i] when given, else the environment variable env, else def.
func arg(i int, env, def string) string {
	if len(os.Args) > i {
		return os.Args[i]
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// sign is HMAC-SHA256(key, the parts one after the other).
func sign(key []byte, parts ...[]byte) []byte {
	mac := hmac.New(sha256.New, key)
	for _, p := range parts {
		mac.Write(p)
	}
	return mac.Sum(nil)
}

// equal compares in constant time.
func equal(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// fresh reports whether ts (Unix seconds, in decimal) is within the tolerance of now.
func fresh(ts string) bool {
	t, err := strconv.ParseUint(ts, 10, 63)
	age := time.Now().Unix() - int64(t)
	return err == nil && age >= -tolerance && age <= tolerance
}

func verify(h http.Header, body []byte) bool {
	sig := h.Get(header)
	switch format {
	case "hex": // lowercase hex of HMAC-SHA256(secret, body)
		return equal(sig, hex.EncodeToString(sign([]byte(secret), body)))
	case "sha256": // "sha256=" + that hex
		return equal(sig, "sha256="+hex.EncodeToString(sign([]byte(secret), body)))
	case "stripe": // "t=<ts>,v1=<hex of HMAC-SHA256(secret, "<ts>.<body>")>"
		var t string
		var v1s []string
		for _, field := range strings.Split(sig, ",") {
			name, value, _ := strings.Cut(field, "=")
			switch name {
			case "t":
				t = value
			case "v1":
				v1s = append(v1s, value)
			}
		}
		expected := hex.EncodeToString(sign([]byte(secret), []byte(t+"."), body))
		for _, v1 := range v1s {
			if fresh(t) && equal(v1, expected) {
				return true
			}
		}
	case "standard": // "v1,<base64 of HMAC-SHA256(key, "<id>.<ts>.<body>")>", space-separated
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return false
		}
		id, t := h.Get("webhook-id"), h.Get("webhook-timestamp")
		expected := base64.StdEncoding.EncodeToString(sign(key, []byte(id+"."+t+"."), body))
		for _, s := range strings.Split(h.Get("webhook-signature"), " ") {
			if fresh(t) && strings.HasPrefix(s, "v1,") && equal(s[3:], expected) {
				return true
			}
		}
	}
	return false
}

func main() {
	known := map[string]bool{"hex": true, "sha256": true, "stripe": true, "standard": true}
	if !known[format] || !strings.HasPrefix(secret, "whsec_") {
		fmt.Fprintln(os.Stderr, "usage: go run receiver.go hex|sha256|stripe|standard whsec_...")
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body) // the raw bytes: never verify re-encoded JSON
		if err != nil || r.Method != http.MethodPost || !verify(r.Header, body) {
			fmt.Println("rejected", r.Header.Get("X-Webhook-Id"))
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("verified", r.Header.Get("X-Webhook-Id"))
		// Here: dedupe on the event id, queue json.Unmarshal(body) for processing, answer at once.
		w.Write([]byte("ok"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT")) // "" or 0: any free port
	if err != nil {
		panic(err)
	}
	fmt.Println("listening", ln.Addr().(*net.TCPAddr).Port) // os.Stdout is unbuffered
	panic(http.Serve(ln, nil))
}
