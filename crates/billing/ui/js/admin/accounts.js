// Hosting accounts: the list, and one account's lifecycle (suspend, unsuspend,
// terminate, change plan, new password, retry).

import { del, get, post, query } from '../api.js';
import { alert, badge, button, facts, filter, form, h, options, page, pager, table, when } from '../dom.js';

const STATES = ['pending', 'provisioning', 'active', 'suspended', 'failed', 'terminated'];

/** All accounts, filtered by state. */
export async function accounts(ctx) {
  const state = ctx.query.get('state') || '';
  const at = Number(ctx.query.get('page') || 1);
  const list = await get('/api/v1/nextpanel/accounts' + query({ state, page: at }));
  return page('Hosting accounts', filter(ctx, '#/accounts', 'state', 'State', STATES),
    table([
      { label: 'Username', value: (a) => h('a', { href: `#/accounts/${a.id}` }, a.username) },
      { label: 'State', value: (a) => badge(a.state) },
      { label: 'Customer', value: (a) => h('a', { href: `#/customers/${a.customer_id}` }, a.customer_email || `#${a.customer_id}`) },
      { label: 'Server', value: (a) => (a.server_id ? h('a', { href: `#/servers/${a.server_id}` }, a.server_name || `#${a.server_id}`) : '—') },
      { label: 'Type', value: (a) => a.account_type },
      { label: 'Reason', value: (a) => a.failure_reason || a.suspend_reason || '' },
      { label: 'Created', value: (a) => when(a.created_at) },
    ], list.items, 'No accounts.'),
    pager(list, (p) => ctx.go('#/accounts' + query({ state, page: p }))));
}

/** One account and what can be done to it in its state. */
export async function account(ctx) {
  const id = ctx.params.id;
  const a = await get(`/api/v1/nextpanel/accounts/${id}`);
  const out = h('div', { id: 'account-result' });
  const live = a.state === 'active' || a.state === 'suspended';
  let stats = null;
  if (live) {
    try {
      stats = await get(`/api/v1/nextpanel/accounts/${id}/stats`);
    } catch (e) {
      stats = { error: e.message };
    }
  }
  const plans = live && ctx.admin ? await get('/api/v1/plans') : [];
  const actions = h('div', { class: 'actions' });
  if (a.state === 'active') {
    actions.append(button('Suspend', async () => {
      const reason = window.prompt('Reason for the suspension (shown to the customer):', 'suspended by an administrator');
      if (reason === null) return;
      await post(`/api/v1/nextpanel/accounts/${id}/suspend`, { reason });
      ctx.redraw('Suspension sent to the panel.');
    }, { cls: 'secondary', where: out }));
  }
  if (a.state === 'suspended') {
    actions.append(button('Unsuspend', async () => {
      await post(`/api/v1/nextpanel/accounts/${id}/unsuspend`);
      ctx.redraw('Unsuspension sent to the panel.');
    }, { cls: 'secondary', where: out }));
  }
  if (live) {
    actions.append(button('New password', async () => {
      const r = await post(`/api/v1/nextpanel/accounts/${id}/password`, {});
      out.replaceChildren(r.generated_password
        ? alert('ok', 'New panel password (shown once): ', h('span', { class: 'secret', id: 'new-password' }, r.generated_password))
        : alert('info', 'The password change is queued.'));
    }, { cls: 'secondary', where: out, confirm: 'Set a new random panel password for this account?' }));
  }
  if (a.state === 'failed') {
    actions.append(button('Retry provisioning', async () => {
      await post(`/api/v1/nextpanel/accounts/${id}/retry`);
      ctx.redraw('Provisioning queued again.');
    }, { where: out }));
  }
  if (a.state !== 'terminated') {
    actions.append(button('Terminate', async () => {
      await del(`/api/v1/nextpanel/accounts/${id}`);
      ctx.redraw('Termination queued: the account is removed from the panel.');
    }, { cls: 'danger', where: out, confirm: `Terminate ${a.username}? Its files, databases and mail on the panel are deleted.` }));
  }
  const change = live && ctx.admin && plans.length ? form({
    id: 'change-plan-form', cls: 'inline', submit: 'Change plan',
    fields: [{ name: 'plan_id', label: 'Move to plan', type: 'select', options: options(plans, (p) => p.id, (p) => p.name) }],
    onSubmit: async (v) => {
      await post(`/api/v1/nextpanel/accounts/${id}/change-plan`, { plan_id: Number(v.plan_id) });
      ctx.redraw('Plan change sent to the panel.');
    },
  }) : null;
  return page(`Account ${a.username}`, out,
    h('div', { class: 'card' }, facts([
      ['State', badge(a.state)],
      a.failure_reason ? ['Failure', a.failure_reason] : null,
      a.suspend_reason ? ['Suspended because', a.suspend_reason] : null,
      ['Customer', h('a', { href: `#/customers/${a.customer_id}` }, `#${a.customer_id}`)],
      ['Server', a.server_id ? h('a', { href: `#/servers/${a.server_id}` }, `#${a.server_id}`) : 'not placed yet'],
      ['NextPanel user id', a.nextpanel_user_id],
      ['License', a.license_id ? `#${a.license_id}` : null],
      ['Type', a.account_type], ['Created', when(a.created_at)], ['Updated', when(a.updated_at)],
    ])),
    ctx.admin ? actions : null,
    change,
    stats ? h('h2', {}, 'Usage on the panel') : null,
    stats ? (stats.error ? alert('error', stats.error) : h('div', { class: 'card' }, facts([
      ['Domains', stats.total_domains], ['Databases', stats.total_databases], ['Email accounts', stats.total_email_accounts],
      ['Storage used (MB)', stats.storage_used], ['Last login', when(stats.last_login)],
    ]))) : null);
}
