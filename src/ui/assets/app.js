// Tollgate dashboard. One ES module, no build step, no inline script or style
// (the CSP forbids both). Every DOM node is built with `h()` and text nodes, so
// nothing from the API is ever parsed as HTML. The management key is sent once,
// to POST /ui/session, and then dropped: the session is an HttpOnly cookie, and
// mutations carry the CSRF token from the page's meta tag.
//
// A page is one entry in PAGES: { title, render(root) }.

const csrf = document.querySelector('meta[name="csrf-token"]').content;

function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'rect', 'text', 'line', 'g', 'title', 'polyline'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch('/ui/api/' + path, opts);
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (res.status === 401) { location.reload(); }
  if (!res.ok) throw new Error((data && data.error && data.error.message) || res.statusText);
  return data;
}

function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
}

function field(label, input) {
  const id = input.id || ('f-' + Math.random().toString(36).slice(2));
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

function select(name, options, value = '') {
  return h('select', { name }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

function when(ts) { return ts ? new Date(ts).toLocaleString() : '—'; }
function list(s) { return s.split(',').map((x) => x.trim()).filter(Boolean); }

function dialog(title, ...body) {
  const d = h('dialog', { 'aria-label': title }, h('h2', {}, title), ...body);
  document.body.append(d);
  d.addEventListener('close', () => d.remove());
  d.showModal();
  return d;
}

// ---- Keys ---------------------------------------------------------------

function showOnce(title, key) {
  const out = h('input', { readonly: true, value: key, id: 'new-key', 'aria-label': 'New key', spellcheck: 'false' });
  const copy = h('button', { type: 'button', id: 'copy-key', onclick: async () => {
    try { await navigator.clipboard.writeText(key); copy.textContent = 'Copied'; }
    catch { out.select(); copy.textContent = 'Select and copy'; }
  } }, 'Copy');
  const d = dialog(title,
    h('p', {}, 'This key is shown once. Copy it now; it cannot be shown again.'),
    h('div', { class: 'row' }, out, copy),
    h('form', { method: 'dialog' }, h('button', { id: 'close-key' }, 'Done')));
  // Forget it when closed: the dialog is removed from the document.
  d.addEventListener('close', () => { out.value = ''; });
}

function policyInputs(k = {}) {
  const rl = k.rate_limit || {};
  return {
    scopes: h('input', { name: 'scopes', value: (k.scopes || []).join(', '), placeholder: 'chat, embeddings' }),
    rl_requests: h('input', { name: 'rl_requests', type: 'number', min: 1, value: rl.requests ?? '' }),
    rl_period: select('rl_period', [['second', 'per second'], ['minute', 'per minute'], ['hour', 'per hour'], ['day', 'per day']], rl.period || 'minute'),
    ip_allowlist: h('input', { name: 'ip_allowlist', value: (k.ip_allowlist || []).join(', '), placeholder: '10.0.0.0/8' }),
    allowed_models: h('input', { name: 'allowed_models', value: (k.allowed_models || []).join(', '), placeholder: 'gpt-4o-mini' }),
    expires_at: h('input', { name: 'expires_at', type: 'datetime-local', value: k.expires_at ? k.expires_at.slice(0, 16) : '' }),
  };
}

function policyBody(f, editing) {
  const body = {};
  if (f.scopes.value.trim()) body.scopes = list(f.scopes.value);
  body.ip_allowlist = list(f.ip_allowlist.value);
  body.allowed_models = list(f.allowed_models.value);
  if (f.rl_requests.value) body.rate_limit = { requests: Number(f.rl_requests.value), period: f.rl_period.value };
  else if (editing) body.rate_limit = null;
  if (f.expires_at.value) body.expires_at = new Date(f.expires_at.value).toISOString();
  else if (editing) body.expires_at = null;
  return body;
}

function policyFields(f) {
  return [
    field('Scopes (comma-separated)', f.scopes),
    h('div', { class: 'row' }, field('Rate limit (requests)', f.rl_requests), field('Period', f.rl_period)),
    field('IP allowlist (comma-separated CIDRs)', f.ip_allowlist),
    field('Allowed models (comma-separated)', f.allowed_models),
    field('Expires at', f.expires_at),
  ];
}

function editKey(k, reload) {
  const f = policyInputs(k);
  const err = h('p', { class: 'error', role: 'alert' });
  const d = dialog('Edit ' + k.name,
    h('form', { id: 'edit-form', onsubmit: async (e) => {
      e.preventDefault();
      try { await api('PATCH', 'keys/' + k.id, policyBody(f, true)); d.close(); toast('Key updated'); reload(); }
      catch (x) { err.textContent = x.message; }
    } }, policyFields(f), err,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', onclick: () => d.close() }, 'Cancel'))));
}

function rotateKey(k, reload) {
  const grace = h('input', { type: 'number', min: 0, value: 3600, name: 'grace' });
  const err = h('p', { class: 'error', role: 'alert' });
  const d = dialog('Rotate ' + k.name,
    h('form', { onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api('POST', 'keys/' + k.id + '/rotate', { grace_period_secs: Number(grace.value) });
        d.close(); showOnce('Rotated key', r.key); reload();
      } catch (x) { err.textContent = x.message; }
    } }, field('Old secret keeps working for (seconds)', grace), err,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Rotate'), h('button', { type: 'button', onclick: () => d.close() }, 'Cancel'))));
}

async function renderKeys(root) {
  const filters = {
    env: select('env', [['', 'any env'], ['live', 'live'], ['stg', 'stg'], ['dev', 'dev']]),
    kind: select('kind', [['', 'any kind'], ['sk', 'sk'], ['mk', 'mk']]),
    status: select('status', [['', 'any status'], ['active', 'active'], ['expired', 'expired'], ['revoked', 'revoked']]),
    name: h('input', { name: 'name', type: 'search' }),
    account_id: h('input', { name: 'account_id', type: 'search' }),
  };
  const tbody = h('tbody');
  const err = h('p', { class: 'error', role: 'alert' });
  async function reload() {
    const q = new URLSearchParams();
    for (const [k, el] of Object.entries(filters)) if (el.value) q.set(k, el.value);
    try {
      const r = await api('GET', 'keys' + (q.toString() ? '?' + q : ''));
      err.textContent = '';
      tbody.replaceChildren(...r.data.map((k) => h('tr', { 'data-kid': k.kid },
        h('td', {}, k.name), h('td', {}, h('code', {}, k.kid)), h('td', {}, k.env), h('td', {}, k.kind),
        h('td', { class: 'status-' + k.status }, k.status), h('td', {}, k.account_id), h('td', {}, when(k.last_used_at)),
        h('td', { class: 'actions' }, k.status === 'revoked' ? '' : [
          h('button', { type: 'button', onclick: () => editKey(k, reload) }, 'Edit'),
          h('button', { type: 'button', onclick: () => rotateKey(k, reload) }, 'Rotate'),
          h('button', { type: 'button', class: 'danger', 'data-action': 'revoke', onclick: async () => {
            if (!confirm('Revoke ' + k.name + '? Requests with it will get 401.')) return;
            try { await api('POST', 'keys/' + k.id + '/revoke'); toast('Revoked ' + k.name); reload(); }
            catch (x) { err.textContent = x.message; }
          } }, 'Revoke'),
        ]))));
    } catch (x) { err.textContent = x.message; }
  }
  const create = {
    name: h('input', { name: 'name', required: true, id: 'new-name' }),
    env: select('env', [['live', 'live'], ['stg', 'stg'], ['dev', 'dev']]),
    kind: select('kind', [['sk', 'sk (gateway)'], ['mk', 'mk (management)']]),
    account_id: h('input', { name: 'account_id', placeholder: 'default' }),
    ...policyInputs(),
  };
  const createErr = h('p', { class: 'error', role: 'alert' });
  root.append(
    h('h1', {}, 'Keys'),
    h('form', { class: 'filters', 'aria-label': 'Filter keys', onsubmit: (e) => { e.preventDefault(); reload(); } },
      field('Env', filters.env), field('Kind', filters.kind), field('Status', filters.status),
      field('Name', filters.name), field('Account', filters.account_id), h('button', { type: 'submit' }, 'Filter')),
    err,
    h('div', { class: 'scroll' }, h('table', { id: 'keys' },
      h('thead', {}, h('tr', {}, ['Name', 'Kid', 'Env', 'Kind', 'Status', 'Account', 'Last used', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
    h('details', { class: 'card' }, h('summary', {}, 'Create a key'),
      h('form', { id: 'create-key', onsubmit: async (e) => {
        e.preventDefault();
        const body = { name: create.name.value, env: create.env.value, kind: create.kind.value, ...policyBody(create, false) };
        if (create.account_id.value) body.account_id = create.account_id.value;
        if (!body.ip_allowlist.length) delete body.ip_allowlist;
        if (!body.allowed_models.length) delete body.allowed_models;
        try { const r = await api('POST', 'keys', body); createErr.textContent = ''; showOnce('New key ' + r.name, r.key); reload(); }
        catch (x) { createErr.textContent = x.message; }
      } },
      h('div', { class: 'row' }, field('Name', create.name), field('Env', create.env), field('Kind', create.kind), field('Account', create.account_id)),
      policyFields(create), createErr, h('button', { type: 'submit' }, 'Create key'))));
  await reload();
}

// ---- Usage --------------------------------------------------------------

const METRICS = [
  ['requests', 'Requests', (t) => t.requests],
  ['error_rate', 'Error rate (%)', (t) => Math.round(t.error_rate * 1000) / 10],
  ['auth_failures', 'Auth failures', (t) => t.auth_failures],
  ['tokens', 'Tokens (in + out)', (t) => t.input_tokens + t.output_tokens],
  ['cost_usd', 'Spend (USD)', (t) => Number(t.cost_usd)],
];

// A bar chart as inline SVG: one bar per group, each labelled with its value,
// so the numbers read off the chart are the API's.
function barChart(id, title, rows) {
  const w = 640, barH = 22, gap = 6, labelW = 200, pad = 4;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = Math.max(1, rows.length) * (barH + gap) + pad * 2;
  const svg = h('svg', { id, class: 'chart', viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': title, width: '100%' },
    h('title', {}, title));
  rows.forEach((r, i) => {
    const y = pad + i * (barH + gap);
    const bw = Math.max(1, ((w - labelW - 80) * r.value) / max);
    svg.append(h('g', { class: 'bar', 'data-label': r.label, 'data-value': r.value },
      h('text', { x: labelW - 6, y: y + barH * 0.7, 'text-anchor': 'end', class: 'label' }, r.label || '(none)'),
      h('rect', { x: labelW, y, width: bw, height: barH, rx: 3 }),
      h('text', { x: labelW + bw + 6, y: y + barH * 0.7, class: 'value' }, String(r.value))));
  });
  if (!rows.length) svg.append(h('text', { x: 10, y: 20, class: 'label' }, 'No usage in this range'));
  return svg;
}

async function renderUsage(root) {
  const range = select('range', [['1', 'last hour'], ['24', 'last 24 hours'], ['168', 'last 7 days'], ['720', 'last 30 days']], '24');
  range.id = 'range';
  const by = select('group_by', [['hour', 'over time (hour)'], ['day', 'over time (day)'], ['key', 'by key'], ['model', 'by model'], ['provider', 'by provider'], ['status', 'by status']], 'hour');
  by.id = 'group-by';
  const metric = select('metric', METRICS.map(([k, l]) => [k, l]), 'requests');
  metric.id = 'metric';
  const out = h('div', { id: 'usage-out' });
  const err = h('p', { class: 'error', role: 'alert' });
  async function reload() {
    const to = new Date();
    const from = new Date(to.getTime() - Number(range.value) * 3600e3);
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), group_by: by.value });
    try {
      const r = await api('GET', 'usage?' + q);
      err.textContent = '';
      const [, label, pick] = METRICS.find(([k]) => k === metric.value);
      const t = r.totals;
      const rows = r.groups.map((g) => ({ label: g.key, value: pick(g) }));
      out.replaceChildren(
        h('dl', { class: 'totals', id: 'totals' },
          METRICS.map(([k, l, p]) => h('div', { 'data-metric': k }, h('dt', {}, l), h('dd', {}, String(p(t)))))),
        h('p', { class: 'hint' }, `From ${when(r.from)} to ${when(r.to)}`),
        barChart('usage-chart', `${label} ${by.options[by.selectedIndex].text}`, rows));
    } catch (x) { err.textContent = x.message; }
  }
  for (const el of [range, by, metric]) el.addEventListener('change', reload);
  root.append(h('h1', {}, 'Usage'),
    h('form', { class: 'filters', 'aria-label': 'Usage range', onsubmit: (e) => { e.preventDefault(); reload(); } },
      field('Range', range), field('Group', by), field('Metric', metric), h('button', { type: 'submit' }, 'Refresh')),
    err, out);
  await reload();
}

// ---- Accounts -----------------------------------------------------------

async function renderAccounts(root) {
  const tbody = h('tbody');
  const err = h('p', { class: 'error', role: 'alert' });
  const trail = h('div', { id: 'credits' });
  async function showCredits(a) {
    const r = await api('GET', 'accounts/' + encodeURIComponent(a.id) + '/credits');
    trail.replaceChildren(h('h2', {}, 'Balance changes: ' + a.id),
      h('div', { class: 'scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, ['When', 'Amount', 'Balance after', 'By', 'Note'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, r.data.map((c) => h('tr', {}, h('td', {}, when(c.created_at)), h('td', {}, c.amount),
          h('td', {}, c.balance_after), h('td', {}, h('code', {}, c.actor)), h('td', {}, c.note)))))));
  }
  function credit(a) {
    const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal', placeholder: '25.00', id: 'credit-amount' });
    const note = h('input', { name: 'note', id: 'credit-note' });
    const e2 = h('p', { class: 'error', role: 'alert' });
    const d = dialog('Credit ' + a.id,
      h('form', { onsubmit: async (e) => {
        e.preventDefault();
        try { await api('POST', 'accounts/' + encodeURIComponent(a.id) + '/credit', { amount: amount.value, note: note.value }); d.close(); toast('Credited'); await reload(); await showCredits(a); }
        catch (x) { e2.textContent = x.message; }
      } }, field('Amount (negative to debit)', amount), field('Note', note), e2,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Credit'), h('button', { type: 'button', onclick: () => d.close() }, 'Cancel'))));
  }
  async function reload() {
    try {
      const r = await api('GET', 'accounts');
      tbody.replaceChildren(...r.data.map((a) => h('tr', { 'data-account': a.id },
        h('td', {}, h('code', {}, a.id)), h('td', {}, a.name), h('td', {}, a.disabled ? 'disabled' : 'active'),
        h('td', {}, a.billing_mode ?? '—'), h('td', { class: 'balance' }, a.balance != null ? `${a.balance} ${a.currency}` : '—'),
        h('td', { class: 'actions' },
          h('button', { type: 'button', onclick: () => credit(a) }, 'Credit'),
          h('button', { type: 'button', onclick: () => showCredits(a).catch((x) => { err.textContent = x.message; }) }, 'Audit trail')))));
    } catch (x) { err.textContent = x.message; }
  }
  root.append(h('h1', {}, 'Accounts'), err,
    h('div', { class: 'scroll' }, h('table', { id: 'accounts' },
      h('thead', {}, h('tr', {}, ['Id', 'Name', 'Status', 'Billing', 'Balance', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)), trail);
  await reload();
}

// ---- Shell --------------------------------------------------------------

const PAGES = {
  keys: { title: 'Keys', render: renderKeys },
  usage: { title: 'Usage', render: renderUsage },
  accounts: { title: 'Accounts', render: renderAccounts },
};

async function route() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : 'keys';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const root = document.getElementById('page');
  root.replaceChildren();
  document.title = PAGES[name].title + ' · Tollgate';
  root.setAttribute('data-page', name);
  await PAGES[name].render(root);
  root.setAttribute('data-ready', name);
}

function signInPage() {
  document.getElementById('sign-in').hidden = false;
  const form = document.getElementById('sign-in-form');
  const input = document.getElementById('mk');
  const err = document.getElementById('sign-in-error');
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value;
    input.value = '';
    const res = await fetch('/ui/session', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ key }),
    });
    if (res.ok) { location.reload(); return; }
    const body = await res.json().catch(() => ({}));
    err.textContent = (body.error && body.error.message) || 'Sign-in failed';
  });
}

function start() {
  if (!csrf) { signInPage(); return; }
  const nav = document.getElementById('nav');
  nav.hidden = false;
  nav.append(...Object.entries(PAGES).map(([k, p]) => h('a', { href: '#' + k, 'data-page': k }, p.title)));
  const out = document.getElementById('sign-out');
  out.hidden = false;
  out.addEventListener('click', async () => {
    await fetch('/ui/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } });
    location.replace('/ui');
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
