// NextPanel servers: the fleet, adding one (with a connection test first), editing,
// health checks, taking one out of rotation and removing it.

import { del, get, patch, post } from '../api.js';
import { alert, badge, button, facts, form, h, invalid, page, table, when } from '../dom.js';

function status(s) {
  if (!s.is_active) return badge('disabled');
  return badge(s.is_online ? 'online' : 'offline');
}

/** The fleet. */
export async function servers() {
  const list = await get('/api/v1/nextpanel/servers');
  const rows = Array.isArray(list) ? list : list.items;
  return page('Servers',
    h('div', { class: 'actions' }, h('a', { href: '#/servers/new' }, h('button', { type: 'button' }, 'Add server'))),
    table([
      { label: 'Name', value: (s) => h('a', { href: `#/servers/${s.id}` }, s.name) },
      { label: 'URL', value: (s) => h('span', { class: 'mono' }, s.base_url) },
      { label: 'Location', value: (s) => s.location || '—' },
      { label: 'Status', value: status },
      { label: 'Accounts', value: (s) => `${s.current_accounts} / ${s.capacity}`, num: true },
      { label: 'Latency', value: (s) => (s.last_latency_ms === null ? '—' : `${s.last_latency_ms} ms`), num: true },
      { label: 'Last error', value: (s) => s.last_error || '' },
    ], rows, 'No servers yet: add the first NextPanel server to start provisioning.'));
}

function capacity(v) {
  if (!/^\d+$/.test(v.capacity || '')) throw invalid('capacity', 'Capacity must be a whole number of accounts.');
  return Number(v.capacity);
}

function testResult(r) {
  if (r.success) {
    return alert('ok', `Connected in ${r.latency_ms} ms: NextPanel ${r.version || '?'}`,
      r.extensions && r.extensions.length ? `, extensions: ${r.extensions.join(', ')}` : ', no extensions (baseline API)', '.');
  }
  return alert('error', `Connection failed (${r.kind}): ${r.message}`);
}

/** Adds a server; "Test connection" tries the credentials without saving them. */
export async function newServer(ctx) {
  const result = h('div', { id: 'test-result' });
  const fields = [
    { name: 'name', label: 'Name', placeholder: 'web-01' },
    { name: 'base_url', label: 'Base URL', placeholder: 'https://panel.example.com', help: 'The NextPanel address, without /api.' },
    { name: 'api_key', label: 'API key' },
    { name: 'api_secret', label: 'API secret', type: 'password', help: 'Stored encrypted; never shown again.' },
    { name: 'capacity', label: 'Capacity (accounts)', value: '100' },
    { name: 'location', label: 'Location (optional)', placeholder: 'fra1' },
    { name: 'group', label: 'Group (optional)', help: 'Plans can be pinned to a group.' },
  ];
  const body = (v) => ({
    name: v.name, base_url: v.base_url, api_key: v.api_key, api_secret: v.api_secret,
    capacity: capacity(v), location: v.location || null, group: v.group || null,
  });
  const f = form({
    id: 'server-form',
    submit: 'Add server',
    fields,
    onSubmit: async (v) => {
      const s = await post('/api/v1/nextpanel/servers', body(v));
      ctx.flash('ok', `Server ${s.name} added (${s.is_online ? 'online' : 'not reachable yet'}).`);
      ctx.go(`#/servers/${s.id}`);
    },
  });
  const tester = button('Test connection', async () => {
    const v = Object.fromEntries(new FormData(f).entries());
    result.replaceChildren(h('p', { class: 'muted' }, 'Testing…'));
    try {
      result.replaceChildren(testResult(await post('/api/v1/nextpanel/servers/test',
        { name: v.name || null, base_url: v.base_url.trim(), api_key: v.api_key.trim(), api_secret: v.api_secret })));
    } catch (e) {
      result.replaceChildren(alert('error', e.message));
    }
  }, { cls: 'secondary' });
  f.lastElementChild.prepend(tester, ' ');
  return page('Add a server', h('div', { class: 'card' }, result, f));
}

/** One server: health, capacity, edits, and taking it out of rotation. */
export async function server(ctx) {
  const id = ctx.params.id;
  const s = await get(`/api/v1/nextpanel/servers/${id}`);
  const out = h('div', {});
  const edit = form({
    id: 'server-edit-form',
    submit: 'Save changes',
    fields: [
      { name: 'name', label: 'Name', value: s.name },
      { name: 'base_url', label: 'Base URL', value: s.base_url },
      { name: 'capacity', label: 'Capacity (accounts)', value: String(s.capacity) },
      { name: 'location', label: 'Location', value: s.location || '' },
      { name: 'group', label: 'Group', value: s.group || '' },
      { name: 'api_key', label: 'New API key', help: 'Leave empty to keep the current one.' },
      { name: 'api_secret', label: 'New API secret', type: 'password', help: 'Leave empty to keep the current one.' },
    ],
    onSubmit: async (v) => {
      const body = { name: v.name, base_url: v.base_url, capacity: capacity(v), location: v.location || null, group: v.group || null };
      if (v.api_key) body.api_key = v.api_key;
      if (v.api_secret) body.api_secret = v.api_secret;
      await patch(`/api/v1/nextpanel/servers/${id}`, body);
      ctx.redraw('Server saved.');
    },
  });
  return page(`Server ${s.name}`,
    out,
    h('div', { class: 'card' }, facts([
      ['Status', status(s)],
      ['URL', h('span', { class: 'mono' }, s.base_url)],
      ['API key', h('span', { class: 'mono' }, s.api_key)],
      ['Accounts', `${s.current_accounts} of ${s.capacity} (${s.utilization_percent}% used, ${s.available_slots} free)`],
      ['Location', s.location], ['Group', s.group],
      ['NextPanel version', s.version],
      ['Extensions', s.extensions && s.extensions.length ? s.extensions.join(', ') : 'none (baseline API)'],
      ['Last check', `${when(s.last_checked_at)}${s.last_latency_ms === null ? '' : ` · ${s.last_latency_ms} ms`}`],
      ['Last error', s.last_error],
    ])),
    h('div', { class: 'actions' },
      button('Check now', async () => {
        const c = await post(`/api/v1/nextpanel/servers/${id}/check`);
        ctx.redraw(c.is_online ? `Online (${c.last_latency_ms} ms).` : `Offline: ${c.last_error || 'no answer'}.`);
      }, { cls: 'secondary', where: out }),
      s.is_active
        ? button('Disable (no new accounts)', async () => { await post(`/api/v1/nextpanel/servers/${id}/disable`); ctx.redraw('Server disabled: new accounts go elsewhere.'); }, { cls: 'secondary', where: out })
        : button('Enable', async () => { await post(`/api/v1/nextpanel/servers/${id}/enable`); ctx.redraw('Server enabled.'); }, { cls: 'secondary', where: out }),
      button('Remove', async () => {
        await del(`/api/v1/nextpanel/servers/${id}`);
        ctx.flash('ok', `Server ${s.name} removed.`);
        ctx.go('#/servers');
      }, { cls: 'danger', where: out, confirm: `Remove server ${s.name}? Only a server without accounts can be removed.` })),
    h('h2', {}, 'Compare with the panel'),
    h('p', { class: 'muted' }, 'Lists the panel\'s accounts and compares them with ours. Fixing applies our suspended/active state to mismatches; accounts only one side knows are reported for you to decide.'),
    reconcile(id),
    h('h2', {}, 'Edit'),
    h('div', { class: 'card' }, edit));
}

function drift(report) {
  const rows = [
    ...report.report.mismatches.map((m) => ['state differs', m.username, `ours ${m.ours}, panel ${m.panel}`]),
    ...report.report.missing.map((m) => ['missing on the panel', m.username, `our account #${m.account_id}`]),
    ...report.report.orphans.map((o) => ['only on the panel', o.username, `panel id ${o.panel_id}`]),
    ...report.report.fixes.map((f) => [`${f.action}: ${f.outcome}`, f.username, f.message]),
  ];
  return table([
    { label: 'Finding', value: (r) => r[0] }, { label: 'Username', value: (r) => r[1] }, { label: 'Detail', value: (r) => r[2] },
  ], rows, 'Nothing differs.');
}

function reconcile(id) {
  const out = h('div', { id: 'reconcile-result' });
  const runIt = (fix) => async () => {
    const r = await post(`/api/v1/nextpanel/servers/${id}/reconcile`, { fix });
    out.replaceChildren(
      r.status === 'error'
        ? alert('error', `The panel could not be listed: ${r.error}`)
        : alert(r.status === 'ok' ? 'ok' : 'info',
          `${r.status === 'ok' ? 'In agreement' : 'Differences found'}: ${r.mismatches} state mismatch(es), ${r.missing} missing on the panel, ${r.orphans} only on the panel, ${r.fixed} fixed.`),
      r.status === 'error' ? '' : drift(r));
  };
  return h('div', {},
    h('div', { class: 'actions' },
      button('Compare', runIt(false), { cls: 'secondary', where: out }),
      button('Compare and fix states', runIt(true), { cls: 'secondary', where: out, confirm: 'Apply our suspended/active state to every account that differs on the panel?' })),
    out);
}
