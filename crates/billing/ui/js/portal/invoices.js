// A customer's invoices, and paying one through the payment provider.

import { get, post } from '../api.js';
import { alert, badge, button, h, page, table, when } from '../dom.js';
import { invoiceBody } from '../invoice-body.js';

/** The customer's invoices. */
export async function invoices() {
  const [list, credit] = await Promise.all([get('/api/v1/me/invoices'), get('/api/v1/me/credit')]);
  const balances = credit.balances.filter((b) => b.balance > 0);
  return page('Invoices',
    balances.length ? alert('ok', `Credit balance: ${balances.map((b) => b.balance_display).join(', ')} (used for your next invoices).`) : null,
    table([
      { label: 'Number', value: (i) => h('a', { href: `#/my/invoices/${i.id}` }, i.number) },
      { label: 'Status', value: (i) => badge(i.status) },
      { label: 'Total', value: (i) => i.total_display, num: true },
      { label: 'Due', value: (i) => when(i.due_at) },
      { label: 'Paid', value: (i) => when(i.paid_at) },
    ], list.items, 'No invoices yet.'));
}

/** One invoice; an open one has a Pay button that goes to the payment page. */
export async function invoice(ctx) {
  const i = await get(`/api/v1/me/invoices/${ctx.params.id}`);
  const out = h('div', { id: 'pay-result' });
  return page(`Invoice ${i.number}`, out,
    ...invoiceBody(i, '/api/v1/me'),
    i.status === 'open'
      ? h('div', { class: 'actions' }, button(`Pay ${i.total_display}`, async () => {
        const link = await post(`/api/v1/me/invoices/${i.id}/checkout`);
        out.replaceChildren(alert('info', 'Taking you to the secure payment page…'));
        window.location.assign(link.url);
      }, { where: out }))
      : null,
    i.status === 'paid' ? alert('ok', 'Paid, thank you. ', i.username ? 'Your hosting login arrives by email once the account is ready.' : '') : null);
}
