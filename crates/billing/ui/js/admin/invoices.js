// Invoices: what is owed and paid, and the admin's hand on them (bank transfers,
// voiding, payment links, the billing run).

import { get, post, query } from '../api.js';
import { alert, badge, button, filter, form, h, invalid, money, page, pager, parseMoney, table, when } from '../dom.js';
import { invoiceBody } from '../invoice-body.js';

/** All invoices, filtered by status. */
export async function invoices(ctx) {
  const status = ctx.query.get('status') || '';
  const at = Number(ctx.query.get('page') || 1);
  const list = await get('/api/v1/invoices' + query({ status, page: at }));
  const out = h('div', {});
  return page('Invoices', out, filter(ctx, '#/invoices', 'status', 'Status', ['open', 'paid', 'void']),
    !ctx.admin ? null : h('div', { class: 'actions' }, button('Run billing now', async () => {
      const r = await post('/api/v1/billing/run');
      out.replaceChildren(alert('ok', `Billing run: ${r.renewal_invoices} renewal invoice(s), ${r.autopay.charged} paid by saved card (${r.autopay.declined} declined), ${r.reminders} reminder(s), ${r.licenses_suspended} license(s) and ${r.accounts_suspended} account(s) suspended.`));
    }, { cls: 'secondary', where: out })),
    table([
      { label: 'Number', value: (i) => h('a', { href: `#/invoices/${i.id}` }, i.number) },
      { label: 'Customer', value: (i) => h('a', { href: `#/customers/${i.customer_id}` }, i.customer_name ? `${i.customer_name} (${i.customer_email})` : `#${i.customer_id}`) },
      { label: 'Kind', value: (i) => i.kind },
      { label: 'Status', value: (i) => badge(i.status) },
      { label: 'Total', value: (i) => i.total_display, num: true },
      { label: 'Due', value: (i) => when(i.due_at) },
      { label: 'Paid', value: (i) => when(i.paid_at) },
    ], list.items, 'No invoices.'),
    pager(list, (p) => ctx.go('#/invoices' + query({ status, page: p }))));
}

/** Refunding a succeeded payment: amount (all that is left by default), reason, what happens to the hosting. */
function refundForm(ctx, i, out) {
  const paid = (i.payments || []).filter((p) => p.status === 'succeeded');
  if (!paid.length) return null;
  return h('div', { class: 'card' }, h('h2', {}, 'Refund'), form({
    id: 'refund-form',
    submit: 'Refund',
    fields: [
      { name: 'payment', label: 'Payment', type: 'select', value: paid[0].id, options: paid.map((p) => [p.id, `${money(p.amount, p.currency)} · ${p.provider} · ${p.reference}`]) },
      { name: 'amount', label: `Amount (${i.currency})`, field: 'amount', help: 'Leave empty to refund all that is not refunded yet.' },
      { name: 'reason', label: 'Reason', help: 'On the credit note the customer gets.' },
      { name: 'service_action', label: 'The hosting it paid for', type: 'select', value: 'none', options: [['none', 'keep running'], ['suspend', 'suspend'], ['terminate', 'terminate']] },
    ],
    onSubmit: async (v) => {
      const body = { reason: v.reason, service_action: v.service_action };
      if (v.amount) {
        body.amount = parseMoney(v.amount, i.currency);
        if (body.amount === null) throw invalid('amount', `Enter an amount like ${money(499, i.currency)}.`);
      }
      const made = await post(`/api/v1/payments/${v.payment}/refund`, body);
      ctx.redraw(`Refunded ${made.amount_display}; credit note ${made.credit_note ? made.credit_note.number : 'follows when Stripe confirms'}.`);
    },
  }));
}

/** One invoice: lines, payments, and what an admin can do while it is open. */
export async function invoice(ctx) {
  const id = ctx.params.id;
  const i = await get(`/api/v1/invoices/${id}`);
  const out = h('div', { id: 'invoice-result' });
  // Staff see an invoice; only admins act on it.
  const open = i.status === 'open' && ctx.admin;
  return page(`Invoice ${i.number}`, out,
    ...invoiceBody(i, '/api/v1'),
    h('h2', {}, 'Payments'),
    table([
      { label: 'When', value: (p) => when(p.created_at) },
      { label: 'Method', value: (p) => p.provider },
      { label: 'Status', value: (p) => badge(p.status) },
      { label: 'Amount', value: (p) => money(p.amount, p.currency), num: true },
      { label: 'Reference', value: (p) => h('span', { class: 'mono' }, p.reference) },
      { label: 'Note', value: (p) => p.message || '' },
    ], i.payments || [], 'No payments yet.'),
    ctx.admin ? refundForm(ctx, i, out) : null,
    open ? h('h2', {}, 'Actions') : null,
    open ? h('div', { class: 'actions' },
      button('Payment link', async () => {
        const link = await post(`/api/v1/invoices/${id}/checkout`);
        out.replaceChildren(alert('ok', 'Send the customer this link: ', h('a', { href: link.url, id: 'checkout-url' }, link.url)));
      }, { cls: 'secondary', where: out }),
      button('Void', async () => {
        const reason = window.prompt('Why is this invoice void?', 'cancelled by an administrator');
        if (reason === null) return;
        await post(`/api/v1/invoices/${id}/void`, { reason });
        ctx.redraw('Invoice voided.');
      }, { cls: 'danger', where: out })) : null,
    open ? h('div', { class: 'card' }, h('h2', {}, 'Record a bank transfer'), form({
      id: 'mark-paid-form',
      submit: 'Mark as paid',
      fields: [{ name: 'reference', label: 'Transfer reference', help: `The full ${i.total_display} must have arrived.` }],
      onSubmit: async (v) => {
        await post(`/api/v1/invoices/${id}/mark-paid`, { reference: v.reference });
        ctx.redraw(`Invoice ${i.number} is paid; what it pays for is being set up.`);
      },
    })) : null);
}
