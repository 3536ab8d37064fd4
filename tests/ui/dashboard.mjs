// Drives the /ui dashboard in Debian's headless Chromium (playwright-core, no
// browser download). Run by tests/api/ui.rs, which starts the gateway and checks
// the summary this prints as its last stdout line against the API.
//
// Env: TOLLGATE_BASE (http://127.0.0.1:port), TOLLGATE_ADMIN_KEY, TOLLGATE_SHOTS (dir),
// TOLLGATE_HOOK_URL (a webhook receiver), TOLLGATE_USER_ID (a registered end user).

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.TOLLGATE_BASE;
const adminKey = process.env.TOLLGATE_ADMIN_KEY;
const shots = process.env.TOLLGATE_SHOTS;
const hookUrl = process.env.TOLLGATE_HOOK_URL;
const userId = process.env.TOLLGATE_USER_ID;
if (!base || !adminKey || !shots || !hookUrl || !userId) {
  throw new Error('TOLLGATE_BASE, TOLLGATE_ADMIN_KEY, TOLLGATE_SHOTS, TOLLGATE_HOOK_URL and TOLLGATE_USER_ID are required');
}
mkdirSync(shots, { recursive: true });

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for: ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function chat(key) {
  const res = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the dashboard test' }] }),
  });
  const body = await res.json();
  return { status: res.status, code: body.error ? body.error.code : null };
}

const profile = mkdtempSync(join(tmpdir(), 'tollgate-ui-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
const summary = { csp_violations: [], unlabelled: {} };

// Form controls with neither a <label> nor an aria-label.
function unlabelled(page) {
  return page.$$eval('input, select, textarea', (els) => els
    .filter((el) => !el.hidden && el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.name || el.id || el.tagName));
}
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) summary.csp_violations.push(m.text());
  });
  page.on('pageerror', (e) => { throw e; });
  page.on('dialog', (d) => d.accept());

  // Sign in.
  await page.goto(base + '/ui');
  await page.waitForSelector('#sign-in:not([hidden])');
  await page.screenshot({ path: join(shots, 'sign-in.png') });
  summary.unlabelled.sign_in = await unlabelled(page);
  // Keyboard: the first Tab stop is the skip link, the key field has a label.
  check(await page.getAttribute('label[for="mk"]', 'for') === 'mk', 'the key field is labelled');
  await page.fill('#mk', adminKey);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#page[data-ready="keys"]');
  summary.signed_in = true;
  summary.document_cookie = await page.evaluate(() => document.cookie);
  summary.storage_entries = await page.evaluate(() => localStorage.length + sessionStorage.length);
  summary.page_has_admin_key = (await page.content()).includes(adminKey);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'tollgate_session');
  summary.cookie = session && { httpOnly: session.httpOnly, secure: session.secure, sameSite: session.sameSite, path: session.path };

  // Create a key through the show-once dialog.
  await page.click('#create-key >> xpath=.. >> summary');
  await page.fill('#new-name', 'browser-key');
  await page.click('#create-key button[type="submit"]');
  await page.waitForSelector('dialog[open] #new-secret');
  const key = await page.inputValue('#new-secret');
  check(key.includes('_sk_'), 'a plaintext sk key is shown: ' + key.slice(0, 8));
  await page.screenshot({ path: join(shots, 'key-created.png') });
  await page.click('#close-secret');
  await page.waitForSelector('dialog', { state: 'detached' });
  summary.key_shown_after_close = (await page.content()).includes(key);
  summary.kid = key.split('_')[3];
  const row = `tr[data-kid="${summary.kid}"]`;
  await page.waitForSelector(row);

  summary.chat_before = await chat(key);

  // Filters: name narrows the list to the new key.
  await page.fill('#filter-name', 'browser-key');
  await page.click('#key-filters button[type="submit"]');
  await until('the name filter', async () => (await page.$$('#keys tbody tr')).length === 1);
  await page.screenshot({ path: join(shots, 'keys.png') });

  // Keyboard: Enter on Edit opens the dialog with focus inside it, Escape closes
  // it, and focus is back on the Edit button.
  await page.focus(`${row} button[data-action="edit"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open] #edit-form');
  const inDialog = await page.evaluate(() => {
    const a = document.activeElement;
    return { inside: !!a.closest('dialog'), label: a.labels && a.labels[0] ? a.labels[0].textContent : null };
  });
  await page.keyboard.press('Tab');
  const tabbedInside = await page.evaluate(() => !!document.activeElement.closest('dialog'));
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
  summary.keyboard = {
    ...inDialog,
    tab_stays_inside: tabbedInside,
    focus_back_on: await page.evaluate(() => document.activeElement.dataset.action || document.activeElement.tagName),
  };

  // Edit the policy through the dialog.
  await page.click(`${row} button[data-action="edit"]`);
  await page.waitForSelector('dialog[open] #edit-form');
  await page.fill('#edit-form input[name="scopes"]', 'chat, embeddings');
  await page.fill('#edit-form input[name="rl_requests"]', '100');
  await page.selectOption('#edit-form select[name="rl_period"]', 'minute');
  await page.fill('#edit-form input[name="ip_allowlist"]', '127.0.0.1/32');
  await page.fill('#edit-form input[name="allowed_models"]', 'gpt-4o-mini');
  await page.fill('#edit-form input[name="expires_at"]', '2099-01-31T12:00');
  await page.screenshot({ path: join(shots, 'key-edit.png') });
  await page.click('#edit-form button[type="submit"]');
  await page.waitForSelector('dialog', { state: 'detached' });
  await until('the edited policy', async () => ((await page.textContent(`${row} td[data-col="policy"]`)) || '').includes('100/minute'));
  summary.policy_cell = await page.textContent(`${row} td[data-col="policy"]`);
  summary.expires_local = await page.evaluate(() => new Date('2099-01-31T12:00').toISOString());

  // Rotate with an hour of grace: both the old and the new secret work.
  await page.click(`${row} button[data-action="rotate"]`);
  await page.waitForSelector('dialog[open] #rotate-form');
  await page.fill('#rotate-grace', '3600');
  await page.click('#rotate-form button[type="submit"]');
  await page.waitForSelector('dialog[open] #new-secret');
  const rotated = await page.inputValue('#new-secret');
  check(rotated !== key && rotated.includes(summary.kid), 'the rotated key is new and keeps its kid');
  await page.screenshot({ path: join(shots, 'key-rotated.png') });
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
  summary.rotated_shown_after_close = (await page.content()).includes(rotated);
  summary.chat_old_in_grace = await chat(key);
  summary.chat_new = await chat(rotated);

  // Revoke it from the list: both secrets stop.
  await page.click(`${row} button[data-action="revoke"]`);
  await until('the revoked status', async () => (await page.textContent(`${row} td[data-col="status"]`)) === 'revoked');
  summary.chat_after = await chat(rotated);

  // Usage: totals and a time series per metric over the picked range, then a
  // breakdown by model; wait until the four requests are in the report.
  await page.click('#nav a[data-page="usage"]');
  await page.waitForSelector('#page[data-ready="usage"]');
  await page.selectOption('#range', '24');
  await page.selectOption('#group-by', 'model');
  await page.selectOption('#metric', 'requests');
  const usage = await until('four requests in the usage page', async () => {
    await page.click('#usage-form button[type="submit"]');
    await page.waitForSelector('#usage-chart');
    const total = Number(await page.textContent('#totals [data-metric="requests"] dd'));
    if (total < 4) return null;
    return page.evaluate(() => {
      const s = document.getElementById('series');
      const series = {};
      for (const svg of s.querySelectorAll('svg.series')) {
        series[svg.dataset.metric] = [...svg.querySelectorAll('g.point')].map((g) => ({ t: g.dataset.t, value: g.dataset.value }));
      }
      const totals = {};
      for (const d of document.querySelectorAll('#totals [data-metric]')) totals[d.dataset.metric] = d.querySelector('dd').textContent;
      const bars = [...document.querySelectorAll('#usage-chart g.bar')].map((g) => ({ label: g.dataset.label, value: Number(g.dataset.value) }));
      return { from: s.dataset.from, to: s.dataset.to, bucket: s.dataset.bucket, series, totals, bars };
    });
  });
  summary.usage = usage;
  summary.usage_by_model = usage.bars;
  summary.usage_total_requests = Number(usage.totals.requests);
  summary.usage_total_auth_failures = Number(usage.totals.auth_failures);
  await page.screenshot({ path: join(shots, 'usage.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(shots, 'usage-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  summary.unlabelled.usage = await unlabelled(page);

  // Accounts: credit the default account and read the audit trail.
  await page.click('#nav a[data-page="accounts"]');
  await page.waitForSelector('#page[data-ready="accounts"]');
  await page.click('tr[data-account="default"] button[data-action="credit"]');
  await page.fill('#credit-amount', '12.50');
  await page.fill('#credit-note', 'browser credit');
  await page.click('dialog[open] button[type="submit"]');
  await page.waitForSelector('#credits td:text("browser credit")');
  summary.credit_row = await page.$$eval('#credits tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await page.screenshot({ path: join(shots, 'accounts.png'), fullPage: true });

  // End users: disable the one registered user.
  await page.click('#nav a[data-page="users"]');
  await page.waitForSelector('#page[data-ready="users"]');
  summary.users_listed = await page.$$eval('#users tbody tr[data-user]', (rows) => rows.map((r) => r.dataset.user));
  await page.click(`tr[data-user="${userId}"] button[data-action="disable"]`);
  await until('the disabled user', async () => (await page.textContent(`tr[data-user="${userId}"] td[data-col="status"]`)) === 'disabled');
  await page.screenshot({ path: join(shots, 'users.png'), fullPage: true });
  summary.unlabelled.users = await unlabelled(page);

  // Webhooks: register (secret shown once), send a test, watch it delivered,
  // redeliver it, then delete the webhook.
  await page.click('#nav a[data-page="webhooks"]');
  await page.waitForSelector('#page[data-ready="webhooks"]');
  await page.click('#create-webhook >> xpath=.. >> summary');
  await page.fill('#hook-url', hookUrl);
  await page.fill('#hook-events', 'webhook.test');
  await page.fill('#hook-description', 'browser hook');
  await page.click('#create-webhook button[type="submit"]');
  await page.waitForSelector('dialog[open] #new-secret');
  summary.webhook_secret = await page.inputValue('#new-secret');
  await page.screenshot({ path: join(shots, 'webhook-secret.png') });
  await page.click('#close-secret');
  await page.waitForSelector('dialog', { state: 'detached' });
  summary.secret_shown_after_close = (await page.content()).includes(summary.webhook_secret);
  const hook = await page.waitForSelector('#webhooks tr[data-webhook]');
  summary.webhook_id = await hook.getAttribute('data-webhook');
  await page.click('#webhooks button[data-action="test"]');
  const delivered = async (attempts) => until(`a delivered test (attempts ${attempts})`, async () => {
    await page.click('#refresh-deliveries');
    const r = await page.$('#delivery-log tr[data-status="delivered"]');
    if (!r) return null;
    const n = await r.$eval('td[data-col="attempts"]', (c) => c.textContent);
    return n === String(attempts) ? r.getAttribute('data-delivery') : null;
  });
  summary.delivery_id = await delivered(1);
  await page.click(`#delivery-log tr[data-delivery="${summary.delivery_id}"] button[data-action="redeliver"]`);
  await delivered(2);
  await page.screenshot({ path: join(shots, 'webhooks.png'), fullPage: true });
  summary.unlabelled.webhooks = await unlabelled(page);
  await page.click(`#webhooks tr[data-webhook="${summary.webhook_id}"] button[data-action="delete"]`);
  await page.waitForSelector(`#webhooks tr[data-webhook="${summary.webhook_id}"]`, { state: 'detached' });

  // Alerts: all of them, then filtered by type and by key.
  await page.click('#nav a[data-page="alerts"]');
  await page.waitForSelector('#page[data-ready="alerts"]');
  const alertTypes = () => page.$$eval('#alerts tr[data-alert]', (rows) => rows.map((r) => r.dataset.type));
  summary.alerts_all = await alertTypes();
  await page.selectOption('#alert-type', 'alert.auth_failures');
  await until('the type filter', async () => (await alertTypes()).every((t) => t === 'alert.auth_failures'));
  summary.alerts_by_type = await alertTypes();
  await page.selectOption('#alert-type', '');
  await page.fill('#alert-key', 'k2');
  await page.click('#alert-filters button[type="submit"]');
  await until('the key filter', async () => { const t = await alertTypes(); return t.length === 1 && t[0] === 'alert.new_ip'; });
  summary.alerts_by_key = await alertTypes();
  await page.fill('#alert-key', '');
  await page.click('#alert-filters button[type="submit"]');
  await until('all alerts again', async () => (await alertTypes()).length === summary.alerts_all.length);
  await page.screenshot({ path: join(shots, 'alerts.png'), fullPage: true });
  summary.unlabelled.alerts = await unlabelled(page);

  // Providers' health.
  await page.click('#nav a[data-page="providers"]');
  await page.waitForSelector('#page[data-ready="providers"]');
  summary.deployments = await page.$$eval('section[data-provider] tr[data-deployment]', (rows) => rows.map((r) => ({
    provider: r.closest('section').dataset.provider, name: r.dataset.deployment, health: r.dataset.health,
    recent: Number(r.querySelector('td[data-col="recent"]').textContent),
  })));
  await page.screenshot({ path: join(shots, 'providers.png'), fullPage: true });

  // Phone width: the keys page still fits without horizontal page scroll.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#nav a[data-page="keys"]');
  await page.waitForSelector('#page[data-ready="keys"]');
  summary.unlabelled.keys = await unlabelled(page);
  summary.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.screenshot({ path: join(shots, 'keys-phone.png') });
  await page.click('#nav a[data-page="usage"]');
  await page.waitForSelector('#page[data-ready="usage"]');
  summary.phone_overflow_usage = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.screenshot({ path: join(shots, 'usage-phone.png'), fullPage: true });

  // Sign out: back to the sign-in form, the cookie no longer works.
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in:not([hidden])');
  const after = await page.evaluate(async () => (await fetch('/ui/api/keys')).status);
  summary.api_after_sign_out = after;
} catch (e) {
  const page = context.pages()[0];
  if (page) {
    await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    const errors = await page.$$eval('.error', (es) => es.map((x) => x.textContent).filter(Boolean)).catch(() => []);
    console.error('page errors:', JSON.stringify(errors), 'summary so far:', JSON.stringify(summary));
  }
  throw e;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(summary));
