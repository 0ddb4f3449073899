// webhookd console: a single-page app over the public admin API (/v1).
// One module, no dependencies, no build step. Everything that came from producers,
// receivers or tenants is rendered as text (createElement + textContent, never HTML).

const BASE = '/console';
const TOKEN_KEY = 'webhookd.console.token';
const EXPIRED = 'Your session has expired or the token was revoked. Sign in again.';
const root = document.getElementById('app');

let token = null;
let me = null;        // the answer of GET /v1/me
let shell = null;     // {main, links, live}
let current = null;   // the page context
let uid = 0;
let focusOnRoute = false;
let localAccess = false; // the admin listener lets a request without a token act as operator

try { token = sessionStorage.getItem(TOKEN_KEY); } catch { token = null; }

// ---------------------------------------------------------------- DOM helpers

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  add(el, kids);
  if (props) {
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = true;
      else if (typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  return el;
}

function add(el, kids) {
  for (const k of [kids].flat(Infinity)) {
    if (k == null || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

const newId = (p) => `${p}-${++uid}`;
const enc = encodeURIComponent;
const mono = (text, cls = '') => h('span', { class: `mono ${cls}`.trim() }, text);
const muted = (text) => h('span', { class: 'muted' }, text);
const dash = () => muted('—');

function link(href, text, cls) {
  return h('a', { href, class: cls }, text);
}

// Long ids shortened for tables (the full id is in the title and on the detail page).
function shortId(id) {
  return id.length > 18 ? `${id.slice(0, 9)}…${id.slice(-6)}` : id;
}

function idLink(href, id, cls = '') {
  return h('a', { href, class: `mono nowrap ${cls}`.trim(), title: id }, shortId(id));
}

const paths = {
  endpoint: (id) => `${BASE}/endpoints/${enc(id)}`,
  delivery: (id) => `${BASE}/deliveries/${enc(id)}`,
  event: (id) => `${BASE}/events/${enc(id)}`,
  tenant: (id) => `${BASE}/tenants/${enc(id)}`,
};

const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const shortFmt = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const thisYear = new Date().getFullYear();

function time(iso) {
  if (!iso) return dash();
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, iso);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, (d.getFullYear() === thisYear ? shortFmt : dateFmt).format(d));
}

function toLocalInput(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}`;
}

function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function latency(ms) {
  if (ms == null) return dash();
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

function pretty(value) {
  try { return JSON.stringify(value, null, 2); } catch { return String(value); }
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body, bearer) {
  const headers = { Accept: 'application/json' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network_error', `Could not reach webhookd (${e.message}).`);
  }
  const text = await res.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  return { status: res.status, ok: res.ok, data };
}

function toError(r) {
  const e = r.data && r.data.error;
  return new ApiError(r.status, (e && e.code) || `http_${r.status}`, (e && e.message) || `The server answered HTTP ${r.status}.`);
}

async function api(method, path, body) {
  const r = await request(method, path, body, token);
  if (r.status === 401) {
    sessionExpired();
    throw new ApiError(401, 'unauthorized', EXPIRED);
  }
  if (!r.ok) throw toError(r);
  return r.data;
}

async function whoAmI(bearer) {
  const r = await request('GET', '/v1/me', undefined, bearer);
  if (r.status === 200 && r.data && r.data.access) return { ok: true, me: r.data };
  if (r.status === 401) return { ok: false, status: 401 };
  if (r.status === 404) {
    // A daemon that predates GET /v1/me: tell operator and tenant tokens apart by what they may read.
    const p = await request('GET', '/v1/tenants?limit=1', undefined, bearer);
    if (p.status === 200) return { ok: true, me: { access: 'operator' } };
    if (p.status === 403) return { ok: true, me: { access: 'tenant', tenant: null } };
    if (p.status === 401) return { ok: false, status: 401 };
    return { ok: false, status: p.status, error: toError(p) };
  }
  return { ok: false, status: r.status, error: toError(r) };
}

const isOperator = () => me && me.access === 'operator';

function setToken(t) {
  token = t || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: keep it in memory */ }
}

// ---------------------------------------------------------------- feedback

function errorText(e) {
  if (e instanceof ApiError) return e.status ? `${e.message} (${e.code}, HTTP ${e.status})` : e.message;
  return (e && e.message) || String(e);
}

function alertBox(e, kind = 'error') {
  const text = typeof e === 'string' ? e : errorText(e);
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'alert-icon', 'aria-hidden': 'true' }, kind === 'error' ? '!' : 'i'),
    h('span', null, text));
}

function showError(slot, e) {
  if (e instanceof ApiError && e.status === 401) return;
  slot.replaceChildren(alertBox(e));
}

function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

function toast(text) {
  if (!shell) return;
  const t = h('div', { class: 'toast' }, text);
  shell.live.append(t);
  setTimeout(() => t.remove(), 5000);
}

async function busy(btn, fn) {
  if (btn.getAttribute('aria-busy') === 'true') return undefined;
  btn.setAttribute('aria-busy', 'true');
  btn.classList.add('is-busy');
  btn.disabled = true;
  try {
    return await fn();
  } finally {
    btn.removeAttribute('aria-busy');
    btn.classList.remove('is-busy');
    btn.disabled = false;
  }
}

function button(text, onclick, cls = 'btn-secondary', extra = {}) {
  return h('button', { type: 'button', class: `btn ${cls}`, onclick, ...extra }, text);
}

const TONES = {
  active: 'green', delivered: 'green', success: 'green', healthy: 'green',
  paused: 'amber', pending: 'blue', failing: 'amber', test: 'gray',
  disabled: 'red', dead: 'red', http_error: 'red', timeout: 'red',
  connect_error: 'red', tls_error: 'red', dns_error: 'red', revoked: 'red',
};

function badge(text, tone) {
  return h('span', { class: `badge badge-${tone || TONES[text] || 'gray'}` }, text);
}

function chips(list, empty = 'all events') {
  if (!list || list.length === 0) return muted(empty);
  return h('span', { class: 'chips' }, list.map((t) => h('span', { class: 'chip mono' }, t)));
}

// A value with a Copy button. The text stays selectable; without the clipboard API
// (or without permission) the text is selected so Ctrl+C copies it.
function copyBox(label, value, { wrap = false } = {}) {
  const code = h('code', { class: `copy-value mono${wrap ? ' wrap' : ''}` }, value);
  const status = h('span', { class: 'copy-status', role: 'status' });
  const btn = button('Copy', async () => {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(value);
        ok = true;
      }
    } catch { ok = false; }
    if (!ok) {
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    status.textContent = ok ? 'Copied' : 'Selected: press Ctrl+C (⌘C) to copy';
    setTimeout(() => { status.textContent = ''; }, 4000);
  }, 'btn-secondary btn-sm', { 'aria-label': `Copy ${label}` });
  return h('div', { class: 'copy' }, h('div', { class: 'copy-label' }, label), h('div', { class: 'copy-row' }, code, btn), status);
}

// Confirmation in an in-page <dialog>; resolves true on confirm.
function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false, body = null }) {
  return new Promise((resolve) => {
    const prev = document.activeElement;
    const titleId = newId('dlg-title');
    const descId = newId('dlg-desc');
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
    const ok = h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}` }, confirmLabel);
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': descId },
      h('h2', { id: titleId, class: 'dialog-title' }, title),
      h('div', { id: descId, class: 'dialog-body' }, message ? h('p', null, message) : null, body),
      h('div', { class: 'dialog-actions' }, cancel, ok));
    cancel.addEventListener('click', () => dlg.close('cancel'));
    ok.addEventListener('click', () => dlg.close('ok'));
    dlg.addEventListener('close', () => {
      const confirmed = dlg.returnValue === 'ok';
      dlg.remove();
      if (prev && prev.isConnected && typeof prev.focus === 'function') prev.focus();
      resolve(confirmed);
    });
    document.body.append(dlg);
    dlg.showModal();
    (danger ? cancel : ok).focus();
  });
}

// ---------------------------------------------------------------- forms

function field(label, control, hint) {
  const id = control.id || newId('f');
  control.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

function input(props) {
  return h('input', { class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false', ...props });
}

function select(options, value, props = {}) {
  return h('select', { class: 'input', value, ...props },
    options.map(([v, t]) => h('option', { value: v }, t)));
}

function parseList(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

function parseHeaders(text) {
  const out = {};
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const at = line.indexOf(':');
    if (at <= 0) throw new Error(`Headers, line ${i + 1}: write it as "Name: value".`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  });
  return out;
}

// ---------------------------------------------------------------- tables and lists

// columns: [{label, cell(row) -> node|string, cls}]
function table(caption, columns, rows) {
  const tbody = h('tbody');
  const mk = (row, isNew) => h('tr', { class: isNew ? 'is-new' : null, 'data-id': row.id },
    columns.map((c) => h('td', { 'data-label': c.label, class: c.cls }, h('div', { class: 'cell' }, c.cell(row)))));
  add(tbody, rows.map((r) => mk(r, false)));
  const el = h('div', { class: 'table-wrap', role: 'region', 'aria-label': `${caption} (table)`, tabindex: '0' },
    h('table', { class: 'data' },
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
      tbody));
  return {
    el,
    prepend(newRows) { tbody.prepend(...newRows.map((r) => mk(r, true))); },
    remove(id) { for (const tr of tbody.rows) if (tr.dataset.id === id) tr.remove(); return tbody.rows.length; },
  };
}

function emptyState(text) {
  return h('div', { class: 'empty' }, h('p', null, text));
}

// Keyset pagination over a list route: a stack of cursors for Back.
function pager(ctx, { label, load, columns, empty, onRendered }) {
  const stack = [];
  let cursor = '';
  let next = null;
  let tbl = null;
  const body = h('div', { class: 'list-body' });
  const info = h('span', { class: 'pager-info' });
  const back = button('← Back', () => go(stack.pop(), true), 'btn-secondary btn-sm', { title: 'Newer rows' });
  const fwd = button('Next →', () => { stack.push(cursor); go(next, true); }, 'btn-secondary btn-sm', { title: 'Older rows' });
  const nav = h('nav', { class: 'pager', 'aria-label': `${label} pages` }, info, h('span', { class: 'pager-buttons' }, back, fwd));
  const el = h('div', { class: 'list' }, body, nav);
  back.disabled = true;
  fwd.disabled = true;

  async function go(c, moved) {
    body.setAttribute('aria-busy', 'true');
    if (!tbl || moved) body.replaceChildren(loading());
    try {
      const page = await load(c || '');
      if (!ctx.alive) return;
      cursor = c || '';
      next = page.next_cursor || null;
      const rows = page.data || [];
      if (rows.length) {
        tbl = table(label, columns, rows);
        body.replaceChildren(tbl.el);
      } else {
        tbl = null;
        body.replaceChildren(emptyState(stack.length ? 'No more rows.' : empty));
      }
      info.textContent = stack.length ? `Page ${stack.length + 1}` : '';
      if (onRendered) onRendered(rows);
    } catch (e) {
      if (!ctx.alive) return;
      showError(body, e);
    } finally {
      body.removeAttribute('aria-busy');
      back.disabled = stack.length === 0;
      fwd.disabled = !next;
      nav.hidden = stack.length === 0 && !next;
    }
  }
  go('');
  return {
    el,
    reload: () => go(cursor),
    first: () => { stack.length = 0; return go(''); },
    get atFirst() { return stack.length === 0 && cursor === ''; },
    get table() { return tbl; },
    showRows(rows) { tbl = table(label, columns, []); tbl.prepend(rows); body.replaceChildren(tbl.el); },
  };
}

function card(title, ...kids) {
  const hid = newId('card');
  return h('section', { class: 'card', 'aria-labelledby': hid },
    h('div', { class: 'card-head' }, h('h2', { id: hid }, title)), ...kids);
}

function details(pairs) {
  return h('dl', { class: 'details' }, pairs.filter(Boolean).map(([k, v]) =>
    h('div', { class: 'details-row' }, h('dt', null, k), h('dd', null, v == null ? dash() : v))));
}

function pageHeader({ title, eyebrow, crumbs, actions, sub }) {
  document.title = `${title} · webhookd`;
  const h1 = h('h1', { tabindex: '-1', class: sub ? 'title-mono' : null }, title);
  const head = h('header', { class: 'page-head' },
    crumbs ? h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('ol', null, crumbs.map(([href, text]) => h('li', null, link(href, text))))) : null,
    h('div', { class: 'page-head-row' },
      h('div', { class: 'page-title' }, eyebrow ? h('p', { class: 'eyebrow' }, eyebrow) : null, h1, sub ? h('p', { class: 'page-sub' }, sub) : null),
      actions ? h('div', { class: 'page-actions' }, actions) : null));
  return head;
}

// ---------------------------------------------------------------- shared cells

function endpointStatus(ep) {
  const wrap = h('span', { class: 'status-cell' }, badge(ep.status));
  if (ep.status === 'disabled' && ep.disabled_reason) wrap.append(h('span', { class: 'sub' }, `reason: ${ep.disabled_reason}`));
  return wrap;
}

// Its deliveries not yet delivered nor dead, linked to the list of them.
function pendingCell(ep) {
  const n = ep.deliveries_pending;
  if (n == null) return dash();
  if (!n) return muted('0');
  return link(`${BASE}/deliveries${qs({ endpoint_id: ep.id, status: 'pending' })}`, n.toLocaleString(), 'strong');
}

function endpointHealth(ep) {
  if (ep.consecutive_failures > 0 || ep.failing_since) {
    const n = ep.consecutive_failures;
    return h('span', { class: 'status-cell' }, badge('failing', 'amber'),
      h('span', { class: 'sub' }, `${n} consecutive failure${n === 1 ? '' : 's'}`),
      ep.failing_since ? h('span', { class: 'sub' }, 'failing since ', time(ep.failing_since)) : null);
  }
  return h('span', { class: 'health health-ok' }, 'Healthy');
}

function outcomeBadge(a) {
  return badge(a.outcome, a.outcome === 'success' ? 'green' : 'red');
}

function snippet(text, label) {
  if (text == null || text === '') return dash();
  return h('pre', { class: 'snippet', tabindex: '0', 'aria-label': label }, text);
}

function attemptColumns(withDelivery) {
  const cols = [
    { label: 'Attempt', cell: (a) => h('span', null, `#${a.attempt}`, a.test ? h('span', null, ' ', badge('test', 'gray')) : null) },
    { label: 'Started', cell: (a) => time(a.started_at) },
    { label: 'Outcome', cell: outcomeBadge },
    { label: 'Status', cell: (a) => (a.status_code == null ? dash() : mono(String(a.status_code))) },
    { label: 'Latency', cell: (a) => latency(a.latency_ms), cls: 'num' },
    { label: 'Error', cell: (a) => (a.error ? h('span', { class: 'error-text' }, a.error) : dash()), cls: 'err' },
    { label: 'Response', cell: (a) => snippet(a.response, `Response to attempt ${a.attempt}`), cls: 'resp' },
  ];
  if (withDelivery) {
    cols.splice(2, 0, { label: 'Delivery', cell: (a) => (a.delivery_id ? idLink(paths.delivery(a.delivery_id), a.delivery_id) : muted('test event')) });
  }
  return cols;
}

function deliveryColumns({ retry } = {}) {
  const cols = [
    { label: 'Delivery', cell: (d) => idLink(paths.delivery(d.id), d.id, 'strong') },
    { label: 'Status', cell: (d) => badge(d.status) },
    { label: 'Event', cell: (d) => h('span', { class: 'status-cell' }, mono(d.event, 'nowrap'), idLink(paths.event(d.event_id), d.event_id, 'sub')) },
    { label: 'Endpoint', cell: (d) => idLink(paths.endpoint(d.endpoint_id), d.endpoint_id) },
    { label: 'Attempts', cell: (d) => String(d.attempt_count), cls: 'num' },
    { label: 'Last result', cell: (d) => lastResult(d), cls: 'err' },
    { label: retry ? 'Failed' : 'Created', cell: (d) => time(retry ? d.died_at : d.created_at) },
  ];
  if (isOperator()) cols.splice(4, 0, { label: 'Tenant', cell: (d) => (d.tenant ? mono(d.tenant, 'nowrap') : muted('platform')) });
  if (retry) cols.push({ label: 'Actions', cell: retry });
  return cols;
}

function lastResult(d) {
  if (d.last_status == null && !d.last_error) return dash();
  const status = d.last_status != null ? `HTTP ${d.last_status}` : null;
  return h('span', { class: 'status-cell' },
    status ? mono(status, d.last_status >= 200 && d.last_status < 300 ? 'nowrap' : 'nowrap error-text') : null,
    d.last_error && d.last_error !== status ? h('span', { class: 'sub error-text' }, d.last_error) : null);
}

// ---------------------------------------------------------------- sign in

function showSignIn(message, kind = 'error') {
  leavePage();
  shell = null;
  document.title = 'Sign in · webhookd';
  const tokenInput = input({ id: 'signin-token', type: 'password', name: 'token', required: true, class: 'input mono' });
  const slot = h('div', { class: 'signin-alert' });
  if (message) slot.append(alertBox(message, kind));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { class: 'signin-form', 'aria-labelledby': 'signin-title' },
    field('Access token', tokenInput, 'An operator token, or the token of your account (wht_…). It is kept in this browser tab only.'),
    submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = tokenInput.value.trim();
    if (!t) { slot.replaceChildren(alertBox('Enter a token.')); tokenInput.focus(); return; }
    busy(submit, async () => {
      try {
        const r = await whoAmI(t);
        if (r.ok) { setToken(t); me = r.me; startApp(); return; }
        slot.replaceChildren(alertBox(r.status === 401 ? 'This token was not accepted: it is wrong, expired or revoked.' : r.error));
      } catch (e) {
        slot.replaceChildren(alertBox(e));
      }
    });
  });
  const local = localAccess ? h('p', { class: 'signin-local' }, button('Continue with local access', () => {
    busy(local.firstChild, async () => {
      try {
        const r = await whoAmI(null);
        if (r.ok) { me = r.me; startApp(); return; }
        localAccess = false;
        local.replaceWith(alertBox('This listener now needs a token.'));
      } catch (e) { slot.replaceChildren(alertBox(e)); }
    });
  }, 'btn-ghost btn-block')) : null;
  root.replaceChildren(h('main', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand brand-lg' }, logo(), h('span', null, 'webhookd')),
      h('h1', { id: 'signin-title' }, 'Sign in to the console'),
      h('p', { class: 'muted' }, 'Manage endpoints, follow deliveries and replay failures.'),
      slot, form, local)));
  tokenInput.focus();
}

function sessionExpired() {
  if (!shell && !me) return;
  setToken(null);
  me = null;
  showSignIn(EXPIRED);
}

function logo() {
  const icon = document.querySelector('link[rel="icon"]');
  return h('img', { class: 'logo', src: icon ? icon.href : `${BASE}/assets/favicon.svg`, alt: '', width: '28', height: '28' });
}

// ---------------------------------------------------------------- shell and routing

function startApp() {
  const items = [['endpoints', 'Endpoints'], ['deliveries', 'Deliveries'], ['dead-letters', 'Failed deliveries']];
  if (isOperator()) items.push(['tenants', 'Tenants']);
  const links = {};
  const navList = h('ul', null, items.map(([key, text]) => {
    links[key] = h('a', { href: `${BASE}/${key}`, class: 'nav-link' }, text);
    return h('li', null, links[key]);
  }));
  let identity;
  if (isOperator()) {
    identity = h('span', { class: 'identity' }, badge('Operator', 'accent'), token ? null : muted('local access'));
  } else {
    const t = me.tenant;
    identity = h('span', { class: 'identity' }, badge('Tenant', me.tenant ? 'accent identity-kind' : 'accent'),
      t ? h('span', { class: 'identity-name' }, t.name || t.id) : muted('tenant token'),
      t && t.name ? mono(t.id, 'identity-id') : null);
  }
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const live = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
  const skip = h('a', { href: '#main', class: 'skip-link' }, 'Skip to content');
  skip.addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
  root.replaceChildren(skip,
    h('header', { class: 'topbar' },
      h('a', { href: `${BASE}/endpoints`, class: 'brand', 'aria-label': 'webhookd console home' }, logo(), h('span', null, 'webhookd')),
      h('div', { class: 'topbar-right' }, h('span', { class: 'sr-only' }, 'Signed in as'), identity,
        button('Sign out', signOut, 'btn-ghost btn-sm'))),
    h('div', { class: 'layout' }, h('nav', { class: 'sidenav', 'aria-label': 'Main' }, navList), main),
    live);
  shell = { main, links, live };
  route();
}

function signOut() {
  setToken(null);
  me = null;
  showSignIn('You have signed out.', 'info');
}

function leavePage() {
  if (current) {
    current.alive = false;
    for (const f of current.cleanups) { try { f(); } catch { /* ignore */ } }
    current = null;
  }
}

function navigate(href, replace = false) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  focusOnRoute = !replace;
  route();
  if (!replace) window.scrollTo(0, 0);
}

function route() {
  if (!shell) return;
  leavePage();
  const ctx = { alive: true, cleanups: [], onLeave(f) { this.cleanups.push(f); } };
  current = ctx;
  let parts;
  try {
    const p = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
    parts = p.split('/').filter(Boolean).map(decodeURIComponent);
  } catch { parts = ['?']; }
  const [section, id, extra] = parts;
  let page = null;
  if (!section) { navigate(`${BASE}/endpoints${location.search}`, true); return; }
  if (extra === undefined) {
    if (section === 'endpoints') page = id ? () => pageEndpoint(ctx, id) : () => pageEndpoints(ctx);
    else if (section === 'deliveries') page = id ? () => pageDelivery(ctx, id) : () => pageDeliveries(ctx);
    else if (section === 'dead-letters') page = id ? () => pageDelivery(ctx, id) : () => pageDeadLetters(ctx);
    else if (section === 'events' && id) page = () => pageEvent(ctx, id);
    else if (section === 'tenants') page = id ? () => pageTenant(ctx, id) : () => pageTenants(ctx);
  }
  const navKey = section === 'events' ? 'deliveries' : section;
  for (const [key, a] of Object.entries(shell.links)) {
    if (key === navKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  shell.main.replaceChildren();
  if (!page) page = () => pageNotFound(ctx);
  page();
  if (focusOnRoute) {
    focusOnRoute = false;
    const h1 = shell.main.querySelector('h1');
    if (h1) h1.focus({ preventScroll: true });
  }
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`) || url.hash) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => route());

// ---------------------------------------------------------------- pages

function pageNotFound(ctx) {
  const m = shell.main;
  m.append(pageHeader({ title: 'Page not found' }),
    emptyState('There is no console page at this address.'),
    h('p', null, link(`${BASE}/endpoints`, 'Go to endpoints')));
  return ctx;
}

// ----- Endpoints list

function pageEndpoints(ctx) {
  const m = shell.main;
  const createSlot = h('div');
  const addBtn = button('Add endpoint', () => openCreate(), 'btn-primary', { 'aria-expanded': 'false' });
  m.append(pageHeader({ title: 'Endpoints', eyebrow: 'Webhooks', actions: addBtn }),
    h('p', { class: 'lead' }, 'The URLs webhookd delivers events to, with their state and health.'),
    createSlot);

  const columns = [
    { label: 'Endpoint', cell: (ep) => h('span', { class: 'status-cell' }, link(paths.endpoint(ep.id), ep.url, 'mono strong url'),
      ep.description ? h('span', { class: 'sub' }, ep.description) : null, mono(ep.id, 'sub nowrap')), cls: 'wide' },
    { label: 'Status', cell: endpointStatus },
    { label: 'Health', cell: endpointHealth },
    { label: 'Pending', cell: pendingCell, cls: 'num' },
    { label: 'Events', cell: (ep) => chips(ep.events) },
    { label: 'Created', cell: (ep) => time(ep.created_at) },
  ];
  if (isOperator()) columns.splice(5, 0, { label: 'Tenant', cell: (ep) => (ep.tenant ? link(paths.tenant(ep.tenant), ep.tenant, 'mono') : muted('platform')) });
  const list = pager(ctx, {
    label: 'Endpoints',
    load: (c) => api('GET', `/v1/endpoints${qs({ limit: 25, cursor: c })}`),
    columns,
    empty: 'No endpoints yet. Add one to start receiving webhooks.',
    onRendered: () => { if (!performance.getEntriesByName('console:endpoints').length) performance.mark('console:endpoints'); },
  });
  m.append(list.el);

  function openCreate() {
    if (createSlot.firstChild) { closeCreate(); return; }
    addBtn.setAttribute('aria-expanded', 'true');
    const url = input({ type: 'url', name: 'url', required: true, placeholder: 'https://example.com/webhooks' });
    const events = input({ name: 'events', placeholder: 'order.created, booking.*' });
    const desc = input({ name: 'description', placeholder: 'Production receiver' });
    const tenant = isOperator() ? input({ name: 'tenant', placeholder: 'biz_42' }) : null;
    const slot = h('div');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create endpoint');
    const form = h('form', { class: 'form-grid' },
      field('URL', url, 'Where webhookd POSTs each event.'),
      field('Event types', events, 'Comma separated: exact types, prefix.* or *. Empty: every event.'),
      field('Description', desc),
      tenant ? field('Tenant (optional)', tenant, 'Give it to a tenant; empty for a platform endpoint.') : null,
      slot,
      h('div', { class: 'form-actions' }, submit, button('Cancel', closeCreate)));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = { url: url.value.trim() };
      const ev2 = parseList(events.value);
      if (ev2.length) body.events = ev2;
      if (desc.value.trim()) body.description = desc.value.trim();
      if (tenant && tenant.value.trim()) body.tenant = tenant.value.trim();
      busy(submit, async () => {
        try {
          const ep = await api('POST', '/v1/endpoints', body);
          if (!ctx.alive) return;
          showCreated(ep);
          list.first();
        } catch (e) { showError(slot, e); }
      });
    });
    createSlot.replaceChildren(card('Add endpoint', form));
    url.focus();
  }
  function closeCreate() {
    createSlot.replaceChildren();
    addBtn.setAttribute('aria-expanded', 'false');
    addBtn.focus();
  }
  function showCreated(ep) {
    const done = button('Done', closeCreate);
    createSlot.replaceChildren(h('section', { class: 'card card-success', 'aria-labelledby': 'created-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'created-title' }, 'Endpoint created')),
      h('p', null, 'Copy the signing secret now: it is shown this once. Your receiver uses it to verify the signature of each request.'),
      details([['URL', mono(ep.url, 'url')], ['ID', mono(ep.id)]]),
      copyBox('Signing secret', ep.secret),
      h('div', { class: 'form-actions' }, link(paths.endpoint(ep.id), 'Open endpoint', 'btn btn-primary'), done)));
    done.focus();
  }
}

// ----- Endpoint detail

function pageEndpoint(ctx, id) {
  const m = shell.main;
  const crumbs = [[`${BASE}/endpoints`, 'Endpoints']];
  const headSlot = h('div', null, pageHeader({ title: 'Endpoint', crumbs }));
  const actionAlert = h('div');
  const secretSlot = h('div');
  const overviewSlot = h('div', null, loading());
  const editSlot = h('div');
  m.append(headSlot, actionAlert, secretSlot, overviewSlot);
  let ep = null;

  api('GET', `/v1/endpoints/${enc(id)}`).then((data) => {
    if (!ctx.alive) return;
    show(data);
    m.append(editSlot, testCard(), attemptsCard);
    renderEdit();
  }, (e) => { if (ctx.alive) showError(overviewSlot, e); });

  const attempts = pager(ctx, {
    label: 'Recent attempts',
    load: (c) => api('GET', `/v1/endpoints/${enc(id)}/attempts${qs({ limit: 20, cursor: c })}`),
    columns: attemptColumns(true),
    empty: 'No attempts yet. Send a test event to see one here.',
  });
  const attemptsCard = card('Recent attempts', attempts.el);

  function act(btn, fn, msg) {
    actionAlert.replaceChildren();
    return busy(btn, async () => {
      try {
        const r = await fn();
        if (!ctx.alive) return;
        if (r && r.id && r.url) show(r);
        if (msg) toast(msg);
      } catch (e) { showError(actionAlert, e); }
    });
  }

  function show(data) {
    ep = data;
    const actions = [];
    if (ep.paused) actions.push(button('Resume', (e) => act(e.currentTarget, () => api('POST', `/v1/endpoints/${enc(id)}/resume`), 'Endpoint resumed')));
    else actions.push(button('Pause', (e) => act(e.currentTarget, () => api('POST', `/v1/endpoints/${enc(id)}/pause`), 'Endpoint paused')));
    if (ep.enabled) actions.push(button('Disable', (e) => act(e.currentTarget, () => api('PATCH', `/v1/endpoints/${enc(id)}`, { enabled: false }), 'Endpoint disabled')));
    else actions.push(button('Enable', (e) => act(e.currentTarget, () => api('PATCH', `/v1/endpoints/${enc(id)}`, { enabled: true }), 'Endpoint enabled')));
    actions.push(button('Rotate secret', rotate));
    actions.push(button('Delete', remove, 'btn-danger-outline'));
    headSlot.replaceChildren(pageHeader({
      title: ep.url, sub: ep.description || null, crumbs, eyebrow: 'Endpoint', actions,
    }));
    const hdrs = Object.entries(ep.headers || {});
    overviewSlot.replaceChildren(card('Overview', details([
      ['Status', endpointStatus(ep)],
      ['Health', endpointHealth(ep)],
      ['Pending deliveries', pendingCell(ep)],
      ['Endpoint ID', mono(ep.id)],
      ['URL', mono(ep.url, 'url')],
      ['Description', ep.description || dash()],
      ['Tenant', ep.tenant ? (isOperator() ? link(paths.tenant(ep.tenant), ep.tenant, 'mono') : mono(ep.tenant)) : muted('platform')],
      ['Event types', chips(ep.events)],
      ['Signature', h('span', null, mono(ep.signature ? ep.signature.format : 'hex'), ' in ', mono(ep.signature ? ep.signature.header : 'X-Webhook-Signature'))],
      ['Body', mono(ep.body || 'envelope')],
      ['Custom headers', hdrs.length ? h('ul', { class: 'kv' }, hdrs.map(([k, v]) => h('li', null, mono(k, 'strong'), ': ', mono(v)))) : muted('none')],
      ['Rate limit', ep.rate_limit ? `${ep.rate_limit} per second` : muted('no limit')],
      ['Ordering', mono(ep.ordering || 'unordered')],
      ['Enabled', ep.enabled ? 'yes' : 'no'],
      ep.disabled_reason ? ['Disabled', h('span', null, mono(ep.disabled_reason), ' since ', time(ep.disabled_at))] : null,
      ['Paused', ep.paused ? h('span', null, 'since ', time(ep.paused_at)) : 'no'],
      ['Signing secret', mono(ep.secret)],
      ['Previous secrets', (ep.previous_secrets || []).length
        ? h('ul', { class: 'kv' }, ep.previous_secrets.map((s) => h('li', null, mono(s.secret), ' until ', time(s.expires_at))))
        : muted('none')],
      ['Created', time(ep.created_at)],
      ['Updated', time(ep.updated_at)],
    ]), h('p', { class: 'card-foot' },
      link(`${BASE}/deliveries${qs({ endpoint_id: ep.id })}`, 'View deliveries'), ' · ',
      link(`${BASE}/dead-letters${qs({ endpoint_id: ep.id })}`, 'View failed deliveries'))));
  }

  async function rotate(ev) {
    const btn = ev.currentTarget;
    const grace = select([['0s', 'End them now'], ['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days']], '24h');
    const ok = await confirmDialog({
      title: 'Rotate signing secret?',
      message: 'A new secret signs requests from now on. The previous secrets stay valid for a grace period, so receivers can switch without rejecting requests.',
      body: field('Previous secrets stay valid for', grace),
      confirmLabel: 'Rotate secret',
    });
    if (!ok) return;
    await act(btn, async () => {
      const r = await api('POST', `/v1/endpoints/${enc(id)}/rotate-secret`, { grace_period: grace.value });
      if (!ctx.alive) return null;
      secretSlot.replaceChildren(h('section', { class: 'card card-success', 'aria-labelledby': 'rotated-title' },
        h('div', { class: 'card-head' }, h('h2', { id: 'rotated-title' }, 'New signing secret'),
          button('Dismiss', () => secretSlot.replaceChildren(), 'btn-ghost btn-sm')),
        h('p', null, 'Copy it now: it is shown this once. Previous secrets expire ', time(r.previous_secrets_expire_at), '.'),
        copyBox('New signing secret', r.secret)));
      return api('GET', `/v1/endpoints/${enc(id)}`);
    }, 'Secret rotated');
  }

  async function remove() {
    const ok = await confirmDialog({
      title: 'Delete this endpoint?',
      message: `${ep.url} will get no more deliveries. Its pending deliveries are cancelled and its secrets erased. Delivered deliveries and dead letters stay as history.`,
      confirmLabel: 'Delete endpoint',
      danger: true,
    });
    if (!ok) return;
    try {
      const r = await api('DELETE', `/v1/endpoints/${enc(id)}`);
      toast(`Endpoint deleted; ${r.cancelled_deliveries || 0} pending deliveries cancelled`);
      navigate(`${BASE}/endpoints`);
    } catch (e) { showError(actionAlert, e); }
  }

  function renderEdit() {
    const prev = editSlot.querySelector('details');
    const wasOpen = Boolean(prev && prev.open);
    const refocus = Boolean(prev && prev.contains(document.activeElement));
    const url = input({ type: 'url', value: ep.url, required: true });
    const events = input({ value: (ep.events || []).join(', '), placeholder: 'empty: every event' });
    const desc = h('textarea', { class: 'input', rows: '2', value: ep.description || '' });
    const headers = h('textarea', { class: 'input mono', rows: '3', spellcheck: 'false', placeholder: 'X-Tenant: acme',
      value: Object.entries(ep.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n') });
    const sig = ep.signature || { format: 'hex', header: 'X-Webhook-Signature' };
    const format = select([['hex', 'hex'], ['sha256', 'sha256= (GitHub style)'], ['stripe', 'stripe (t=…,v1=…)']], sig.format);
    const sigHeader = input({ value: sig.header, class: 'input mono' });
    const body = select([['envelope', 'envelope (id, timestamp, event, data)'], ['data', 'data only']], ep.body || 'envelope');
    const rate = input({ type: 'number', min: '1', max: '10000', step: '1', value: ep.rate_limit == null ? '' : String(ep.rate_limit), placeholder: 'no limit' });
    const ordering = select([['unordered', 'unordered (concurrent)'], ['fifo', 'fifo (one at a time, in order)']], ep.ordering || 'unordered');
    const slot = h('div');
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save changes');
    const form = h('form', { class: 'form-grid form-2' },
      field('URL', url),
      field('Event types', events, 'Comma separated; empty for every event.'),
      field('Description', desc),
      field('Custom headers', headers, 'One per line, as Name: value.'),
      field('Signature format', format),
      field('Signature header', sigHeader),
      field('Body', body),
      field('Rate limit (attempts per second)', rate, 'Empty for no limit.'),
      field('Ordering', ordering),
      h('div', { class: 'span-2' }, slot),
      h('div', { class: 'form-actions span-2' }, save));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      slot.replaceChildren();
      const patch = {};
      try {
        if (url.value.trim() !== ep.url) patch.url = url.value.trim();
        const evs = parseList(events.value);
        if (evs.join(',') !== (ep.events || []).join(',')) patch.events = evs;
        if (desc.value !== (ep.description || '')) patch.description = desc.value;
        const hd = parseHeaders(headers.value);
        if (JSON.stringify(hd) !== JSON.stringify(ep.headers || {})) patch.headers = hd;
        const s = {};
        if (format.value !== sig.format) s.format = format.value;
        if (sigHeader.value.trim() !== sig.header) s.header = sigHeader.value.trim();
        if (Object.keys(s).length) patch.signature = s;
        if (body.value !== (ep.body || 'envelope')) patch.body = body.value;
        const rl = rate.value.trim() === '' ? null : Number(rate.value);
        if (rl !== (ep.rate_limit == null ? null : ep.rate_limit)) patch.rate_limit = rl;
        if (ordering.value !== (ep.ordering || 'unordered')) patch.ordering = ordering.value;
      } catch (e) { slot.replaceChildren(alertBox(e)); return; }
      if (!Object.keys(patch).length) { slot.replaceChildren(alertBox('Nothing changed.', 'info')); return; }
      busy(save, async () => {
        try {
          const r = await api('PATCH', `/v1/endpoints/${enc(id)}`, patch);
          if (!ctx.alive) return;
          show(r);
          renderEdit();
          toast('Endpoint saved');
        } catch (e) { showError(slot, e); }
      });
    });
    editSlot.replaceChildren(h('details', { class: 'card card-collapsible', open: wasOpen },
      h('summary', null, h('span', { class: 'summary-title' }, 'Edit settings'), muted('URL, events, headers, signature, rate limit, ordering')),
      form));
    if (refocus) save.focus();
  }

  function testCard() {
    const type = input({ value: 'webhook.test', class: 'input mono', required: true });
    const data = h('textarea', { class: 'input mono', rows: '3', spellcheck: 'false', value: '{"test": true}' });
    const result = h('div', { class: 'test-result' });
    const send = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Send test event');
    const form = h('form', { class: 'form-grid form-2' },
      field('Event type', type),
      field('Data (JSON)', data),
      h('div', { class: 'form-actions span-2' }, send));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      let payload;
      try { payload = data.value.trim() ? JSON.parse(data.value) : undefined; } catch (e) {
        result.replaceChildren(alertBox(`The data is not valid JSON: ${e.message}`));
        return;
      }
      const body = { event: type.value.trim() || 'webhook.test' };
      if (payload !== undefined) body.data = payload;
      result.replaceChildren(loading('Sending…'));
      busy(send, async () => {
        try {
          const r = await api('POST', `/v1/endpoints/${enc(id)}/test`, body);
          if (!ctx.alive) return;
          result.replaceChildren(h('div', { class: `result ${r.success ? 'result-ok' : 'result-bad'}`, role: 'status' },
            h('p', { class: 'result-title' }, badge(r.success ? 'success' : 'failed', r.success ? 'green' : 'red'),
              ' ', r.status_code != null ? mono(`HTTP ${r.status_code}`) : muted('no response'), ' · ', latency(r.latency_ms)),
            details([
              ['Outcome', mono(r.outcome)],
              ['Status', r.status_code == null ? dash() : mono(String(r.status_code))],
              ['Latency', latency(r.latency_ms)],
              ['Error', r.error ? h('span', { class: 'error-text' }, r.error) : dash()],
              ['Event', h('span', null, mono(r.event), ' ', mono(r.event_id, 'sub'))],
              ['Response', snippet(r.response, 'Response to the test event')],
            ])));
          attempts.first();
        } catch (e) { showError(result, e); }
      });
    });
    return card('Send test event', h('p', { class: 'muted' }, 'Sends one signed request now and shows the answer. It is never retried and creates no delivery.'), form, result);
  }
}

// ----- Deliveries

function pageDeliveries(ctx) {
  const m = shell.main;
  const params = new URLSearchParams(location.search);
  const get = (k) => params.get(k) || '';
  const status = select([['', 'Any status'], ['pending', 'pending'], ['delivered', 'delivered'], ['dead', 'dead']], get('status'), { name: 'status' });
  const event = input({ name: 'event', value: get('event'), placeholder: 'order.* or order.created', class: 'input mono' });
  const since = input({ type: 'datetime-local', name: 'since', value: get('since') ? toLocalInput(new Date(get('since'))) : '' });
  const until = input({ type: 'datetime-local', name: 'until', value: get('until') ? toLocalInput(new Date(get('until'))) : '' });
  const endpoint = input({ name: 'endpoint_id', value: get('endpoint_id'), placeholder: 'ep_…', class: 'input mono' });
  const tenant = isOperator() ? input({ name: 'tenant', value: get('tenant'), placeholder: 'biz_42', class: 'input mono' }) : null;
  const apply = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply filters');
  const form = h('form', { class: 'filters', 'aria-label': 'Filter deliveries' },
    field('Status', status), field('Event type', event), field('Created since', since), field('Created before', until),
    field('Endpoint', endpoint), tenant ? field('Tenant', tenant) : null,
    h('div', { class: 'filter-actions' }, apply, link(`${BASE}/deliveries`, 'Reset', 'btn btn-ghost')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    navigate(`${BASE}/deliveries${qs({
      status: status.value, event: event.value.trim(), since: fromLocalInput(since.value), until: fromLocalInput(until.value),
      endpoint_id: endpoint.value.trim(), tenant: tenant ? tenant.value.trim() : '',
    })}`);
  });
  m.append(pageHeader({ title: 'Deliveries', eyebrow: 'Activity' }),
    h('p', { class: 'lead' }, 'Every event sent to every endpoint: pending, delivered and dead, newest first.'),
    form);
  const filter = {};
  for (const k of ['status', 'event', 'since', 'until', 'endpoint_id', 'tenant']) if (get(k)) filter[k] = get(k);
  const list = pager(ctx, {
    label: 'Deliveries',
    load: (c) => api('GET', `/v1/deliveries${qs({ ...filter, limit: 25, cursor: c })}`),
    columns: deliveryColumns(),
    empty: Object.keys(filter).length ? 'No delivery matches these filters.' : 'No deliveries yet.',
  });
  m.append(list.el);
}

// ----- Delivery detail (also dead letters)

function pageDelivery(ctx, id) {
  const m = shell.main;
  const crumbs = [[`${BASE}/deliveries`, 'Deliveries']];
  const headSlot = h('div', null, pageHeader({ title: id, eyebrow: 'Delivery', crumbs, sub: ' ' }));
  const alertSlot = h('div');
  const bodySlot = h('div', null, loading());
  m.append(headSlot, alertSlot, bodySlot);
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));

  async function load() {
    clearTimeout(timer);
    try {
      const d = await api('GET', `/v1/deliveries/${enc(id)}`);
      if (!ctx.alive) return;
      show(d);
      if (d.status === 'pending') timer = setTimeout(load, document.hidden ? 15000 : 2000);
    } catch (e) { if (ctx.alive) showError(bodySlot, e); }
  }

  function show(d) {
    const actions = [];
    if (d.status === 'delivered' || d.status === 'dead') {
      actions.push(button(d.status === 'dead' ? 'Retry' : 'Send again', (ev) => busy(ev.currentTarget, async () => {
        alertSlot.replaceChildren();
        try {
          await api('POST', `/v1/deliveries/${enc(id)}/retry`);
          toast(`${id} is pending again`);
          await load();
        } catch (e) { showError(alertSlot, e); }
      }), 'btn-primary'));
    }
    const focused = headSlot.contains(document.activeElement);
    headSlot.replaceChildren(pageHeader({ title: d.id, eyebrow: 'Delivery', crumbs, actions, sub: h('span', null, badge(d.status), ' ', mono(d.event)) }));
    if (focused) { const b = headSlot.querySelector('button'); (b || headSlot.querySelector('h1')).focus(); }
    const attempts = d.attempts || [];
    bodySlot.replaceChildren(
      card('Overview', details([
        ['Status', badge(d.status)],
        ['Event type', mono(d.event)],
        ['Event', link(paths.event(d.event_id), d.event_id, 'mono')],
        ['Endpoint', link(paths.endpoint(d.endpoint_id), d.endpoint_id, 'mono')],
        isOperator() ? ['Tenant', d.tenant ? link(paths.tenant(d.tenant), d.tenant, 'mono') : muted('platform')] : null,
        ['Attempts', String(d.attempt_count)],
        ['Created', time(d.created_at)],
        ['Next attempt', d.status === 'pending' ? (d.next_attempt_at ? time(d.next_attempt_at) : muted('parked')) : dash()],
        ['Last attempt', time(d.last_attempt_at)],
        ['Last status', d.last_status == null ? dash() : mono(String(d.last_status))],
        ['Last error', d.last_error ? h('span', { class: 'error-text' }, d.last_error) : dash()],
        ['Delivered', time(d.delivered_at)],
        ['Died', time(d.died_at)],
        d.last_response != null ? ['Last response', snippet(d.last_response, 'Last response')] : null,
      ])),
      card(`Attempts (${attempts.length})`, attempts.length
        ? table('Attempts', attemptColumns(false), attempts).el
        : emptyState(d.status === 'pending' ? 'No attempt yet: the first one is due soon.' : 'No attempts recorded.')));
  }
  load();
}

// ----- Failed deliveries (dead letters), with a live view of new failures

function pageDeadLetters(ctx) {
  const m = shell.main;
  const params = new URLSearchParams(location.search);
  const filter = {};
  for (const k of ['endpoint_id', 'event', 'tenant']) if (params.get(k)) filter[k] = params.get(k);
  const seen = new Set();
  const notice = h('div', { class: 'live-notice', role: 'status', 'aria-live': 'polite' });
  const liveDot = h('span', { class: 'live' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Live');
  const alertSlot = h('div');
  let newCount = 0;

  const sinceInput = input({ type: 'datetime-local', name: 'since', value: toLocalInput(new Date(Date.now() - 24 * 3600 * 1000)) });
  const bulkBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Retry all since…');
  const bulk = h('form', { class: 'bulk', 'aria-label': 'Retry failed deliveries in bulk' },
    field('Failed since', sinceInput), h('div', { class: 'filter-actions' }, bulkBtn));
  bulk.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alertSlot.replaceChildren();
    const since = fromLocalInput(sinceInput.value);
    if (!since) { alertSlot.replaceChildren(alertBox('Choose a date and time.')); return; }
    busy(bulkBtn, async () => {
      try {
        const body = { ...filter, since };
        const dry = await api('POST', '/v1/dead-letters/retry', { ...body, dry_run: true });
        if (!ctx.alive) return;
        const n = dry.matched;
        const ok = await confirmDialog({
          title: 'Retry failed deliveries?',
          message: `This will retry ${n} failed deliver${n === 1 ? 'y' : 'ies'}.`,
          body: h('p', { class: 'muted' }, 'Failed since ', time(since), '. Each goes back to the outbox with a fresh retry schedule.',
            dry.skipped ? ` ${dry.skipped} more cannot be retried: their endpoint was deleted.` : ''),
          confirmLabel: n ? `Retry ${n}` : 'OK',
        });
        if (!ok || !n || !ctx.alive) return;
        const r = await api('POST', '/v1/dead-letters/retry', body);
        toast(`${r.requeued} failed deliver${r.requeued === 1 ? 'y' : 'ies'} requeued`);
        newCount = 0;
        notice.replaceChildren();
        seen.clear();
        await list.first();
      } catch (e) { showError(alertSlot, e); }
    });
  });

  const retryCell = (d) => button('Retry', (ev) => busy(ev.currentTarget, async () => {
    alertSlot.replaceChildren();
    try {
      await api('POST', `/v1/dead-letters/${enc(d.id)}/retry`);
      if (!ctx.alive) return;
      seen.delete(d.id);
      if (list.table && list.table.remove(d.id) === 0) list.reload();
      toast(`${d.id} requeued`);
    } catch (e) { showError(alertSlot, e); }
  }), 'btn-secondary btn-sm', { 'aria-label': `Retry ${d.id}` });

  const filterNote = Object.keys(filter).length ? alertBox(`Showing only the failed deliveries with ${
    Object.entries(filter).map(([k, v]) => `${k} = ${v}`).join(', ')}; "Retry all" keeps to them too.`, 'info') : null;
  if (filterNote) filterNote.append(link(`${BASE}/dead-letters`, 'Show all'));
  add(m, [pageHeader({ title: 'Failed deliveries', eyebrow: 'Dead letters', actions: liveDot }),
    h('p', { class: 'lead' }, 'Deliveries that ran out of attempts. Fix the receiver, then retry them one by one or all at once.'),
    filterNote, card('Retry in bulk', bulk), alertSlot, notice]);
  const list = pager(ctx, {
    label: 'Failed deliveries',
    load: (c) => api('GET', `/v1/dead-letters${qs({ ...filter, limit: 50, cursor: c })}`),
    columns: deliveryColumns({ retry: retryCell }),
    empty: 'No failed deliveries. Everything was delivered.',
    onRendered: (rows) => rows.forEach((r) => seen.add(r.id)),
  });
  m.append(list.el);

  let timer = null;
  const schedule = () => { clearTimeout(timer); timer = setTimeout(poll, document.hidden ? 60000 : 5000); };
  async function poll() {
    if (!ctx.alive) return;
    if (list.atFirst) {
      try {
        const page = await api('GET', `/v1/dead-letters${qs({ ...filter, limit: 50 })}`);
        if (!ctx.alive) return;
        const fresh = (page.data || []).filter((r) => !seen.has(r.id));
        if (fresh.length) {
          fresh.forEach((r) => seen.add(r.id));
          if (list.table) list.table.prepend(fresh); else list.showRows(fresh);
          newCount += fresh.length;
          notice.replaceChildren(h('div', { class: 'alert alert-new' },
            h('span', null, `${newCount} new failure${newCount === 1 ? '' : 's'} since you opened this page.`),
            button('Dismiss', () => { newCount = 0; notice.replaceChildren(); }, 'btn-ghost btn-sm')));
        }
        liveDot.title = `Updated ${dateFmt.format(new Date())}`;
        liveDot.classList.remove('live-off');
      } catch (e) {
        liveDot.classList.add('live-off');
        if (!(e instanceof ApiError && e.status === 401)) liveDot.title = `Live updates failed: ${errorText(e)}`;
      }
    }
    schedule();
  }
  const onVis = () => { if (!document.hidden) poll(); else schedule(); };
  document.addEventListener('visibilitychange', onVis);
  ctx.onLeave(() => { clearTimeout(timer); document.removeEventListener('visibilitychange', onVis); });
  schedule();
}

// ----- Event

function pageEvent(ctx, id) {
  const m = shell.main;
  const crumbs = [[`${BASE}/deliveries`, 'Deliveries']];
  const slot = h('div', null, loading());
  m.append(pageHeader({ title: id, eyebrow: 'Event', crumbs, sub: ' ' }), slot);
  api('GET', `/v1/events/${enc(id)}`).then((ev) => {
    if (!ctx.alive) return;
    m.firstChild.replaceWith(pageHeader({ title: ev.id, eyebrow: 'Event', crumbs, sub: mono(ev.event) }));
    const dl = ev.deliveries || [];
    slot.replaceChildren(
      card('Overview', details([
        ['Event ID', mono(ev.id)],
        ['Type', mono(ev.event)],
        isOperator() ? ['Tenant', ev.tenant ? link(paths.tenant(ev.tenant), ev.tenant, 'mono') : muted('platform')] : null,
        ['Timestamp', h('span', null, mono(ev.timestamp), ' ', muted('(as sent by the producer)'))],
        ['Stored', time(ev.created_at)],
      ])),
      card('Payload', h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Event payload' }, pretty(ev.data))),
      card(`Deliveries (${dl.length})`, dl.length ? table('Deliveries of this event', deliveryColumns(), dl).el
        : emptyState('No endpoint matched this event.')));
  }, (e) => { if (ctx.alive) showError(slot, e); });
}

// ----- Tenants (operator only)

function operatorOnly() {
  shell.main.append(pageHeader({ title: 'Tenants' }),
    emptyState('Tenants are managed by the platform operator. This page is not available with your token.'));
}

function pageTenants(ctx) {
  if (!isOperator()) { operatorOnly(); return; }
  const m = shell.main;
  const idIn = input({ name: 'id', placeholder: 'biz_42 (optional)', class: 'input mono' });
  const nameIn = input({ name: 'name', placeholder: 'Acme Salon' });
  const slot = h('div');
  const create = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create tenant');
  const form = h('form', { class: 'form-grid form-2' },
    field('Tenant ID', idIn, 'Your own customer id; empty to generate one.'), field('Name', nameIn),
    h('div', { class: 'span-2' }, slot), h('div', { class: 'form-actions span-2' }, create));
  m.append(pageHeader({ title: 'Tenants', eyebrow: 'Platform' }),
    h('p', { class: 'lead' }, 'Your customers. Each tenant sees only its own endpoints, deliveries and events in its portal.'),
    card('Create tenant', form));
  const list = pager(ctx, {
    label: 'Tenants',
    load: (c) => api('GET', `/v1/tenants${qs({ limit: 50, cursor: c })}`),
    columns: [
      { label: 'Tenant', cell: (t) => link(paths.tenant(t.id), t.id, 'mono strong') },
      { label: 'Name', cell: (t) => t.name || dash() },
      { label: 'Created', cell: (t) => time(t.created_at) },
    ],
    empty: 'No tenants yet.',
  });
  m.append(list.el);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    slot.replaceChildren();
    const body = {};
    if (idIn.value.trim()) body.id = idIn.value.trim();
    if (nameIn.value.trim()) body.name = nameIn.value.trim();
    busy(create, async () => {
      try {
        const t = await api('POST', '/v1/tenants', body);
        if (!ctx.alive) return;
        form.reset();
        slot.replaceChildren(alertBox(`Tenant ${t.id} created.`, 'info'));
        list.first();
      } catch (e) { showError(slot, e); }
    });
  });
}

function pageTenant(ctx, id) {
  if (!isOperator()) { operatorOnly(); return; }
  const m = shell.main;
  const crumbs = [[`${BASE}/tenants`, 'Tenants']];
  const overview = h('div', null, loading());
  m.append(pageHeader({ title: id, eyebrow: 'Tenant', crumbs, sub: ' ' }), overview);
  api('GET', `/v1/tenants/${enc(id)}`).then((t) => {
    if (!ctx.alive) return;
    m.firstChild.replaceWith(pageHeader({ title: t.name || t.id, eyebrow: 'Tenant', crumbs, sub: mono(t.id) }));
    const meta = Object.entries(t.metadata || {});
    overview.replaceChildren(card('Overview', details([
      ['Tenant ID', mono(t.id)],
      ['Name', t.name || dash()],
      ['Metadata', meta.length ? h('ul', { class: 'kv' }, meta.map(([k, v]) => h('li', null, mono(k, 'strong'), ': ', v))) : muted('none')],
      ['Created', time(t.created_at)],
      ['Updated', time(t.updated_at)],
    ]), h('p', { class: 'card-foot' },
      link(`${BASE}/deliveries${qs({ tenant: t.id })}`, 'View its deliveries'))));
  }, (e) => { if (ctx.alive) showError(overview, e); });

  const desc = input({ name: 'description', placeholder: 'Dashboard session' });
  const expires = input({ name: 'expires_in', value: '24h', class: 'input mono' });
  const mintSlot = h('div');
  const mint = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Mint token');
  const form = h('form', { class: 'form-grid form-2' },
    field('Description', desc), field('Expires in', expires, 'A duration such as 1h, 24h or 30d, or never.'),
    h('div', { class: 'form-actions span-2' }, mint));
  const alertSlot = h('div');
  const revokeCell = (tk) => button('Revoke', async (ev) => {
    const btn = ev.currentTarget;
    const ok = await confirmDialog({
      title: 'Revoke this token?',
      message: `Token ${tk.id}${tk.description ? ` (${tk.description})` : ''} stops working at once: the next request that presents it is refused.`,
      confirmLabel: 'Revoke token',
      danger: true,
    });
    if (!ok) return;
    await busy(btn, async () => {
      alertSlot.replaceChildren();
      try {
        await api('DELETE', `/v1/tenants/${enc(id)}/tokens/${enc(tk.id)}`);
        if (!ctx.alive) return;
        toast(`Token ${tk.id} revoked`);
        tokens.reload();
      } catch (e) { showError(alertSlot, e); }
    });
  }, 'btn-danger-outline btn-sm', { 'aria-label': `Revoke token ${tk.id}` });
  const tokens = pager(ctx, {
    label: 'Access tokens',
    load: (c) => api('GET', `/v1/tenants/${enc(id)}/tokens${qs({ limit: 50, cursor: c })}`),
    columns: [
      { label: 'Token', cell: (tk) => mono(tk.id) },
      { label: 'Description', cell: (tk) => tk.description || dash() },
      { label: 'Created', cell: (tk) => time(tk.created_at) },
      { label: 'Expires', cell: (tk) => (tk.expires_at ? time(tk.expires_at) : muted('never')) },
      { label: 'Actions', cell: revokeCell },
    ],
    empty: 'No tokens. Mint one to give this tenant its portal.',
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    mintSlot.replaceChildren();
    const body = {};
    if (desc.value.trim()) body.description = desc.value.trim();
    if (expires.value.trim()) body.expires_in = expires.value.trim();
    busy(mint, async () => {
      try {
        const tk = await api('POST', `/v1/tenants/${enc(id)}/tokens`, body);
        if (!ctx.alive) return;
        const portal = `${location.origin}${BASE}/#token=${tk.token}`;
        mintSlot.replaceChildren(h('section', { class: 'card card-success', 'aria-labelledby': 'minted-title' },
          h('div', { class: 'card-head' }, h('h2', { id: 'minted-title' }, 'Token minted'),
            button('Dismiss', () => mintSlot.replaceChildren(), 'btn-ghost btn-sm')),
          h('p', null, 'Copy it now: it is shown this once. ', tk.expires_at ? h('span', null, 'It expires ', time(tk.expires_at), '.') : 'It never expires.'),
          copyBox('Token', tk.token),
          copyBox('Portal link', portal, { wrap: true }),
          h('p', { class: 'hint' }, 'The portal link signs the tenant in to its own console. Send it only to the tenant.')));
        form.reset();
        tokens.first();
      } catch (e) { showError(mintSlot, e); }
    });
  });
  m.append(card('Access tokens', h('p', { class: 'muted' }, 'A tenant token sees this tenant only, in the console and through the API.'),
    form, mintSlot, alertSlot, tokens.el));
}

// ---------------------------------------------------------------- start

function consumeFragment() {
  if (!location.hash || location.hash.length < 2) return false;
  const p = new URLSearchParams(location.hash.slice(1));
  const t = p.get('token');
  if (!t) return false;
  setToken(t.trim());
  history.replaceState(history.state, '', location.pathname + location.search);
  return true;
}

async function boot() {
  consumeFragment();
  try {
    const r = await whoAmI(token);
    if (r.ok) { me = r.me; if (!token) localAccess = true; startApp(); return; }
    if (r.status === 401) {
      const had = Boolean(token);
      setToken(null);
      showSignIn(had ? EXPIRED : null);
      return;
    }
    showSignIn(r.error);
  } catch (e) {
    showSignIn(e);
  }
}

window.addEventListener('hashchange', () => { if (consumeFragment()) { leavePage(); me = null; shell = null; boot(); } });

boot();
