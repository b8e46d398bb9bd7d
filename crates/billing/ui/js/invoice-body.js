// An invoice as the admin and its customer both see it.

import { badge, facts, h, money, table, when } from './dom.js';

const rate = (bp) => `${(bp / 100).toFixed(2).replace(/\.?0+$/, '')}%`;

/** Who the invoice is addressed to, as it was when issued. */
function buyer(b) {
  const lines = [b.name, b.company, ...(b.address ? b.address.split('\n') : []),
    [b.region, b.country].filter(Boolean).join(', '), b.tax_id ? `Tax id ${b.tax_id}` : null].filter(Boolean);
  return h('address', { class: 'buyer' }, lines.map((l) => h('div', {}, l)));
}

/**
 * An invoice's facts, its documents (PDF, printable page) and lines, then its automatic
 * charges, refunds and disputes when it has any. `api` is where the documents are:
 * `/api/v1` for admins, `/api/v1/me` for the customer.
 */
export function invoiceBody(i, api) {
  const attempts = i.charge_attempts || [];
  const refunds = i.refunds || [];
  const disputes = i.disputes || [];
  const taxed = (i.lines || []).some((l) => l.tax_rate_bp > 0) || i.reverse_charge;
  return [
    h('div', { class: 'card' }, facts([
      ['Status', badge(i.status)],
      ['Bill to', i.buyer && i.buyer.name ? buyer(i.buyer) : null],
      taxed ? ['Net', h('span', { id: 'invoice-subtotal' }, money(i.subtotal, i.currency))] : null,
      taxed ? ['Tax', h('span', { id: 'invoice-tax' }, money(i.tax, i.currency))] : null,
      i.credit_applied ? ['Credit applied', h('span', { id: 'invoice-credit' }, money(-i.credit_applied, i.currency))] : null,
      [i.credit_applied ? 'Amount due' : 'Total', h('strong', { id: 'invoice-total' }, i.total_display)],
      ['Due', when(i.due_at)], ['Paid', i.paid_at ? when(i.paid_at) : null],
      ['Voided', i.voided_at ? when(i.voided_at) : null],
      ['Hosting username', i.username],
      ['Period', i.period_start ? `${when(i.period_start)} – ${when(i.period_end)}` : null],
    ])),
    h('p', { class: 'documents' },
      h('a', { href: `${api}/invoices/${i.id}/pdf`, id: 'invoice-pdf', download: `${i.number}.pdf` }, 'Download PDF'), ' · ',
      h('a', { href: `${api}/invoices/${i.id}/html`, id: 'invoice-html', target: '_blank', rel: 'noopener' }, 'Printable page')),
    h('h2', {}, 'Lines'),
    table([
      { label: 'Description', value: (l) => l.description },
      { label: 'Quantity', value: (l) => l.quantity, num: true },
      { label: 'Unit', value: (l) => money(l.unit_amount, i.currency), num: true },
      { label: 'Amount', value: (l) => money(l.amount, i.currency), num: true },
      taxed ? { label: 'Tax', value: (l) => (l.tax_name ? `${l.tax_name} ${rate(l.tax_rate_bp)}: ${money(l.tax, i.currency)}` : '—'), num: true } : null,
    ].filter(Boolean), i.lines || []),
    i.tax_note ? h('p', { class: 'tax-note', id: 'tax-note' }, i.tax_note) : null,
    attempts.length ? h('h2', {}, 'Automatic card payments') : null,
    attempts.length ? table([
      { label: 'Attempt', value: (a) => a.attempt, num: true },
      { label: 'When', value: (a) => when(a.started_at) },
      { label: 'Amount', value: (a) => money(a.amount, a.currency), num: true },
      { label: 'Outcome', value: (a) => badge(a.state) },
      { label: 'Details', value: (a) => [a.outcome, a.decline_code ? ` (${a.decline_code})` : ''].join('') },
    ], attempts) : null,
    refunds.length ? h('h2', {}, 'Refunds') : null,
    refunds.length ? table([
      { label: 'When', value: (r) => when(r.created_at) },
      { label: 'Amount', value: (r) => r.amount_display, num: true },
      { label: 'Status', value: (r) => badge(r.state) },
      {
        label: 'Credit note', value: (r) => (r.credit_note
          ? h('a', { class: 'credit-note', href: `${api}/credit-notes/${r.credit_note.id}/pdf`, download: `${r.credit_note.number}.pdf` }, r.credit_note.number)
          : ''),
      },
      { label: 'Reason', value: (r) => r.reason },
    ], refunds) : null,
    disputes.length ? h('h2', {}, 'Disputes') : null,
    disputes.length ? table([
      { label: 'Opened', value: (d) => when(d.opened_at) },
      { label: 'Amount', value: (d) => money(d.amount, d.currency), num: true },
      { label: 'Reason', value: (d) => d.reason },
      { label: 'Status', value: (d) => badge(d.status) },
    ], disputes) : null,
  ];
}
