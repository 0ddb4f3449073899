// Browser tests of the web console served by webhookd at /console/.
//
//   WEBHOOKD_BIN=build/webhookd WEBHOOKD_ARTIFACTS=/tmp/console-artifacts node --test tests/console/
//
// Starts its own daemon (temp config and database, free 127.0.0.1 ports), its own receivers,
// and Debian's Chromium (/usr/bin/chromium) through playwright-core. Exits 77 (skipped) when
// WEBHOOKD_BIN, Chromium or node_modules are missing; under `node --test` the runner reports
// that as "exitCode: 77" on a failed file, and the line "webhookd-console: SKIPPED" is printed.
// Fails on any CSP violation, native dialog or page error.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const BIN = process.env.WEBHOOKD_BIN ? path.resolve(process.env.WEBHOOKD_BIN) : '';
const ARTIFACTS = path.resolve(process.env.WEBHOOKD_ARTIFACTS || path.join(os.tmpdir(), 'webhookd-console-artifacts'));

function skip(why) {
  console.log(`webhookd-console: SKIPPED: ${why}`);
  process.exit(77);
}
if (!BIN) skip('WEBHOOKD_BIN is not set (the path of the webhookd binary)');
if (!fs.existsSync(BIN)) skip(`WEBHOOKD_BIN=${BIN} does not exist`);
if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} is missing (apt-get install chromium)`);
if (!fs.existsSync(path.join(HERE, 'node_modules', 'playwright-core')) || !fs.existsSync(path.join(HERE, 'node_modules', 'axe-core'))) {
  skip(`node_modules missing: run npm ci in ${HERE}`);
}

const require = createRequire(path.join(HERE, 'package.json'));
const { chromium } = require('playwright-core');
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const OP = `op_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
const HOSTILE = [
  '<img src=x onerror=window.__xss=1>',
  '</script><script>window.__xss=1</script>',
  '"><svg onload=window.__xss=1>',
];
const HOSTILE_TEXT = HOSTILE.join(' ');

let tmp;
let daemon;
let daemonLog = '';
let ADMIN; // http://127.0.0.1:port
let INGEST;
let browser;
const receivers = [];
const TOKENS = new Set([OP]); // no request URL may carry one of these

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, { timeout = 15000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(interval);
  }
}

async function call(base, method, p, body, bearer = OP) {
  const headers = {};
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data };
}

async function admin(method, p, body, bearer = OP) {
  const r = await call(ADMIN, method, p, body, bearer);
  if (r.status >= 300) throw new Error(`${method} ${p} -> ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

async function ingest(body) {
  const r = await call(INGEST, 'POST', '/v1/events', body, null);
  if (r.status !== 202 && r.status !== 200) throw new Error(`ingest -> ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

// A receiver on 127.0.0.1 whose answer can be switched (status and body).
async function receiver(name, { status = 200, body = 'ok' } = {}) {
  const r = { name, status, body, hits: 0 };
  r.server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      r.hits += 1;
      res.writeHead(r.status, { 'Content-Type': 'text/plain' });
      res.end(r.body);
    });
  });
  await new Promise((res) => r.server.listen(0, '127.0.0.1', res));
  r.url = `http://127.0.0.1:${r.server.address().port}`;
  receivers.push(r);
  return r;
}

async function deadLetters(query = '') {
  return (await admin('GET', `/v1/dead-letters?limit=1000${query}`)).data;
}

// ---------------------------------------------------------------- browser helpers

// A page that records CSP violations, native dialogs and page errors; check() asserts none.
async function openPage({ viewport = { width: 1280, height: 800 }, bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport, bypassCSP });
  if (!bypassCSP) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ADMIN });
  }
  context.setDefaultTimeout(15000);
  await context.addInitScript(() => {
    window.__csp = window.__csp || [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`CSP console message: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`native ${d.type()} dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    u.hash = ''; // a fragment is never sent
    for (const t of TOKENS) if (u.href.includes(t)) problems.push(`a token in a request URL: ${u.href}`);
  });
  page.check = async (where) => {
    let csp = [];
    try { csp = await page.evaluate(() => window.__csp || []); } catch { /* navigating */ }
    const all = [...problems, ...csp.map((c) => `securitypolicyviolation: ${c}`)];
    assert.deepEqual(all, [], `${where}: ${all.join('; ')}`);
    const xss = await page.evaluate(() => window.__xss);
    assert.equal(xss, undefined, `${where}: window.__xss was set: a payload executed`);
    assert.deepEqual(await page.context().cookies(), [], `${where}: the console set a cookie`);
    // A missing value rendered as a word ("null", "undefined") is a bug a person would see.
    const leaked = await page.evaluate(() => {
      const out = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        if (n.parentElement && n.parentElement.closest('pre')) continue; // payloads may say null
        if (/^(null|undefined|NaN|\[object Object\])$/.test(n.textContent.trim())) out.push(n.parentElement.outerHTML.slice(0, 120));
      }
      return out;
    });
    assert.deepEqual(leaked, [], `${where}: a missing value is shown as text`);
  };
  page.problems = problems;
  return { context, page };
}

async function shot(page, name) {
  // Transient toasts and a scrolled sticky header would land mid-page in a full-page shot.
  await page.evaluate(() => { document.querySelectorAll('.toast').forEach((t) => t.remove()); window.scrollTo(0, 0); });
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

// In-app navigation through the History API, as a click on a link would do.
async function go(page, p) {
  await page.evaluate((href) => {
    const a = document.createElement('a');
    a.href = href;
    document.body.append(a);
    a.click();
    a.remove();
  }, p);
  await page.waitForFunction((href) => location.pathname + location.search === href, p, { timeout: 5000 });
}

async function loaded(page) {
  await page.waitForFunction(() => !document.querySelector('#main [role="status"].loading') && !document.querySelector('#main [aria-busy="true"]'), null, { timeout: 15000 });
}

async function mainText(page) {
  return page.evaluate(() => document.body.innerText);
}

// ---------------------------------------------------------------- daemon

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'webhookd-console-'));
  // Ports chosen by the daemon (port 0), read from its log: never one another test took.
  const config = {
    ingest: { listen: '127.0.0.1:0' },
    admin: { listen: '127.0.0.1:0', tokens: [OP] },
    storage: { path: path.join(tmp, 'webhookd.db') },
    delivery: { allowed_cidrs: ['127.0.0.0/8'], timeout: '5s' },
    retry: { schedule: ['0s', '200ms', '400ms'], jitter: 0 },
    log: { level: 'info' },
  };
  const cfgPath = path.join(tmp, 'webhookd.json');
  fs.writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  daemon = spawn(BIN, ['--config', cfgPath], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout.on('data', (d) => { daemonLog += d; });
  daemon.stderr.on('data', (d) => { daemonLog += d; });
  let exited = null;
  daemon.on('exit', (code, sig) => { exited = `${code ?? sig}`; });
  await waitFor(() => {
    if (exited) throw new Error(`webhookd exited (${exited}): ${daemonLog}`);
    const ports = ['ingest', 'admin'].map((l) => daemonLog.match(new RegExp(`${l} listening on 127\\.0\\.0\\.1:(\\d+)`)));
    if (!ports[0] || !ports[1]) return false;
    INGEST = `http://127.0.0.1:${ports[0][1]}`;
    ADMIN = `http://127.0.0.1:${ports[1][1]}`;
    return true;
  }, { timeout: 20000, interval: 50, what: 'webhookd listening' });
  await waitFor(async () => {
    if (exited) throw new Error(`webhookd exited (${exited}): ${daemonLog}`);
    const r = await fetch(`${ADMIN}/readyz`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200;
  }, { timeout: 20000, interval: 100, what: 'webhookd /readyz' });
  const page = await fetch(`${ADMIN}/console/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(page.status, 200, `GET /console/ on the admin listener answered ${page.status}: this webhookd does not serve the console`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const r of receivers) r.server.closeAllConnections?.(), r.server.close();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    const dead = await Promise.race([new Promise((r) => daemon.once('exit', () => r(true))), sleep(5000).then(() => false)]);
    if (!dead) daemon.kill('SIGKILL');
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- 0. sign-in page, first render and size

test('first render and transfer size of /console/', { timeout: 60000 }, async () => {
  const { context, page } = await openPage();
  try {
    // The sign-in form (no token; the listener has an operator token, so /v1/me answers 401).
    await page.goto(`${ADMIN}/console/`);
    await page.getByLabel('Access token').waitFor();
    await shot(page, 'signin.png');
    await page.check('sign-in');

    // A cold load with a token: count every response body of the load.
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p2 = await fresh.newPage();
    let bytes = 0;
    const sizes = [];
    p2.on('response', async (res) => {
      try {
        const b = await res.body();
        bytes += b.length;
        sizes.push(`${new URL(res.url()).pathname} ${b.length}`);
      } catch { /* redirects have no body */ }
    });
    const errors = [];
    p2.on('pageerror', (e) => errors.push(e.message));
    p2.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) errors.push(m.text()); });
    await p2.goto(`${ADMIN}/console/#token=${OP}`);
    await p2.waitForFunction(() => performance.getEntriesByName('console:endpoints').length > 0, null, { timeout: 10000 });
    await p2.waitForLoadState('networkidle');
    const perf = await p2.evaluate(() => {
      const mark = performance.getEntriesByName('console:endpoints')[0].startTime;
      const fcp = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const encoded = (nav ? nav.encodedBodySize : 0) + res.reduce((s, e) => s + (e.encodedBodySize || 0), 0);
      return { mark, fcp: fcp ? fcp.startTime : null, encoded };
    });
    await sleep(300);
    console.log(`first render: endpoints list rendered at ${perf.mark.toFixed(0)} ms after navigation start; first-contentful-paint ${perf.fcp == null ? 'n/a' : `${perf.fcp.toFixed(0)} ms`}`);
    console.log(`transfer: ${bytes} bytes of response bodies (${(bytes / 1024).toFixed(1)} KiB; resource timing says ${perf.encoded} encoded bytes): ${sizes.join(', ')}`);
    assert.ok(perf.mark < 1000, `first render took ${perf.mark} ms`);
    assert.ok(bytes < 150 * 1024, `the page load transferred ${bytes} bytes`);
    assert.deepEqual(errors, []);
    assert.ok(!p2.url().includes('token'), 'the token left the address bar');
    await fresh.close();
  } finally {
    await context.close();
  }
});

// ---------------------------------------------------------------- 1. the customer's portal

test("a tenant's portal through a token link", { timeout: 120000 }, async () => {
  const recvA = await receiver('biz_a');
  const recvB = await receiver('biz_b');
  await admin('POST', '/v1/tenants', { id: 'biz_a', name: 'Acme Salon' });
  await admin('POST', '/v1/tenants', { id: 'biz_b', name: 'Beta Barbers' });
  const epB = await admin('POST', '/v1/endpoints', { url: `${recvB.url}/hooks`, tenant: 'biz_b', description: 'Beta receiver' });
  const evB1 = await ingest({ event: 'order.created', tenant: 'biz_b', data: { id: 'b1' } });
  const evB2 = await ingest({ event: 'order.paid', tenant: 'biz_b', data: { id: 'b2' } });
  const secrets = ['biz_b', 'Beta Barbers', epB.id, evB1.id, evB2.id];
  const tok = await admin('POST', '/v1/tenants/biz_a/tokens', { description: 'portal', expires_in: '1h' });
  TOKENS.add(tok.token);

  const { context, page } = await openPage();
  const visited = [];
  async function noLeak(where) {
    await loaded(page);
    const html = await page.evaluate(() => document.documentElement.outerHTML);
    for (const s of secrets) assert.ok(!html.includes(s), `${where}: the page shows ${s} of tenant biz_b`);
    visited.push(where);
    await page.check(where);
  }
  try {
    await page.goto(`${ADMIN}/console/#token=${tok.token}`);
    await page.locator('.topbar').waitFor();
    assert.ok(!page.url().includes(tok.token) && !page.url().includes('#'), `the token stays in the address bar: ${page.url()}`);
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    await page.getByRole('link', { name: 'Endpoints' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tenants' }).count(), 0, 'a tenant sees the Tenants nav');
    const header = await page.locator('.topbar').innerText();
    assert.ok(/Acme Salon|biz_a|Tenant/.test(header), `the header does not name the tenant: ${header}`);
    await noLeak('endpoints (empty)');

    // Add an endpoint; its secret is shown once, with Copy.
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByLabel('URL').fill(`${recvA.url}/webhooks`);
    await page.getByLabel('Description').fill('Front desk');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('heading', { name: 'Endpoint created' }).waitFor();
    const secret = (await page.locator('.copy-value').first().innerText()).trim();
    assert.match(secret, /^whsec_/);
    await page.getByRole('button', { name: 'Copy Signing secret' }).click();
    await page.getByText(/Copied|Ctrl\+C/).waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
    if (clip !== null) assert.equal(clip, secret, 'the clipboard holds another value than the secret shown');
    const mine = (await admin('GET', '/v1/endpoints?tenant=biz_a')).data;
    assert.equal(mine.length, 1);
    const epA = mine[0];
    assert.equal(epA.secret, `${secret.slice(0, 10)}...`, 'the secret shown does not match the masked one of the API');
    await noLeak('endpoints (created)');
    await shot(page, 'endpoint-created.png');

    // The endpoint page: send a test event.
    await page.getByRole('link', { name: 'Open endpoint' }).click();
    await page.waitForURL(`**/console/endpoints/${epA.id}`);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.locator('.result').getByText('HTTP 200').waitFor();
    assert.match(await page.locator('.result').innerText(), /success/);
    await noLeak('endpoint detail');

    // The receiver fails: the delivery dies and shows up in Failed deliveries, live.
    await page.getByRole('link', { name: 'Failed deliveries', exact: true }).click();
    await page.waitForURL('**/console/dead-letters');
    await noLeak('failed deliveries (empty)');
    await page.evaluate(() => { window.__sameDocument = true; });
    recvA.status = 500;
    recvA.body = 'down for maintenance';
    const ev = await ingest({ event: 'order.created', tenant: 'biz_a', data: { id: 'a1', total: 12.5 } });
    const dead = await waitFor(async () => (await deadLetters('&tenant=biz_a')).find((d) => d.event_id === ev.id), { timeout: 15000, what: 'the dead letter' });
    const row = page.locator(`tr[data-id="${dead.id}"]`);
    await row.waitFor({ timeout: 15000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    await page.getByText(/1 new failure/).waitFor();
    await noLeak('failed deliveries (live)');
    await shot(page, 'dead-letters.png');

    // Fixed: retry it and watch it get delivered.
    recvA.status = 200;
    recvA.body = 'ok';
    await row.getByRole('button', { name: `Retry ${dead.id}` }).click();
    await row.waitFor({ state: 'detached' });
    await go(page, `/console/deliveries/${dead.id}`);
    await page.locator('.page-head').getByText('delivered', { exact: true }).waitFor({ timeout: 15000 });
    await noLeak('delivery');
    await shot(page, 'delivery.png');

    await page.locator('.details').getByRole('link', { name: ev.id }).click();
    await page.waitForURL(`**/console/events/${ev.id}`);
    await page.locator('pre.code').waitFor();
    assert.match(await page.locator('pre.code').innerText(), /"total": 12\.5/);
    await noLeak('event');
    await shot(page, 'event.png');

    await page.getByRole('link', { name: 'Deliveries', exact: true }).first().click();
    await page.waitForURL('**/console/deliveries');
    await page.locator('table.data').waitFor();
    await noLeak('deliveries');
    await shot(page, 'deliveries.png');

    // Other tenants' things are not found, and there is no tenant list.
    for (const p of [`/console/endpoints/${epB.id}`, `/console/events/${evB1.id}`]) {
      await go(page, p);
      await page.locator('[role="alert"]').waitFor();
      assert.match(await page.locator('[role="alert"]').innerText(), /not_found|does not exist/);
    }
    await go(page, '/console/tenants');
    await loaded(page);
    assert.equal(await page.locator('table').count(), 0, 'a tenant sees a tenant list');
    assert.match(await mainText(page), /not available/);
    await noLeak('tenants');

    await go(page, '/console/endpoints');
    await page.locator('table.data').waitFor();
    await noLeak('endpoints');
    await shot(page, 'endpoints.png');
    await go(page, `/console/endpoints/${epA.id}`);
    await page.locator('table.data').first().waitFor();
    await noLeak('endpoint detail with attempts');
    await shot(page, 'endpoint-detail.png');

    // Phone width.
    await page.setViewportSize({ width: 375, height: 812 });
    await go(page, '/console/endpoints');
    await page.locator('table.data').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the endpoints page is ${overflow}px wider than a 375px screen`);
    await shot(page, 'phone-endpoints.png');
    await go(page, `/console/deliveries/${dead.id}`);
    await page.locator('.details').waitFor();
    const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow2 <= 1, `the delivery page is ${overflow2}px wider than a 375px screen`);
    await shot(page, 'phone-delivery.png');
    await noLeak('phone delivery');
    console.log(`tenant portal: visited ${visited.length} views, none shows biz_b`);

    // A revoked token sends the page back to sign in.
    await admin('DELETE', `/v1/tenants/biz_a/tokens/${tok.id}`);
    await go(page, '/console/deliveries');
    await page.getByText(/session has expired or the token was revoked/).waitFor();
    await page.getByLabel('Access token').waitFor();
    await page.check('after revocation');
  } finally {
    await context.close();
  }
});

// ---------------------------------------------------------------- 2. the operator

test("the operator's tenants, tokens and bulk retry", { timeout: 120000 }, async () => {
  const { context, page } = await openPage();
  try {
    // Sign in with the form.
    await page.goto(`${ADMIN}/console/tenants`);
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText(/not accepted/).waitFor();
    await page.getByLabel('Access token').fill(OP);
    await page.getByLabel('Access token').press('Enter');
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    await page.getByText('Operator', { exact: true }).waitFor();

    // Create a tenant, open it, mint a token, see the portal link, revoke it.
    await page.getByLabel('Tenant ID').fill('biz_ops');
    await page.getByLabel('Name').fill('Ops Test Co');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByText('Tenant biz_ops created.').waitFor();
    await page.getByRole('link', { name: 'biz_ops' }).click();
    await page.waitForURL('**/console/tenants/biz_ops');
    await page.getByLabel('Description').fill('support portal');
    await page.getByLabel('Expires in').fill('2h');
    await page.getByRole('button', { name: 'Mint token' }).click();
    await page.getByRole('heading', { name: 'Token minted' }).waitFor();
    const values = await page.locator('.copy-value').allInnerTexts();
    const [minted, portal] = values.map((v) => v.trim());
    assert.match(minted, /^wht_[0-9a-f]{64}$/);
    TOKENS.add(minted);
    assert.equal(portal, `${ADMIN}/console/#token=${minted}`);
    await page.getByRole('button', { name: 'Copy Portal link' }).click();
    assert.equal((await call(ADMIN, 'GET', '/v1/endpoints', undefined, minted)).status, 200);
    await page.check('tenant page');
    await shot(page, 'tenant.png');
    const revoke = page.getByRole('button', { name: /^Revoke token tok_/ });
    await revoke.waitFor();
    await revoke.click();
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Revoke token' }).click();
    await page.getByText('No tokens.', { exact: false }).waitFor();
    assert.equal((await call(ADMIN, 'GET', '/v1/endpoints', undefined, minted)).status, 401, 'the revoked token still works');
    await go(page, '/console/tenants');
    await page.locator('table.data').waitFor();
    await page.check('tenants');
    await shot(page, 'tenants.png');

    // Several dead letters, then "Retry all since".
    const recv = await receiver('bulk', { status: 503, body: 'busy' });
    const ep = await admin('POST', '/v1/endpoints', { url: `${recv.url}/bulk`, description: 'Bulk receiver', events: ['invoice.*'] });
    const since = new Date(Math.floor((Date.now() - 60000) / 60000) * 60000);
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await ingest({ event: 'invoice.created', data: { n: i } })).id);
    await waitFor(async () => (await deadLetters(`&endpoint_id=${ep.id}`)).length === 4, { timeout: 20000, what: '4 dead letters' });
    recv.status = 200;
    await go(page, '/console/dead-letters');
    await page.locator('table.data').waitFor();
    for (const id of ids) {
      const d = (await deadLetters(`&endpoint_id=${ep.id}`)).find((x) => x.event_id === id);
      await page.locator(`tr[data-id="${d.id}"]`).waitFor();
    }
    const local = await page.evaluate((ms) => {
      const d = new Date(ms);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    }, since.getTime());
    await page.getByLabel('Failed since').fill(local);
    const dry = await admin('POST', '/v1/dead-letters/retry', { since: since.toISOString(), dry_run: true });
    assert.ok(dry.matched >= 4, `dry run matched ${dry.matched}`);
    await page.getByRole('button', { name: /Retry all since/ }).click();
    const confirm = page.getByRole('dialog');
    await confirm.waitFor();
    const text = await confirm.innerText();
    const n = Number((text.match(/This will retry (\d+) failed deliver/) || [])[1]);
    assert.equal(n, dry.matched, `the dialog says ${n}, the API's dry run ${dry.matched}: ${text}`);
    await shot(page, 'dead-letters-bulk-dialog.png');
    await confirm.getByRole('button', { name: `Retry ${n}` }).click();
    await page.getByText(/requeued/).first().waitFor();
    await waitFor(async () => (await page.locator('tbody tr').count()) === 0
      || (await page.getByText('No failed deliveries').count()) > 0, { timeout: 10000, what: 'the list to empty' });
    await waitFor(async () => (await deadLetters(`&endpoint_id=${ep.id}`)).length === 0, { timeout: 10000, what: 'the API to have no dead letters' });
    await page.check('bulk retry');
  } finally {
    await context.close();
  }
});

// ---------------------------------------------------------------- 2b. managing an endpoint

test('edit, pause, rotate, filter and delete an endpoint', { timeout: 120000 }, async () => {
  const recv = await receiver('manage');
  const ep = await admin('POST', '/v1/endpoints', { url: `${recv.url}/manage`, description: 'Manage me', events: ['shipment.*'] });
  await ingest({ event: 'shipment.sent', data: { n: 1 } });
  const { context, page } = await openPage();
  try {
    await page.goto(`${ADMIN}/console/endpoints/${ep.id}#token=${OP}`);
    await page.locator('.details').first().waitFor();
    assert.ok(!page.url().includes('#'), 'the token stays in the address bar');

    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.page-head').getByRole('button', { name: 'Resume' }).waitFor();
    assert.match(await page.locator('.details').first().innerText(), /paused/);
    assert.equal((await admin('GET', `/v1/endpoints/${ep.id}`)).status, 'paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    assert.equal((await admin('GET', `/v1/endpoints/${ep.id}`)).disabled_reason, 'manual');
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('button', { name: 'Disable' }).waitFor();

    // Edit settings (PATCH).
    await page.locator('summary').click();
    await page.getByLabel('Description').fill('Managed receiver');
    await page.getByLabel('Event types').fill('shipment.*, order.created');
    await page.getByLabel('Custom headers').fill('X-Tenant: acme\nX-Env: test');
    await page.getByLabel('Signature format').selectOption('stripe');
    await page.getByLabel('Rate limit (attempts per second)').fill('25');
    await page.getByLabel('Ordering').selectOption('fifo');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Endpoint saved').waitFor();
    const after = await admin('GET', `/v1/endpoints/${ep.id}`);
    assert.equal(after.description, 'Managed receiver');
    assert.deepEqual(after.events, ['shipment.*', 'order.created']);
    assert.deepEqual(after.headers, { 'X-Env': 'test', 'X-Tenant': 'acme' });
    assert.equal(after.signature.format, 'stripe');
    assert.equal(after.rate_limit, 25);
    assert.equal(after.ordering, 'fifo');
    assert.match(await page.locator('.details').first().innerText(), /X-Env/);

    // An API error is shown with its message.
    await page.getByLabel('Custom headers').fill('Content-Length: 5');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const err = page.locator('form [role="alert"]');
    await err.waitFor();
    assert.match(await err.innerText(), /invalid_field/);

    // Rotate the secret: shown once, its prefix is the API's masked secret.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByLabel('Previous secrets stay valid for').selectOption('1h');
    await dlg.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('heading', { name: 'New signing secret' }).waitFor();
    const secret = (await page.locator('.copy-value').innerText()).trim();
    await page.locator('.details').first().getByText(`${secret.slice(0, 10)}...`).waitFor();
    const rotated = await admin('GET', `/v1/endpoints/${ep.id}`);
    assert.equal(rotated.secret, `${secret.slice(0, 10)}...`);
    assert.equal(rotated.previous_secrets.length, 1);

    // Deliveries filtered by status and event type, from the form.
    await go(page, '/console/deliveries');
    await page.getByLabel('Status').selectOption('delivered');
    await page.getByLabel('Event type').fill('shipment.*');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/status=delivered/);
    await page.locator('table.data').waitFor();
    const statuses = await page.locator('tbody .badge').allInnerTexts();
    assert.ok(statuses.length >= 1 && statuses.every((t) => t === 'delivered'), `statuses: ${statuses}`);
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No delivery matches these filters.').waitFor();

    // Delete, confirmed in a <dialog>.
    await go(page, `/console/endpoints/${ep.id}`);
    await page.locator('.details').first().waitFor();
    // Keyboard alone: the dialog takes the focus (on Cancel), Escape closes it and gives it back.
    await page.getByRole('button', { name: 'Delete' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Delete');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await call(ADMIN, 'GET', `/v1/endpoints/${ep.id}`)).status, 200, 'Cancel deleted the endpoint');
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete endpoint' }).click();
    await page.waitForURL('**/console/endpoints');
    assert.equal((await call(ADMIN, 'GET', `/v1/endpoints/${ep.id}`)).status, 404);
    await page.check('endpoint management');
  } finally {
    await context.close();
  }
});

// ---------------------------------------------------------------- 3. XSS

test('hostile data is shown as text everywhere', { timeout: 120000 }, async () => {
  const recv = await receiver('hostile', { status: 500, body: `${HOSTILE_TEXT} <b>bold</b>` });
  await admin('POST', '/v1/tenants', { id: 'biz_x', name: `Evil ${HOSTILE[0]} ${HOSTILE[1]}`, metadata: { note: HOSTILE[2] } });
  const ep = await admin('POST', '/v1/endpoints', {
    url: `${recv.url}/%3Cimg%20src=x%20onerror=window.__xss=1%3E?q=%3C/script%3E%3Cscript%3Ewindow.__xss=1%3C/script%3E`,
    tenant: 'biz_x',
    description: HOSTILE_TEXT,
    headers: { 'X-Evil': HOSTILE[0], 'X-Evil-2': HOSTILE[1] },
    events: ['hostile.*'],
  });
  const ev = await ingest({ event: 'hostile.created', tenant: 'biz_x', data: { html: HOSTILE[0], script: HOSTILE[1], [HOSTILE[2]]: { nested: HOSTILE_TEXT } } });
  const dead = await waitFor(async () => (await deadLetters('&tenant=biz_x')).find((d) => d.event_id === ev.id), { timeout: 15000, what: 'the hostile dead letter' });

  const { context, page } = await openPage();
  try {
    await page.goto(`${ADMIN}/console/#token=${OP}`);
    await page.locator('table.data').waitFor();
    const onlySafeMarkup = async (where) => {
      await loaded(page);
      const extra = await page.evaluate(() => ({
        img: document.querySelectorAll('img:not(.logo)').length,
        svg: document.querySelectorAll('svg').length,
        script: document.querySelectorAll('script').length,
        b: document.querySelectorAll('#main b').length,
      }));
      assert.deepEqual(extra, { img: 0, svg: 0, script: 1, b: 0 }, `${where}: markup from data was parsed`);
      await page.check(where);
    };
    const shows = async (where, ...needles) => {
      const text = await mainText(page);
      for (const n of needles) assert.ok(text.includes(n), `${where}: "${n}" is not shown as text`);
    };

    await onlySafeMarkup('endpoints list');
    await shows('endpoints list', HOSTILE[0], HOSTILE[1]);

    await go(page, `/console/endpoints/${ep.id}`);
    await page.locator('.details').first().waitFor();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.locator('.result').waitFor();
    await page.locator('table.data').first().waitFor();
    await onlySafeMarkup('endpoint detail');
    await shows('endpoint detail', HOSTILE[0], HOSTILE[1], 'X-Evil', '<b>bold</b>');
    await shot(page, 'xss-endpoint-detail.png');

    await go(page, '/console/deliveries');
    await page.locator('table.data').waitFor();
    await onlySafeMarkup('deliveries');

    await go(page, `/console/deliveries/${dead.id}`);
    await page.locator('.details').first().waitFor();
    await onlySafeMarkup('delivery detail');
    await shows('delivery detail', HOSTILE[1], '<b>bold</b>');

    await go(page, '/console/dead-letters');
    await page.locator('table.data').waitFor();
    await onlySafeMarkup('failed deliveries');

    await go(page, `/console/events/${ev.id}`);
    await page.locator('pre.code').waitFor();
    await onlySafeMarkup('event');
    const payload = await page.locator('pre.code').innerText();
    assert.equal(payload, JSON.stringify({ html: HOSTILE[0], script: HOSTILE[1], [HOSTILE[2]]: { nested: HOSTILE_TEXT } }, null, 2));
    await shot(page, 'xss-event.png');

    await go(page, '/console/tenants');
    await page.locator('table.data').waitFor();
    await onlySafeMarkup('tenants');
    await shows('tenants', `Evil ${HOSTILE[0]} ${HOSTILE[1]}`);
    await go(page, '/console/tenants/biz_x');
    await page.locator('.details').first().waitFor();
    await onlySafeMarkup('tenant');
    await shows('tenant', HOSTILE[2]);

    // Hostile data in dialogs: delete asks with the URL in the text.
    await go(page, `/console/endpoints/${ep.id}`);
    await page.locator('.details').first().waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').waitFor();
    await onlySafeMarkup('delete dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  } finally {
    await context.close();
  }
});

// ---------------------------------------------------------------- 4. accessibility

test('axe-core finds no serious or critical violation', { timeout: 180000 }, async () => {
  // axe is injected with a script tag, which the page's CSP refuses: this context alone bypasses CSP.
  const { context, page } = await openPage({ bypassCSP: true });
  const minor = [];
  const serious = [];
  async function audit(where) {
    await loaded(page);
    await page.addScriptTag({ content: AXE_SOURCE });
    const violations = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ['violations'] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    });
    for (const v of violations) {
      const line = `${where}: [${v.impact}] ${v.id}: ${v.help} (${v.nodes.join(', ')})`;
      if (v.impact === 'serious' || v.impact === 'critical') serious.push(line); else minor.push(line);
    }
  }
  try {
    await page.goto(`${ADMIN}/console/`);
    await page.getByLabel('Access token').waitFor();
    await audit('sign-in');
    await page.getByLabel('Access token').fill(OP);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('table.data').waitFor();
    await audit('endpoints');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await audit('endpoints with the create form');

    const eps = (await admin('GET', '/v1/endpoints?limit=1000')).data;
    const dl = (await admin('GET', '/v1/deliveries?limit=1')).data[0];
    const tenantEp = eps.find((e) => e.tenant === 'biz_a');
    await go(page, `/console/endpoints/${tenantEp.id}`);
    await page.locator('table.data').first().waitFor();
    await page.locator('summary').click();
    await audit('endpoint detail');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').waitFor();
    await audit('rotate dialog');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });

    for (const [p, what] of [
      ['/console/deliveries', 'deliveries'],
      [`/console/deliveries/${dl.id}`, 'delivery'],
      ['/console/dead-letters', 'failed deliveries'],
      [`/console/events/${dl.event_id}`, 'event'],
      ['/console/tenants', 'tenants'],
      ['/console/tenants/biz_a', 'tenant'],
      ['/console/nowhere', 'not found'],
    ]) {
      await go(page, p);
      await audit(what);
    }
    await page.setViewportSize({ width: 375, height: 812 });
    await go(page, '/console/endpoints');
    await audit('endpoints at 375px');
  } finally {
    await context.close();
  }
  console.log(`axe: ${serious.length} serious/critical, ${minor.length} minor/moderate violations`);
  for (const m of minor) console.log(`  ${m}`);
  assert.deepEqual(serious, []);
});
