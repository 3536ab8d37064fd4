// Tollgate dashboard shell: sign-in, navigation, routing by `#page`. ES modules,
// no build step, no inline script or style (the CSP forbids both). The
// management key is sent once, to POST /ui/session, and then dropped: the
// session is an HttpOnly cookie, and mutations carry the CSRF token from the
// page's meta tag (see dom.js).
//
// A page is one module exporting `render(root)` and one entry in PAGES.

import { csrf, h } from './dom.js';
import * as keys from './keys.js';
import * as usage from './usage.js';
import * as accounts from './accounts.js';
import * as users from './users.js';
import * as webhooks from './webhooks.js';
import * as alerts from './alerts.js';
import * as providers from './providers.js';

const PAGES = {
  keys: { title: 'Keys', render: keys.render },
  usage: { title: 'Usage', render: usage.render },
  accounts: { title: 'Accounts', render: accounts.render },
  users: { title: 'End users', render: users.render },
  webhooks: { title: 'Webhooks', render: webhooks.render },
  alerts: { title: 'Alerts', render: alerts.render },
  providers: { title: 'Providers', render: providers.render },
};

async function route() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : 'keys';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const root = document.getElementById('page');
  root.replaceChildren();
  root.removeAttribute('data-ready');
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
