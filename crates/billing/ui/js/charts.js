// Charts drawn as SVG from a report's series (no third-party code): grouped bars, one
// colour per series, the values printed above the bars for exactness.

import { h, money } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const COLOURS = ['#2f6fdf', '#e0803a', '#3aa76d', '#9b59b6', '#c0392b', '#7f8c8d'];

function el(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** A value as the report's unit says: money in its currency, counts and percentages plain. */
export function formatValue(value, unit, currency) {
  if (unit === 'minor_units' && currency) return money(value, currency);
  if (unit === 'percent') return `${value}%`;
  return String(value);
}

/** Grouped bars of `series` (each `{name, currency, points: [{label, value}]}`). */
export function barChart(report, { id, only } = {}) {
  const series = report.series.filter((s) => !only || only(s));
  const labels = series.length ? series[0].points.map((p) => p.label) : [];
  const width = 640;
  const height = 220;
  const top = 20;
  const bottom = 40;
  const left = 10;
  const values = series.flatMap((s) => s.points.map((p) => p.value));
  const max = Math.max(1, ...values.map((v) => Math.abs(v)));
  const groupWidth = (width - left * 2) / Math.max(1, labels.length);
  const barWidth = Math.max(4, (groupWidth - 8) / Math.max(1, series.length));
  const scale = (v) => (Math.abs(v) / max) * (height - top - bottom);
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', id: id || '',
    'aria-label': `${report.title}: ${series.map((s) => s.name).join(', ')}`,
  });
  svg.append(el('line', { x1: left, x2: width - left, y1: height - bottom, y2: height - bottom, stroke: '#999' }));
  labels.forEach((label, i) => {
    const x0 = left + i * groupWidth + 4;
    series.forEach((s, j) => {
      const v = s.points[i].value;
      const barHeight = scale(v);
      const x = x0 + j * barWidth;
      const y = height - bottom - barHeight;
      const bar = el('rect', { x, y, width: barWidth - 2, height: Math.max(barHeight, v ? 1 : 0), fill: COLOURS[j % COLOURS.length] });
      bar.append(el('title', {}, `${s.name} ${label}: ${formatValue(v, report.unit, s.currency)}`));
      svg.append(bar);
      if (v) svg.append(el('text', { x: x + (barWidth - 2) / 2, y: y - 3, 'text-anchor': 'middle', class: 'chart-value' }, formatValue(v, report.unit, s.currency).replace(/ [A-Z]{3}$/, '')));
    });
    svg.append(el('text', { x: x0 + (groupWidth - 8) / 2, y: height - bottom + 16, 'text-anchor': 'middle', class: 'chart-label' }, label));
  });
  const legend = h('div', { class: 'chart-legend' }, series.map((s, j) => h('span', { class: `legend-${j}` }, `■ ${s.name}`)));
  return h('figure', { class: 'chart-box' }, svg, legend);
}
