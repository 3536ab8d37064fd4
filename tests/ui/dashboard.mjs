// Drives the /ui dashboard in Debian's headless Chromium (playwright-core, no
// browser download). Run by tests/api/ui.rs, which starts the gateway and checks
// the summary this prints as its last stdout line against the API.
//
// Env: TOLLGATE_BASE (http://127.0.0.1:port), TOLLGATE_ADMIN_KEY, TOLLGATE_SHOTS (dir).

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.TOLLGATE_BASE;
const adminKey = process.env.TOLLGATE_ADMIN_KEY;
const shots = process.env.TOLLGATE_SHOTS;
if (!base || !adminKey || !shots) throw new Error('TOLLGATE_BASE, TOLLGATE_ADMIN_KEY and TOLLGATE_SHOTS are required');
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
const summary = { csp_violations: [] };
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
  await page.click('summary');
  await page.fill('#new-name', 'browser-key');
  await page.click('#create-key button[type="submit"]');
  await page.waitForSelector('dialog[open] #new-key');
  const key = await page.inputValue('#new-key');
  check(key.includes('_sk_'), 'a plaintext sk key is shown: ' + key.slice(0, 8));
  await page.screenshot({ path: join(shots, 'key-created.png') });
  await page.click('#close-key');
  await page.waitForSelector('dialog', { state: 'detached' });
  summary.key_shown_after_close = (await page.content()).includes(key);
  summary.kid = key.split('_')[3];
  await page.waitForSelector(`tr[data-kid="${summary.kid}"]`);

  summary.chat_before = await chat(key);

  // Filters: name narrows the list to the new key.
  await page.fill('input[name="name"][type="search"]', 'browser-key');
  await page.click('form.filters button[type="submit"]');
  await until('the name filter', async () => (await page.$$('#keys tbody tr')).length === 1);
  await page.screenshot({ path: join(shots, 'keys.png') });

  // Revoke it from the list.
  await page.click(`tr[data-kid="${summary.kid}"] button[data-action="revoke"]`);
  await until('the revoked status', async () => (await page.textContent(`tr[data-kid="${summary.kid}"] td:nth-child(5)`)) === 'revoked');
  summary.chat_after = await chat(key);

  // Usage by model: wait until both requests are in the report, then read the chart.
  await page.click('#nav a[data-page="usage"]');
  await page.waitForSelector('#page[data-ready="usage"]');
  await page.selectOption('#group-by', 'model');
  await page.selectOption('#metric', 'requests');
  const bars = await until('two requests in the usage chart', async () => {
    await page.click('form.filters button[type="submit"]');
    await page.waitForSelector('#usage-chart');
    const b = await page.$$eval('#usage-chart g.bar', (gs) => gs.map((g) => ({ label: g.dataset.label, value: Number(g.dataset.value) })));
    const total = Number(await page.textContent('#totals [data-metric="requests"] dd'));
    return total >= 2 ? { bars: b, total } : null;
  });
  summary.usage_by_model = bars.bars;
  summary.usage_total_requests = bars.total;
  summary.usage_total_auth_failures = Number(await page.textContent('#totals [data-metric="auth_failures"] dd'));
  await page.screenshot({ path: join(shots, 'usage.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(shots, 'usage-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  // Accounts: credit the default account and read the audit trail.
  await page.click('#nav a[data-page="accounts"]');
  await page.waitForSelector('#page[data-ready="accounts"]');
  await page.click('tr[data-account="default"] button:text("Credit")');
  await page.fill('#credit-amount', '12.50');
  await page.fill('#credit-note', 'browser credit');
  await page.click('dialog[open] button[type="submit"]');
  await page.waitForSelector('#credits td:text("browser credit")');
  summary.credit_row = await page.$$eval('#credits tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  await page.screenshot({ path: join(shots, 'accounts.png'), fullPage: true });

  // Phone width: the keys page still fits without horizontal page scroll.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#nav a[data-page="keys"]');
  await page.waitForSelector('#page[data-ready="keys"]');
  summary.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.screenshot({ path: join(shots, 'keys-phone.png'), fullPage: true });

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
