// End users (`/admin/users`): list, disable / enable (their tokens stop or work
// again at once), delete with their vault keys.

import { api, errorLine, h, table, toast, when } from './dom.js';

export async function render(root) {
  const tbody = h('tbody');
  const err = errorLine();
  async function act(u, path, method, done) {
    try { await api(method, path, undefined); toast(done + ' ' + u.email); await reload(); }
    catch (x) { err.textContent = x.message; }
  }
  async function reload() {
    try {
      const r = await api('GET', 'users');
      err.textContent = '';
      tbody.replaceChildren(...r.data.map((u) => {
        const id = encodeURIComponent(u.id);
        return h('tr', { 'data-user': u.id },
          h('td', {}, u.email), h('td', {}, h('code', {}, u.id)),
          h('td', { class: 'status-' + u.status, 'data-col': 'status' }, u.status),
          h('td', {}, when(u.created_at)),
          h('td', { class: 'actions' },
            u.status === 'active'
              ? h('button', { type: 'button', 'data-action': 'disable', onclick: () => act(u, `users/${id}/disable`, 'POST', 'Disabled') }, 'Disable')
              : h('button', { type: 'button', 'data-action': 'enable', onclick: () => act(u, `users/${id}/enable`, 'POST', 'Enabled') }, 'Enable'),
            h('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: () => {
              if (confirm(`Delete ${u.email} and their stored provider keys?`)) act(u, `users/${id}`, 'DELETE', 'Deleted');
            } }, 'Delete')));
      }));
      if (!r.data.length) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'hint' }, 'No end users yet (they sign up at POST /auth/register).')));
    } catch (x) { err.textContent = x.message; }
  }
  root.append(h('h1', {}, 'End users'), err,
    table('users', ['Email', 'Id', 'Status', 'Signed up', 'Actions'], tbody));
  await reload();
}
