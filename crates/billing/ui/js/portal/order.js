// Ordering hosting: pick a plan and a billing cycle, choose a username, get an invoice
// to pay. The account is created when the payment arrives.

import { get, post } from '../api.js';
import { alert, form, h, money, page } from '../dom.js';
import { CYCLES, quotaText } from '../plan-text.js';

/** A plan's prices in `currency`: its own, or one of its other currencies (or null). */
function pricesIn(p, currency) {
  if (!currency || currency === p.currency) return { currency: p.currency, prices: p.prices, setup_fee: p.setup_fee };
  const other = (p.other_prices || {})[currency];
  return other ? { currency, prices: other.prices, setup_fee: other.setup_fee } : null;
}

/** Plans on sale in the customer's currency, with an order form under each; a customer
 * who has not ordered yet picks the currency to pay in. */
export async function order(ctx) {
  const [plans, me] = await Promise.all([get('/api/v1/plans'), get('/api/v1/me')]);
  if (!plans.length) return page('Order hosting', alert('info', 'No plans are on sale right now.'));
  const fixed = me.billing_currency;
  return page('Order hosting',
    fixed ? h('p', { class: 'muted' }, `Prices in ${fixed}, the currency you are billed in.`) : null,
    ...plans.flatMap((p) => {
      const choices = fixed ? [fixed] : [p.currency, ...Object.keys(p.other_prices || {})];
      const priced = choices.map((c) => pricesIn(p, c)).filter(Boolean);
      if (!priced.length) return [];
      const first = priced[0];
      const options = priced.flatMap((pl) => CYCLES.filter(([c]) => pl.prices[c] !== undefined)
        .map(([c]) => [`${pl.currency}:${c}`, `${money(pl.prices[c], pl.currency)} ${c}`]));
      return [h('div', { class: 'card plan', dataset: { plan: p.name } },
        h('h2', {}, p.name),
        p.description ? h('p', {}, p.description) : null,
        h('p', { class: 'muted' }, quotaText(p.quotas)),
        first.setup_fee ? h('p', {}, `One-time setup fee: ${priced.map((pl) => money(pl.setup_fee, pl.currency)).join(' or ')}`) : null,
        form({
          id: `order-${p.id}`, cls: 'inline', submit: 'Order',
          fields: [
            { name: 'billing_cycle', label: 'Billing', type: 'select', options },
            { name: 'username', label: 'Hosting username', help: 'Lower-case letters and digits, starting with a letter.' },
            { name: 'coupon', label: 'Coupon code (optional)' },
          ],
          onSubmit: async (v) => {
            const [currency, cycle] = v.billing_cycle.split(':');
            const inv = await post('/api/v1/me/orders', { plan_id: p.id, billing_cycle: cycle, username: v.username, coupon: v.coupon || null, currency });
            ctx.flash('ok', inv.status === 'paid'
              ? 'Ordered. Your hosting is being set up; the login arrives by email.'
              : `Ordered: invoice ${inv.number} for ${inv.total_display}. Pay it to start your hosting.`);
            ctx.go(inv.status === 'paid' ? '#/my' : `#/my/invoices/${inv.id}`);
          },
        }))];
    }));
}
