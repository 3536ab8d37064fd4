// Charts as SVG built by this script (no library, no inline script or style):
// every mark carries its number in `data-value` and a <title>, so what is read
// off a chart is exactly what the API answered.

import { h } from './dom.js';

// Horizontal bars, one per group, each labelled with its value.
export function barChart(id, title, rows) {
  const w = 640, barH = 22, gap = 6, labelW = 200, pad = 4;
  const max = Math.max(1, ...rows.map((r) => Number(r.value)));
  const height = Math.max(1, rows.length) * (barH + gap) + pad * 2;
  const svg = h('svg', { id, class: 'chart', viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': title, width: '100%' },
    h('title', {}, title));
  rows.forEach((r, i) => {
    const y = pad + i * (barH + gap);
    const bw = Math.max(1, ((w - labelW - 90) * Number(r.value)) / max);
    svg.append(h('g', { class: 'bar', 'data-label': r.label, 'data-value': r.value },
      h('text', { x: labelW - 6, y: y + barH * 0.7, 'text-anchor': 'end', class: 'label' }, r.label || '(none)'),
      h('rect', { x: labelW, y, width: bw, height: barH, rx: 3 }),
      h('text', { x: labelW + bw + 6, y: y + barH * 0.7, class: 'value' }, String(r.value))));
  });
  if (!rows.length) svg.append(h('text', { x: 10, y: 20, class: 'label' }, 'No usage in this range'));
  return svg;
}

// An axis end: the date for long ranges, the time for an hour or two, both between.
function short(ms, spanMs) {
  const d = new Date(ms);
  if (spanMs > 2 * 86400e3) return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  if (spanMs <= 2 * 3600e3) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// A time series: one column per bucket at its place between `from` and `to`
// (empty buckets stay empty), a y-axis top label and the range's ends below.
export function seriesChart(metric, title, fromIso, toIso, bucketMs, points) {
  const w = 640, hgt = 150, left = 56, right = 8, top = 10, bottom = 22;
  const from = Date.parse(fromIso), to = Date.parse(toIso);
  const span = Math.max(bucketMs, to - from);
  const plotW = w - left - right, plotH = hgt - top - bottom;
  const max = Math.max(0, ...points.map((p) => Number(p.value)));
  const scale = max > 0 ? max : 1;
  const colW = Math.max(1, (plotW * bucketMs) / span - 1);
  const svg = h('svg', { class: 'chart series', 'data-metric': metric, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': title, width: '100%' },
    h('title', {}, title),
    h('line', { x1: left, y1: top + plotH, x2: w - right, y2: top + plotH, class: 'axis' }),
    h('line', { x1: left, y1: top, x2: left, y2: top + plotH, class: 'axis' }),
    h('text', { x: left - 4, y: top + 10, 'text-anchor': 'end', class: 'tick' }, String(max)),
    h('text', { x: left - 4, y: top + plotH, 'text-anchor': 'end', class: 'tick' }, '0'),
    h('text', { x: left, y: hgt - 6, class: 'tick' }, short(from, span)),
    h('text', { x: w - right, y: hgt - 6, 'text-anchor': 'end', class: 'tick' }, short(to, span)));
  for (const p of points) {
    const t = Date.parse(p.t);
    const x = left + (plotW * (t - from)) / span;
    const ph = Math.max(Number(p.value) > 0 ? 2 : 0, (plotH * Number(p.value)) / scale);
    svg.append(h('g', { class: 'point', 'data-t': p.t, 'data-value': p.value },
      h('title', {}, `${new Date(t).toLocaleString()}: ${p.value}`),
      h('rect', { x, y: top + plotH - ph, width: colW, height: ph })));
  }
  if (!points.length) svg.append(h('text', { x: left + 10, y: top + 20, class: 'label' }, 'No usage in this range'));
  return svg;
}
