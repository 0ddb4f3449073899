// A webhook receiver that verifies every request with code webhookd did not write:
//  - a booking platform's own Node verifier (TypeScript, taken verbatim from its webhook guide and
//    transpiled here), on X-Webhook-Signature;
//  - the `standardwebhooks` npm package, on webhook-id / webhook-timestamp / webhook-signature.
// Answers 200 when both accept, 401 otherwise, and prints one JSON line per request.
// usage: node receiver.mjs GUIDE_FILE SECRET   (prints "listening <port>" first)
import crypto from 'crypto'
import fs from 'fs'
import http from 'http'
import ts from 'typescript'
import { Webhook } from 'standardwebhooks'

const [seedFile, secret] = process.argv.slice(2)
const seed = fs.readFileSync(seedFile, 'utf8')
const start = seed.indexOf('function verifyWebhookSignature(')
const end = seed.indexOf('\napp.post(', start)
if (start < 0 || end < 0) throw new Error('verifyWebhookSignature not found in ' + seedFile)
const js = ts.transpileModule(seed.slice(start, end), { compilerOptions: { target: 'ES2020' } }).outputText
const verifyWebhookSignature = new Function('crypto', js + '\nreturn verifyWebhookSignature')(crypto)
const wh = new Webhook(secret)

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const payload = Buffer.concat(chunks).toString()
    let seedOk = false
    try {
      seedOk = verifyWebhookSignature(payload, req.headers['x-webhook-signature'], secret)
    } catch (e) {
      seedOk = false
    }
    let swOk = false
    try {
      wh.verify(payload, {
        'webhook-id': req.headers['webhook-id'],
        'webhook-timestamp': req.headers['webhook-timestamp'],
        'webhook-signature': req.headers['webhook-signature'],
      })
      swOk = true
    } catch (e) {
      swOk = false
    }
    console.log(JSON.stringify({ id: req.headers['webhook-id'], seed: seedOk, standardwebhooks: swOk }))
    res.writeHead(seedOk && swOk ? 200 : 401, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ received: seedOk && swOk }))
  })
})
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port))
