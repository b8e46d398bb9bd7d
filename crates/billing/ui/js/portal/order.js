// Ordering hosting: pick a plan and a billing cycle, choose a username, get an invoice
// to pay. The account is created when the payment arrives.

import { get, post } from '../api.js';
import { alert, form, h, money, page } from '../dom.js';
import { CYCLES, quotaText } from '../plan-text.js';

/** Plans on sale, with an order form under each. */
export async function order(ctx) {
  const plans = await get('/api/v1/plans');
  if (!plans.length) return page('Order hosting', alert('info', 'No plans are on sale right now.'));
  return page('Order hosting', ...plans.map((p) => {
    const offered = CYCLES.filter(([c]) => p.prices[c] !== undefined);
    return h('div', { class: 'card plan', dataset: { plan: p.name } },
      h('h2', {}, p.name),
      p.description ? h('p', {}, p.description) : null,
      h('p', { class: 'muted' }, quotaText(p.quotas)),
      p.setup_fee ? h('p', {}, `One-time setup fee: ${money(p.setup_fee, p.currency)}`) : null,
      form({
        id: `order-${p.id}`, cls: 'inline', submit: 'Order',
        fields: [
          { name: 'billing_cycle', label: 'Billing', type: 'select', options: offered.map(([c]) => [c, `${money(p.prices[c], p.currency)} ${c}`]) },
          { name: 'username', label: 'Hosting username', help: 'Lower-case letters and digits, starting with a letter.' },
          { name: 'coupon', label: 'Coupon code (optional)' },
        ],
        onSubmit: async (v) => {
          const inv = await post('/api/v1/me/orders', { plan_id: p.id, billing_cycle: v.billing_cycle, username: v.username, coupon: v.coupon || null });
          ctx.flash('ok', inv.status === 'paid'
            ? 'Ordered. Your hosting is being set up; the login arrives by email.'
            : `Ordered: invoice ${inv.number} for ${inv.total_display}. Pay it to start your hosting.`);
          ctx.go(inv.status === 'paid' ? '#/my' : `#/my/invoices/${inv.id}`);
        },
      }));
  }));
}
