// A customer's hosting: accounts and licenses.

import { get } from '../api.js';
import { alert, badge, h, page, table, when } from '../dom.js';

/** The customer's accounts and licenses, and open invoices needing payment. */
export async function home() {
  const [accounts, licenses, open] = await Promise.all([
    get('/api/v1/me/accounts'),
    get('/api/v1/me/licenses'),
    get('/api/v1/me/invoices?status=open'),
  ]);
  const licenseRows = Array.isArray(licenses) ? licenses : licenses.items;
  return page('My hosting',
    open.items.length
      ? alert('info', `You have ${open.items.length} open invoice(s). `, h('a', { href: '#/my/invoices' }, 'Pay now'), ' to start or keep your hosting.')
      : null,
    h('h2', {}, 'Hosting accounts'),
    table([
      { label: 'Username', value: (a) => h('strong', {}, a.username) },
      { label: 'State', value: (a) => badge(a.state) },
      {
        label: 'Control panel', value: (a) => (a.panel_url && a.state === 'active'
          ? h('a', { href: a.panel_url, target: '_blank', rel: 'noopener noreferrer', class: 'panel-link' }, 'Log in')
          : '—'),
      },
      { label: 'Note', value: (a) => a.suspend_reason || (a.state === 'provisioning' || a.state === 'pending' ? 'being set up; you will get an email with the login' : '') },
      { label: 'Since', value: (a) => when(a.created_at) },
    ], accounts.items, h('span', {}, 'No hosting yet. ', h('a', { href: '#/order' }, 'Order a plan'), '.')),
    h('h2', {}, 'Licenses'),
    table([
      { label: 'License key', value: (l) => h('a', { href: `#/my/licenses/${l.id}`, class: 'mono' }, l.license_key) },
      { label: 'Status', value: (l) => badge(l.status) },
      { label: 'Billing', value: (l) => l.billing_cycle },
      { label: 'Renews or expires', value: (l) => when(l.expires_at) },
    ], licenseRows, 'No licenses yet.'));
}
