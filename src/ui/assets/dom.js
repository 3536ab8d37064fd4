// What every page shares: `h()` to build DOM nodes (text nodes only, so nothing
// from the API is ever parsed as HTML), `api()` for /ui/api with the CSRF token
// on every mutation, and small form and dialog helpers.

export const csrf = document.querySelector('meta[name="csrf-token"]').content;

const SVG = new Set(['svg', 'rect', 'text', 'line', 'g', 'title', 'polyline', 'path', 'circle']);

export function h(tag, attrs = {}, ...children) {
  const el = SVG.has(tag) ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// A 401 means the session is gone (expired, signed out, its key revoked): the
// page reloads, and the server renders the sign-in form.
export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch('/ui/api/' + path, opts);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.status === 401) { location.reload(); }
  if (!res.ok) throw new Error((data && data.error && data.error.message) || res.statusText);
  return data;
}

export function toast(msg) {
  document.getElementById('toast').textContent = msg;
}

let ids = 0;
export function field(label, input) {
  if (!input.id) input.id = 'f' + (++ids);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
}

export function select(name, options, value = '') {
  return h('select', { name }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}

export function when(ts) { return ts ? new Date(ts).toLocaleString() : '—'; }
export function list(s) { return s.split(',').map((x) => x.trim()).filter(Boolean); }
export function errorLine() { return h('p', { class: 'error', role: 'alert' }); }

export function table(id, columns, rows) {
  return h('div', { class: 'scroll' }, h('table', { id },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
    rows));
}

// A modal <dialog>: Escape closes it (the browser's own behaviour), focus moves
// into it, and back to what had it when it closes.
export function dialog(title, ...body) {
  const opener = document.activeElement;
  const d = h('dialog', { 'aria-label': title }, h('h2', {}, title), ...body);
  document.body.append(d);
  d.addEventListener('close', () => {
    d.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  d.showModal();
  return d;
}

// A dialog form's Submit and Cancel (Cancel, like Escape, closes its dialog).
export function buttons(submit) {
  return h('div', { class: 'row' }, h('button', { type: 'submit' }, submit),
    h('button', { type: 'button', class: 'secondary', onclick: (e) => e.target.closest('dialog').close() }, 'Cancel'));
}

// A secret shown once, with a copy button; the input is emptied when closed and
// the dialog removed, so the text is in the document only while it is open.
export function showOnce(title, secret, what = 'key') {
  const out = h('input', { readonly: true, value: secret, id: 'new-secret', class: 'secret', 'aria-label': 'New ' + what, spellcheck: 'false' });
  const copy = h('button', { type: 'button', id: 'copy-secret', onclick: async () => {
    try { await navigator.clipboard.writeText(secret); copy.textContent = 'Copied'; }
    catch { out.select(); copy.textContent = 'Select and copy'; }
  } }, 'Copy');
  const d = dialog(title,
    h('p', {}, `This ${what} is shown once. Copy it now; it cannot be shown again.`),
    h('div', { class: 'row' }, out, copy),
    h('form', { method: 'dialog' }, h('button', { id: 'close-secret' }, 'Done')));
  d.addEventListener('close', () => { out.value = ''; });
  copy.focus();
}
