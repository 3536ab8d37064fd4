// Keys: list with filters and last use, create (shown once), edit the policy,
// rotate with a grace period, revoke.

import { api, buttons, dialog, errorLine, field, h, list, select, showOnce, table, toast, when } from './dom.js';

function policyInputs(k = {}) {
  const rl = k.rate_limit || {};
  return {
    scopes: h('input', { name: 'scopes', value: (k.scopes || []).join(', '), placeholder: 'chat, embeddings' }),
    rl_requests: h('input', { name: 'rl_requests', type: 'number', min: 1, value: rl.requests ?? '' }),
    rl_period: select('rl_period', [['second', 'per second'], ['minute', 'per minute'], ['hour', 'per hour'], ['day', 'per day']], rl.period || 'minute'),
    ip_allowlist: h('input', { name: 'ip_allowlist', value: (k.ip_allowlist || []).join(', '), placeholder: '10.0.0.0/8' }),
    allowed_models: h('input', { name: 'allowed_models', value: (k.allowed_models || []).join(', '), placeholder: 'gpt-4o-mini' }),
    expires_at: h('input', { name: 'expires_at', type: 'datetime-local', value: k.expires_at ? localInput(k.expires_at) : '' }),
  };
}

// `datetime-local` wants local wall-clock time without a zone.
function localInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
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
  const err = errorLine();
  const d = dialog('Edit ' + k.name,
    h('form', { id: 'edit-form', onsubmit: async (e) => {
      e.preventDefault();
      try { await api('PATCH', 'keys/' + k.id, policyBody(f, true)); d.close(); toast('Key updated'); reload(); }
      catch (x) { err.textContent = x.message; }
    } }, policyFields(f), err, buttons('Save')));
  f.scopes.focus();
}

function rotateKey(k, reload) {
  const grace = h('input', { type: 'number', min: 0, max: 2592000, value: 3600, name: 'grace', id: 'rotate-grace' });
  const err = errorLine();
  const d = dialog('Rotate ' + k.name,
    h('form', { id: 'rotate-form', onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api('POST', 'keys/' + k.id + '/rotate', { grace_period_secs: Number(grace.value) });
        d.close(); showOnce('Rotated key ' + k.name, r.key); reload();
      } catch (x) { err.textContent = x.message; }
    } }, field('Old secret keeps working for (seconds)', grace), err, buttons('Rotate')));
  grace.focus();
}

function summary(k) {
  const bits = [];
  if (k.scopes && k.scopes.length) bits.push(k.scopes.join(', '));
  if (k.rate_limit) bits.push(`${k.rate_limit.requests}/${k.rate_limit.period}`);
  if (k.ip_allowlist && k.ip_allowlist.length) bits.push('IP ' + k.ip_allowlist.join(', '));
  if (k.allowed_models && k.allowed_models.length) bits.push('models ' + k.allowed_models.join(', '));
  if (k.expires_at) bits.push('expires ' + when(k.expires_at));
  return bits.join(' · ');
}

export async function render(root) {
  const filters = {
    env: select('env', [['', 'any env'], ['live', 'live'], ['stg', 'stg'], ['dev', 'dev']]),
    kind: select('kind', [['', 'any kind'], ['sk', 'sk'], ['mk', 'mk']]),
    status: select('status', [['', 'any status'], ['active', 'active'], ['expired', 'expired'], ['revoked', 'revoked']]),
    name: h('input', { name: 'name', type: 'search', id: 'filter-name' }),
    account_id: h('input', { name: 'account_id', type: 'search', id: 'filter-account' }),
  };
  const tbody = h('tbody');
  const err = errorLine();
  async function reload() {
    const q = new URLSearchParams();
    for (const [k, el] of Object.entries(filters)) if (el.value) q.set(k, el.value);
    try {
      const r = await api('GET', 'keys' + (q.toString() ? '?' + q : ''));
      err.textContent = '';
      tbody.replaceChildren(...r.data.map((k) => h('tr', { 'data-kid': k.kid },
        h('td', {}, k.name), h('td', {}, h('code', {}, k.kid)), h('td', {}, k.env), h('td', {}, k.kind),
        h('td', { class: 'status-' + k.status, 'data-col': 'status' }, k.status), h('td', {}, k.account_id),
        h('td', { 'data-col': 'last-used' }, when(k.last_used_at)), h('td', { class: 'policy', 'data-col': 'policy' }, summary(k)),
        h('td', { class: 'actions' }, k.status === 'revoked' ? '' : [
          h('button', { type: 'button', 'data-action': 'edit', onclick: () => editKey(k, reload) }, 'Edit'),
          h('button', { type: 'button', 'data-action': 'rotate', onclick: () => rotateKey(k, reload) }, 'Rotate'),
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
  const createErr = errorLine();
  root.append(
    h('h1', {}, 'Keys'),
    h('form', { class: 'filters', id: 'key-filters', 'aria-label': 'Filter keys', onsubmit: (e) => { e.preventDefault(); reload(); } },
      field('Env', filters.env), field('Kind', filters.kind), field('Status', filters.status),
      field('Name', filters.name), field('Account', filters.account_id), h('button', { type: 'submit' }, 'Filter')),
    err,
    table('keys', ['Name', 'Kid', 'Env', 'Kind', 'Status', 'Account', 'Last used', 'Policy', 'Actions'], tbody),
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
