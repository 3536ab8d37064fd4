// Webhooks: list, register (the signing secret shown once), send a test, read
// the delivery log, redeliver, delete.

import { api, errorLine, field, h, list, showOnce, table, toast, when } from './dom.js';

export async function render(root) {
  const tbody = h('tbody');
  const err = errorLine();
  const log = h('div', { id: 'deliveries' });
  async function showDeliveries(w) {
    const id = encodeURIComponent(w.id);
    const r = await api('GET', `webhooks/${id}/deliveries`);
    log.replaceChildren(h('h2', {}, 'Deliveries: ' + w.url),
      h('button', { type: 'button', class: 'secondary', id: 'refresh-deliveries', onclick: () => showDeliveries(w).catch((x) => { err.textContent = x.message; }) }, 'Refresh'),
      table('delivery-log', ['Created', 'Event', 'Status', 'Attempts', 'Last HTTP status', 'Last error', 'Delivered', 'Actions'],
        h('tbody', {}, r.data.map((d) => h('tr', { 'data-delivery': d.id, 'data-status': d.status },
          h('td', {}, when(d.created_at)), h('td', {}, d.event_type),
          h('td', { class: 'status-' + d.status, 'data-col': 'status' }, d.status), h('td', { 'data-col': 'attempts' }, d.attempts),
          h('td', {}, d.last_status ?? '—'), h('td', {}, d.last_error ?? ''), h('td', {}, when(d.delivered_at)),
          h('td', { class: 'actions' }, h('button', { type: 'button', 'data-action': 'redeliver', onclick: async () => {
            try { await api('POST', `webhooks/${id}/deliveries/${encodeURIComponent(d.id)}/redeliver`); toast('Queued again'); await showDeliveries(w); }
            catch (x) { err.textContent = x.message; }
          } }, 'Redeliver')))))));
  }
  async function reload() {
    try {
      const r = await api('GET', 'webhooks');
      err.textContent = '';
      tbody.replaceChildren(...r.data.map((w) => {
        const id = encodeURIComponent(w.id);
        return h('tr', { 'data-webhook': w.id },
          h('td', {}, h('code', {}, w.url)), h('td', {}, w.events.join(', ')), h('td', {}, w.description ?? ''),
          h('td', {}, w.account_id), h('td', {}, when(w.created_at)),
          h('td', { class: 'actions' },
            h('button', { type: 'button', 'data-action': 'test', onclick: async () => {
              try { await api('POST', `webhooks/${id}/test`); toast('Test delivery queued'); await showDeliveries(w); }
              catch (x) { err.textContent = x.message; }
            } }, 'Send test'),
            h('button', { type: 'button', 'data-action': 'deliveries', onclick: () => showDeliveries(w).catch((x) => { err.textContent = x.message; }) }, 'Deliveries'),
            h('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: async () => {
              if (!confirm('Delete the webhook to ' + w.url + '?')) return;
              try { await api('DELETE', `webhooks/${id}`); toast('Deleted'); log.replaceChildren(); await reload(); }
              catch (x) { err.textContent = x.message; }
            } }, 'Delete')));
      }));
    } catch (x) { err.textContent = x.message; }
  }
  const create = {
    url: h('input', { name: 'url', type: 'url', required: true, id: 'hook-url', placeholder: 'https://example.com/hooks/tollgate' }),
    events: h('input', { name: 'events', required: true, id: 'hook-events', value: '*', placeholder: 'key.created, alert.auth_failures' }),
    description: h('input', { name: 'description', id: 'hook-description' }),
  };
  const createErr = errorLine();
  root.append(h('h1', {}, 'Webhooks'), err,
    table('webhooks', ['URL', 'Events', 'Description', 'Account', 'Created', 'Actions'], tbody),
    h('details', { class: 'card' }, h('summary', {}, 'Register a webhook'),
      h('form', { id: 'create-webhook', onsubmit: async (e) => {
        e.preventDefault();
        const body = { url: create.url.value.trim(), events: list(create.events.value) };
        if (create.description.value.trim()) body.description = create.description.value.trim();
        try {
          const r = await api('POST', 'webhooks', body);
          createErr.textContent = '';
          showOnce('Webhook signing secret', r.secret, 'signing secret');
          await reload();
        } catch (x) { createErr.textContent = x.message; }
      } }, field('URL', create.url), field('Events (comma-separated, or *)', create.events),
      field('Description', create.description), createErr, h('button', { type: 'submit' }, 'Register'))),
    log);
  await reload();
}
