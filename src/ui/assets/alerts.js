// Alerts (`/admin/alerts`): the alert events webhooks deliver, newest first,
// filtered by type, key and account.

import { api, errorLine, field, h, select, table, when } from './dom.js';

const TYPES = ['alert.auth_failures', 'alert.new_ip', 'alert.rate_limit_near', 'alert.rate_limited', 'alert.balance_low', 'alert.spend_daily'];

// The event's data without the fields shown in their own columns.
function details(data) {
  return Object.entries(data || {}).filter(([k]) => k !== 'key_id')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
}

export async function render(root) {
  const filters = {
    type: select('type', [['', 'any type'], ...TYPES.map((t) => [t, t.slice('alert.'.length)])]),
    key_id: h('input', { name: 'key_id', type: 'search', id: 'alert-key' }),
    account_id: h('input', { name: 'account_id', type: 'search', id: 'alert-account' }),
  };
  filters.type.id = 'alert-type';
  const tbody = h('tbody');
  const err = errorLine();
  async function reload() {
    const q = new URLSearchParams();
    for (const [k, el] of Object.entries(filters)) if (el.value.trim()) q.set(k, el.value.trim());
    try {
      const r = await api('GET', 'alerts' + (q.toString() ? '?' + q : ''));
      err.textContent = '';
      tbody.replaceChildren(...r.data.map((a) => h('tr', { 'data-alert': a.id, 'data-type': a.type },
        h('td', {}, when(a.created_at)), h('td', {}, a.type), h('td', {}, a.account_id),
        h('td', {}, a.data && a.data.key_id ? h('code', {}, a.data.key_id) : '—'), h('td', {}, details(a.data)))));
      if (!r.data.length) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'No alerts match.')));
    } catch (x) { err.textContent = x.message; }
  }
  filters.type.addEventListener('change', reload);
  root.append(h('h1', {}, 'Alerts'),
    h('form', { class: 'filters', id: 'alert-filters', 'aria-label': 'Filter alerts', onsubmit: (e) => { e.preventDefault(); reload(); } },
      field('Type', filters.type), field('Key id', filters.key_id), field('Account', filters.account_id),
      h('button', { type: 'submit' }, 'Filter')),
    err, table('alerts', ['When', 'Type', 'Account', 'Key', 'Details'], tbody));
  await reload();
}
