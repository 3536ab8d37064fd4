// Usage: totals, a time series per metric (hourly, daily for 30 days) and a
// breakdown by key / model / provider / status, for a picked range. Every number
// is /admin/usage's, read from two reports over the same window.

import { api, errorLine, field, h, select, when } from './dom.js';
import { barChart, seriesChart } from './charts.js';

export const METRICS = [
  ['requests', 'Requests', (t) => t.requests],
  ['error_rate', 'Error rate (%)', (t) => Math.round(t.error_rate * 1000) / 10],
  ['auth_failures', 'Auth failures', (t) => t.auth_failures],
  ['tokens', 'Tokens (in + out)', (t) => t.input_tokens + t.output_tokens],
  ['cost_usd', 'Spend (USD)', (t) => t.cost_usd],
];

const RANGES = [['1', 'last hour'], ['24', 'last 24 hours'], ['168', 'last 7 days'], ['720', 'last 30 days']];
const HOUR = 3600e3;

export async function render(root) {
  const range = select('range', RANGES, '24');
  range.id = 'range';
  const by = select('group_by', [['model', 'by model'], ['key', 'by key'], ['provider', 'by provider'], ['status', 'by status']], 'model');
  by.id = 'group-by';
  const metric = select('metric', METRICS.map(([k, l]) => [k, l]), 'requests');
  metric.id = 'metric';
  const out = h('div', { id: 'usage-out' });
  const err = errorLine();
  async function reload() {
    const hours = Number(range.value);
    const to = new Date();
    const from = new Date(to.getTime() - hours * HOUR);
    const bucket = hours > 168 ? 'day' : 'hour';
    const q = (g) => 'usage?' + new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), group_by: g });
    try {
      const [series, split] = await Promise.all([api('GET', q(bucket)), api('GET', q(by.value))]);
      err.textContent = '';
      const [, label, pick] = METRICS.find(([k]) => k === metric.value);
      const t = series.totals;
      const bucketMs = bucket === 'day' ? 24 * HOUR : HOUR;
      out.replaceChildren(
        h('dl', { class: 'totals', id: 'totals' },
          METRICS.map(([k, l, p]) => h('div', { 'data-metric': k }, h('dt', {}, l), h('dd', {}, String(p(t)))))),
        h('p', { class: 'hint' }, `From ${when(series.from)} to ${when(series.to)}, per ${bucket}`),
        h('h2', {}, 'Over time'),
        h('div', { class: 'series-grid', id: 'series', 'data-from': series.from, 'data-to': series.to, 'data-bucket': bucket },
          METRICS.map(([k, l, p]) => h('figure', {},
            h('figcaption', {}, l),
            seriesChart(k, `${l} per ${bucket}`, series.from, series.to, bucketMs,
              series.groups.map((g) => ({ t: g.key, value: p(g) })))))),
        h('h2', {}, `${label} ${by.options[by.selectedIndex].text}`),
        barChart('usage-chart', `${label} ${by.options[by.selectedIndex].text}`,
          split.groups.map((g) => ({ label: g.key, value: pick(g) }))));
    } catch (x) { err.textContent = x.message; }
  }
  for (const el of [range, by, metric]) el.addEventListener('change', reload);
  root.append(h('h1', {}, 'Usage'),
    h('form', { class: 'filters', id: 'usage-form', 'aria-label': 'Usage range', onsubmit: (e) => { e.preventDefault(); reload(); } },
      field('Range', range), field('Breakdown', by), field('Metric', metric), h('button', { type: 'submit' }, 'Refresh')),
    err, out);
  await reload();
}
