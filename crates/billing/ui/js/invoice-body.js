// An invoice as the admin and its customer both see it.

import { badge, facts, h, money, table, when } from './dom.js';

/** An invoice's facts and lines, then its automatic charges, refunds and disputes when it has any. */
export function invoiceBody(i) {
  const attempts = i.charge_attempts || [];
  const refunds = i.refunds || [];
  const disputes = i.disputes || [];
  return [
    h('div', { class: 'card' }, facts([
      ['Status', badge(i.status)],
      ['Total', h('strong', { id: 'invoice-total' }, i.total_display)],
      ['Due', when(i.due_at)], ['Paid', i.paid_at ? when(i.paid_at) : null],
      ['Voided', i.voided_at ? when(i.voided_at) : null],
      ['Hosting username', i.username],
      ['Period', i.period_start ? `${when(i.period_start)} – ${when(i.period_end)}` : null],
    ])),
    h('h2', {}, 'Lines'),
    table([
      { label: 'Description', value: (l) => l.description },
      { label: 'Quantity', value: (l) => l.quantity, num: true },
      { label: 'Unit', value: (l) => money(l.unit_amount, i.currency), num: true },
      { label: 'Amount', value: (l) => money(l.amount, i.currency), num: true },
    ], i.lines || []),
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
      { label: 'Credit note', value: (r) => (r.credit_note ? h('span', { class: 'credit-note' }, r.credit_note.number) : '') },
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
