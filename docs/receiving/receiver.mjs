// A webhookd receiver in Node (built-in modules only). It checks each request's signature
// over the raw body bytes and answers 200 when it is valid, 401 otherwise.
//
//   WEBHOOK_FORMAT=hex WEBHOOK_SECRET=whsec_... node receiver.mjs
//   node receiver.mjs FORMAT SECRET      (the same, from argv)
//
// FORMAT is the endpoint's signature.format (hex, sha256 or stripe), or "standard" to check
// the Standard Webhooks headers that every request carries. Prints "listening <port>", then
// one line per request: "verified <event id>" or "rejected <event id>".
import crypto from 'node:crypto'
import http from 'node:http'

const format = process.argv[2] ?? process.env.WEBHOOK_FORMAT ?? 'hex'
const secret = process.argv[3] ?? process.env.WEBHOOK_SECRET
const header = 'x-webhook-signature' // or your endpoint's signature.header, in lower case
const tolerance = 5 * 60 // seconds: a timestamp further from now is a replay (or a bad clock)
if (!['hex', 'sha256', 'stripe', 'standard'].includes(format) || !secret?.startsWith('whsec_')) {
  console.error('usage: node receiver.mjs hex|sha256|stripe|standard whsec_...')
  process.exit(2)
}

// HMAC-SHA256 of the parts, one after the other (strings as UTF-8, Buffers as they are).
function hmac(key, ...parts) {
  const mac = crypto.createHmac('sha256', key)
  for (const part of parts) mac.update(part)
  return mac
}

// Constant-time comparison; timingSafeEqual itself throws when the lengths differ.
function equal(a, b) {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && crypto.timingSafeEqual(x, y)
}

// True when ts (Unix seconds, in decimal) is within the tolerance of now.
function fresh(ts) {
  return /^[0-9]+$/.test(ts) && Math.abs(Date.now() / 1000 - Number(ts)) <= tolerance
}

function verify(headers, body) {
  const sig = headers[header] ?? ''
  switch (format) {
    case 'hex': // lowercase hex of HMAC-SHA256(secret, body)
      return equal(sig, hmac(secret, body).digest('hex'))
    case 'sha256': // "sha256=" + that hex
      return equal(sig, 'sha256=' + hmac(secret, body).digest('hex'))
    case 'stripe': { // "t=<ts>,v1=<hex of HMAC-SHA256(secret, "<ts>.<body>")>"
      const fields = new URLSearchParams(sig.replaceAll(',', '&'))
      const t = fields.get('t') ?? ''
      const expected = hmac(secret, `${t}.`, body).digest('hex')
      return fresh(t) && fields.getAll('v1').some((v1) => equal(v1, expected))
    }
    case 'standard': { // "v1,<base64 of HMAC-SHA256(key, "<id>.<ts>.<body>")>", space-separated
      const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
      const id = headers['webhook-id'] ?? ''
      const t = headers['webhook-timestamp'] ?? ''
      const expected = hmac(key, `${id}.${t}.`, body).digest('base64')
      const signatures = (headers['webhook-signature'] ?? '').split(' ')
      return fresh(t) && signatures.some((s) => s.startsWith('v1,') && equal(s.slice(3), expected))
    }
  }
  return false
}

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const body = Buffer.concat(chunks) // the raw bytes: never verify re-serialized JSON
    const ok = req.method === 'POST' && verify(req.headers, body)
    console.log(`${ok ? 'verified' : 'rejected'} ${req.headers['x-webhook-id']}`)
    // Here: dedupe on the event id, queue JSON.parse(body) for processing, answer at once.
    res.writeHead(ok ? 200 : 401).end(ok ? 'ok' : 'invalid signature')
  })
})
const port = Number(process.env.PORT ?? 0) // 0: any free port
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`))
