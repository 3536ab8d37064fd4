// Accounts: balances, credit (or debit) with a note, and the audit trail.

import { api, buttons, dialog, errorLine, field, h, table, toast, when } from './dom.js';

export async function render(root) {
  const tbody = h('tbody');
  const err = errorLine();
  const trail = h('div', { id: 'credits' });
  async function showCredits(a) {
    const r = await api('GET', 'accounts/' + encodeURIComponent(a.id) + '/credits');
    trail.replaceChildren(h('h2', {}, 'Balance changes: ' + a.id),
      table('credit-log', ['When', 'Amount', 'Balance after', 'By', 'Note'],
        h('tbody', {}, r.data.map((c) => h('tr', {}, h('td', {}, when(c.created_at)), h('td', {}, c.amount),
          h('td', {}, c.balance_after), h('td', {}, h('code', {}, c.actor)), h('td', {}, c.note))))));
  }
  function credit(a) {
    const amount = h('input', { name: 'amount', required: true, inputmode: 'decimal', placeholder: '25.00', id: 'credit-amount' });
    const note = h('input', { name: 'note', id: 'credit-note' });
    const e2 = errorLine();
    const d = dialog('Credit ' + a.id,
      h('form', { onsubmit: async (e) => {
        e.preventDefault();
        try { await api('POST', 'accounts/' + encodeURIComponent(a.id) + '/credit', { amount: amount.value, note: note.value }); d.close(); toast('Credited'); await reload(); await showCredits(a); }
        catch (x) { e2.textContent = x.message; }
      } }, field('Amount (negative to debit)', amount), field('Note', note), e2, buttons('Credit')));
    amount.focus();
  }
  async function reload() {
    try {
      const r = await api('GET', 'accounts');
      tbody.replaceChildren(...r.data.map((a) => h('tr', { 'data-account': a.id },
        h('td', {}, h('code', {}, a.id)), h('td', {}, a.name), h('td', {}, a.disabled ? 'disabled' : 'active'),
        h('td', {}, a.billing_mode ?? '—'), h('td', { class: 'balance' }, a.balance != null ? `${a.balance} ${a.currency}` : '—'),
        h('td', { class: 'actions' },
          h('button', { type: 'button', 'data-action': 'credit', onclick: () => credit(a) }, 'Credit'),
          h('button', { type: 'button', 'data-action': 'trail', onclick: () => showCredits(a).catch((x) => { err.textContent = x.message; }) }, 'Audit trail')))));
    } catch (x) { err.textContent = x.message; }
  }
  root.append(h('h1', {}, 'Accounts'), err,
    table('accounts', ['Id', 'Name', 'Status', 'Billing', 'Balance', 'Actions'], tbody), trail);
  await reload();
}
