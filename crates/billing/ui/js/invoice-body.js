// An invoice as the admin and its customer both see it.

import { badge, facts, h, money, table, when } from './dom.js';

/** An invoice's facts and lines. */
export function invoiceBody(i) {
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
  ];
}
