// The first screen: is anything on fire?

import { get } from '../api.js';
import { barChart, formatValue } from '../charts.js';
import { badge, countText, h, page, table, when } from '../dom.js';

/** One chart with its title and a CSV link; the data is the report endpoint's answer. */
function chart(name, report, options) {
  return h('div', { class: 'card', id: `report-${name}` },
    h('h3', {}, report.title),
    report.series.length ? barChart(report, { id: `chart-${name}`, ...options }) : h('p', { class: 'empty' }, 'Nothing yet.'),
    h('a', { href: `/api/v1/reports/${name}?format=csv`, download: `${name}.csv`, class: 'csv' }, 'CSV'));
}

function stat(label, value, href, id) {
  return h('a', { class: 'stat', href, id },
    h('div', { class: 'value' }, String(value)), h('div', { class: 'label' }, label));
}

/** Servers, accounts, stuck jobs, failing emails and open invoices at a glance. */
export async function dashboard(ctx) {
  const [servers, accounts, failed, dead, emails, invoices, mrr, revenue, services, overdue, utilisation] = await Promise.all([
    // Servers are the admins' alone.
    ctx.admin ? get('/api/v1/nextpanel/servers/status') : null,
    // Kept per type as accounts change, so exact and cheap at any size.
    get('/api/v1/nextpanel/accounts/counts/by-role'),
    get('/api/v1/jobs?state=failed&per_page=1'),
    get('/api/v1/jobs?state=dead&per_page=1'),
    get('/api/v1/emails?state=failed&per_page=1'),
    get('/api/v1/invoices?status=open&per_page=1'),
    get('/api/v1/reports/mrr'),
    get('/api/v1/reports/revenue'),
    get('/api/v1/reports/services'),
    get('/api/v1/reports/overdue'),
    get('/api/v1/reports/utilisation'),
  ]);
  const overdueMoney = overdue.series.filter((s) => s.currency);
  const overdueText = overdueMoney.length
    ? overdueMoney.map((s) => formatValue(s.points[0].value, overdue.unit, s.currency)).join(', ')
    : 'nothing';
  const online = servers && servers.filter((s) => s.status === 'online').length;
  return page('Dashboard',
    h('div', { class: 'cards' },
      servers ? stat('servers online', `${online} / ${servers.length}`, '#/servers', 'stat-servers') : null,
      stat('live hosting accounts', Object.values(accounts).reduce((a, b) => a + b, 0), '#/accounts', 'stat-accounts'),
      stat('jobs that gave up', failed.total !== null && dead.total !== null ? failed.total + dead.total : countText(failed.total === null ? failed : dead), '#/jobs', 'stat-jobs'),
      stat('emails failing', countText(emails), '#/emails', 'stat-emails'),
      stat('open invoices', countText(invoices), '#/invoices', 'stat-invoices'),
      stat('overdue', overdueText, '#/invoices?status=open', 'stat-overdue')),
    h('h2', {}, 'Revenue and growth'),
    h('div', { class: 'charts' },
      chart('mrr', mrr),
      chart('revenue', revenue),
      chart('services', services),
      chart('utilisation', utilisation, { only: (s) => s.name === 'percent used' })),
    servers ? h('h2', {}, 'Servers') : null,
    servers ? table([
      { label: 'Name', value: (s) => h('a', { href: `#/servers/${s.id}` }, s.name) },
      { label: 'Status', value: (s) => badge(s.status) },
      { label: 'Accounts', value: (s) => `${s.current_accounts} / ${s.capacity}`, num: true },
      { label: 'Used', value: (s) => `${s.utilization_percent}%`, num: true },
      { label: 'Latency', value: (s) => (s.last_latency_ms === null ? '—' : `${s.last_latency_ms} ms`), num: true },
      { label: 'Checked', value: (s) => when(s.last_checked_at) },
      { label: 'Last error', value: (s) => s.last_error || '' },
    ], servers, 'No servers yet. Add one under Servers.') : null);
}
