// Customers: finding one, adding one, and everything a customer holds.

import { get, patch, post, query } from '../api.js';
import { alert, badge, button, facts, form, h, invalid, options, page, pager, parseMoney, table, when } from '../dom.js';
import { CYCLES } from '../plan-text.js';
import { userSessions } from '../security.js';
import { billingForm, billingText } from '../billing-address.js';

/** Search and list; a form to add a customer. */
export async function customers(ctx) {
  const search = ctx.query.get('search') || '';
  const at = Number(ctx.query.get('page') || 1);
  const list = await get('/api/v1/customers' + query({ search, page: at, include_inactive: true }));
  const find = form({
    id: 'customer-search', cls: 'inline', submit: 'Search',
    fields: [{ name: 'search', label: 'Email or name', value: search }],
    onSubmit: async (v) => ctx.go('#/customers' + query({ search: v.search })),
  });
  const add = form({
    id: 'customer-form',
    submit: 'Add customer',
    fields: [
      { name: 'email', label: 'Email', type: 'email' },
      { name: 'full_name', label: 'Full name' },
      { name: 'company_name', label: 'Company (optional)' },
      { name: 'phone', label: 'Phone (optional)' },
      { name: 'password', label: 'Portal password (optional)', type: 'password', help: 'Empty: the customer sets one with "forgot password".' },
    ],
    onSubmit: async (v) => {
      const c = await post('/api/v1/customers', {
        email: v.email, full_name: v.full_name, company_name: v.company_name || null,
        phone: v.phone || null, password: v.password || null,
      });
      ctx.flash('ok', `Customer ${c.email} added.`);
      ctx.go(`#/customers/${c.id}`);
    },
  });
  return page('Customers', find,
    table([
      { label: 'Email', value: (c) => h('a', { href: `#/customers/${c.id}` }, c.email) },
      { label: 'Name', value: (c) => c.full_name },
      { label: 'Company', value: (c) => c.company_name || '' },
      { label: 'Active', value: (c) => badge(c.is_active ? 'yes' : 'no') },
      { label: 'Since', value: (c) => when(c.created_at) },
    ], list.items, search ? `No customer matches "${search}".` : 'No customers yet.'),
    pager(list, (p) => ctx.go('#/customers' + query({ search, page: p }))),
    ctx.admin ? [h('h2', {}, 'Add a customer'), h('div', { class: 'card' }, add)] : null);
}

/** One customer: profile, hosting accounts, licenses, invoices; order for them. */
export async function customer(ctx) {
  const id = ctx.params.id;
  const [c, licenses, invoices, plans, credit] = await Promise.all([
    get(`/api/v1/customers/${id}`),
    get(`/api/v1/customers/${id}/licenses`),
    get(`/api/v1/invoices?customer_id=${id}`),
    get('/api/v1/plans'),
    get(`/api/v1/customers/${id}/credit`),
  ]);
  const out = h('div', {});
  const licenseRows = Array.isArray(licenses) ? licenses : licenses.items;
  const order = form({
    id: 'order-form',
    submit: 'Create order invoice',
    fields: [
      { name: 'plan_id', label: 'Plan', type: 'select', options: options(plans, (p) => p.id, (p) => p.name) },
      { name: 'billing_cycle', label: 'Billing cycle', type: 'select', options: CYCLES },
      { name: 'username', label: 'Hosting username' },
    ],
    onSubmit: async (v) => {
      const inv = await post(`/api/v1/customers/${id}/orders`, { plan_id: Number(v.plan_id), billing_cycle: v.billing_cycle, username: v.username });
      ctx.flash('ok', `Invoice ${inv.number} for ${inv.total_display} created; the account is made once it is paid.`);
      ctx.go(`#/invoices/${inv.id}`);
    },
  });
  return page(c.full_name || c.email, out,
    h('div', { class: 'card' }, facts([
      ['Email', c.email], ['Company', c.company_name], ['Phone', c.phone],
      ['Billing address', billingText(c.billing)],
      ['Credit balance', credit.balances.length ? h('span', { id: 'credit-balance' }, credit.balances.map((b) => b.balance_display).join(', ')) : 'none'],
      ['Active', badge(c.is_active ? 'yes' : 'no')], ['Customer since', when(c.created_at)],
    ])),
    ctx.admin ? h('div', { class: 'actions' },
      h('a', { href: `#/provision?customer=${id}` }, h('button', { type: 'button' }, 'Provision hosting now')),
      c.is_active
        ? button('Deactivate', async () => { await post(`/api/v1/customers/${id}/deactivate`); ctx.redraw('Customer deactivated.'); },
          { cls: 'danger', where: out, confirm: 'Deactivate this customer? They can no longer sign in.' })
        : button('Activate', async () => { await post(`/api/v1/customers/${id}/activate`); ctx.redraw('Customer activated.'); },
          { cls: 'secondary', where: out })) : null,
    ctx.admin ? h('details', { id: 'customer-credit' }, h('summary', {}, 'Adjust credit'), form({
      id: 'credit-form', cls: 'stack',
      submit: 'Adjust credit',
      fields: [
        { name: 'currency', label: 'Currency', value: (plans[0] && plans[0].currency) || 'USD' },
        { name: 'amount', label: 'Amount (negative to take away)', help: 'Like 5.00 or -2.50.' },
        { name: 'reason', label: 'Reason', help: 'The customer sees it; the audit log keeps it.' },
      ],
      onSubmit: async (v) => {
        const negative = v.amount.startsWith('-');
        const minor = parseMoney(negative ? v.amount.slice(1) : v.amount, v.currency.toUpperCase());
        if (minor === null) throw invalid('amount', 'Enter an amount like 5.00 or -2.50.');
        await post(`/api/v1/customers/${id}/credit`, { currency: v.currency.toUpperCase(), amount: negative ? -minor : minor, reason: v.reason });
        ctx.redraw('Credit adjusted.');
      },
    })) : null,
    ctx.admin ? h('details', { id: 'customer-billing' }, h('summary', {}, 'Edit billing address'),
      billingForm('customer-billing-form', c.billing, async (billing) => {
        await patch(`/api/v1/customers/${id}`, { billing });
        ctx.redraw('Billing address saved.');
      })) : null,
    ctx.admin ? h('details', { id: 'customer-sessions' }, h('summary', {}, 'Sign-in sessions'), await userSessions(ctx, id, out)) : null,
    h('h2', {}, 'Hosting accounts'),
    table([
      { label: 'Username', value: (a) => h('a', { href: `#/accounts/${a.id}` }, a.username) },
      { label: 'State', value: (a) => badge(a.state) },
      { label: 'Server', value: (a) => (a.server_id ? h('a', { href: `#/servers/${a.server_id}` }, `#${a.server_id}`) : '—') },
      { label: 'Created', value: (a) => when(a.created_at) },
    ], c.accounts || [], 'No hosting accounts.'),
    h('h2', {}, 'Licenses'),
    table([
      { label: 'Key', value: (l) => h('a', { href: `#/licenses/${l.id}`, class: 'mono' }, l.license_key) },
      { label: 'Status', value: (l) => badge(l.status) },
      { label: 'Cycle', value: (l) => l.billing_cycle },
      { label: 'Expires', value: (l) => when(l.expires_at) },
    ], licenseRows, 'No licenses.'),
    h('h2', {}, 'Invoices'),
    table([
      { label: 'Number', value: (i) => h('a', { href: `#/invoices/${i.id}` }, i.number) },
      { label: 'Status', value: (i) => badge(i.status) },
      { label: 'Total', value: (i) => i.total_display, num: true },
      { label: 'Due', value: (i) => when(i.due_at) },
    ], invoices.items, 'No invoices.'),
    ctx.admin ? h('h2', {}, 'New order') : null,
    !ctx.admin ? null : plans.length ? h('div', { class: 'card' }, order) : alert('info', 'Create a plan first.'));
}
