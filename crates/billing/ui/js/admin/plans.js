// Hosting plans: what customers can buy, at which prices, with which quotas.

import { get, patch, post } from '../api.js';
import { badge, button, form, h, invalid, money, page, parseMoney, table, when } from '../dom.js';
import { CYCLES, QUOTAS, priceText, quotaText } from '../plan-text.js';

/** Every plan, including retired ones. */
export async function plans(ctx) {
  const [list, coupons] = await Promise.all([get('/api/v1/plans?include_inactive=true'), get('/api/v1/coupons')]);
  return page('Plans',
    h('div', { class: 'actions' }, h('a', { href: '#/plans/new' }, h('button', { type: 'button' }, 'New plan'))),
    table([
      { label: 'Name', value: (p) => h('strong', {}, p.name) },
      { label: 'Prices', value: priceText },
      { label: 'Setup fee', value: (p) => money(p.setup_fee, p.currency), num: true },
      { label: 'Quotas', value: (p) => h('span', { class: 'muted' }, quotaText(p.quotas)) },
      { label: 'On sale', value: (p) => badge(p.is_active ? 'yes' : 'no') },
      {
        label: '', value: (p) => button(p.is_active ? 'Retire' : 'Put on sale', async () => {
          await patch(`/api/v1/plans/${p.id}`, { is_active: !p.is_active });
          ctx.redraw(`${p.name} is ${p.is_active ? 'no longer on sale' : 'on sale'}.`);
        }, { cls: 'secondary' }),
      },
    ], list, 'No plans yet.'),
    h('h2', {}, 'Coupons'),
    table([
      { label: 'Code', value: (c) => h('span', { class: 'mono' }, c.code) },
      { label: 'Discount', value: (c) => c.discount_display },
      { label: 'Invoices', value: (c) => (c.cycles === 1 ? 'the order' : `the order and ${c.cycles - 1} renewal(s)`) },
      { label: 'Plan', value: (c) => (c.plan_id ? (list.find((p) => p.id === c.plan_id) || {}).name || `#${c.plan_id}` : 'all') },
      { label: 'Used', value: (c) => `${c.redemptions}${c.max_redemptions ? ` / ${c.max_redemptions}` : ''}`, num: true },
      { label: 'Expires', value: (c) => when(c.expires_at) },
      { label: 'Active', value: (c) => badge(c.is_active ? 'yes' : 'no') },
      {
        label: '', value: (c) => button(c.is_active ? 'Switch off' : 'Switch on', async () => {
          await patch(`/api/v1/coupons/${c.id}`, { is_active: !c.is_active });
          ctx.redraw(`Coupon ${c.code} is ${c.is_active ? 'off' : 'on'}.`);
        }, { cls: 'secondary' }),
      },
    ], coupons, 'No coupons yet.'),
    h('div', { class: 'card' }, h('h2', {}, 'New coupon'), couponForm(ctx, list)));
}

/** A new coupon: a percentage, or an amount in a currency, off one or more invoices. */
function couponForm(ctx, plans) {
  return form({
    id: 'coupon-form',
    submit: 'Create coupon',
    fields: [
      { name: 'code', label: 'Code', placeholder: 'WELCOME20' },
      { name: 'off', label: 'Discount', placeholder: '20% or 5.00', help: 'A percentage (20%) or an amount (5.00) in the currency below.', field: 'percent_off_bp' },
      { name: 'currency', label: 'Currency of an amount', value: (plans[0] && plans[0].currency) || 'USD' },
      { name: 'cycles', label: 'Invoices discounted', value: '1', help: '1: the order alone; 3: the order and two renewals.' },
      { name: 'plan_id', label: 'Plan', type: 'select', options: [['', 'every plan'], ...plans.map((p) => [p.id, p.name])] },
      { name: 'max_redemptions', label: 'Usable this many times (optional)' },
      { name: 'expires_at', label: 'Expires on (optional)', type: 'date' },
    ],
    onSubmit: async (v) => {
      const body = { code: v.code, cycles: Number(v.cycles || 1), plan_id: v.plan_id ? Number(v.plan_id) : null };
      const pct = /^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*%\s*$/.exec(v.off);
      if (pct) {
        body.percent_off_bp = Number(pct[1]) * 100 + Number((pct[2] || '').padEnd(2, '0'));
      } else {
        const currency = v.currency.toUpperCase();
        const minor = parseMoney(v.off, currency);
        if (minor === null) throw invalid('percent_off_bp', 'Enter a percentage like 20% or an amount like 5.00.');
        body.amount_off = minor;
        body.currency = currency;
      }
      if (v.max_redemptions) body.max_redemptions = Number(v.max_redemptions);
      if (v.expires_at) body.expires_at = `${v.expires_at}T23:59:59Z`;
      const c = await post('/api/v1/coupons', body);
      ctx.redraw(`Coupon ${c.code} (${c.discount_display}) created.`);
    },
  });
}

/** A new plan. Prices are typed in major units and converted exactly to minor units. */
export async function newPlan(ctx) {
  const f = form({
    id: 'plan-form',
    submit: 'Create plan',
    fields: [
      { name: 'name', label: 'Name', placeholder: 'Starter' },
      { name: 'description', label: 'Description', placeholder: 'Fast SSD hosting for one site' },
      { name: 'currency', label: 'Currency (ISO code)', value: 'USD' },
      ...CYCLES.map(([c, label]) => ({ name: `price_${c}`, field: `prices.${c}`, label: `${label} price`, help: c === 'monthly' ? 'Like 9.99. Leave a cycle empty not to offer it.' : null })),
      { name: 'setup_fee', label: 'Setup fee', value: '0' },
      ...QUOTAS.map(([k, label]) => ({ name: k, field: `quotas.${k}`, label, value: '1', help: k === 'max_accounts' ? '-1 means unlimited.' : null })),
      { name: 'account_type', label: 'Account type', type: 'select', options: [['panel', 'Panel user'], ['reseller', 'Reseller'], ['master-reseller', 'Master reseller']] },
      { name: 'package_id', label: 'NextPanel package id (optional)' },
      {
        name: 'other_prices', label: 'Prices in other currencies (optional)', type: 'textarea', field: 'other_prices',
        help: 'One currency a line, like: EUR monthly=8.99 annual=89.90 setup=1.00',
      },
    ],
    onSubmit: async (v) => {
      const currency = v.currency.toUpperCase();
      const prices = {};
      for (const [c] of CYCLES) {
        const text = v[`price_${c}`];
        if (!text) continue;
        const minor = parseMoney(text, currency);
        if (minor === null) throw invalid(`prices.${c}`, `Not an amount in ${currency}: ${text}`);
        prices[c] = minor;
      }
      const setup = parseMoney(v.setup_fee || '0', currency);
      if (setup === null) throw invalid('setup_fee', `Not an amount in ${currency}.`);
      const quotas = {};
      for (const [k, label] of QUOTAS) {
        if (!/^-?\d+$/.test(v[k])) throw invalid(`quotas.${k}`, `${label} must be a whole number (-1 for unlimited).`);
        quotas[k] = Number(v[k]);
      }
      if (v.package_id && !/^\d+$/.test(v.package_id)) throw invalid('package_id', 'The package id is a number.');
      const otherPrices = {};
      for (const line of (v.other_prices || '').split('\n').map((l) => l.trim()).filter(Boolean)) {
        const [code, ...pairs] = line.split(/\s+/);
        const cur = code.toUpperCase();
        const entry = { prices: {}, setup_fee: 0 };
        for (const pair of pairs) {
          const [key, text] = pair.split('=');
          const minor = parseMoney(text || '', cur);
          if (minor === null) throw invalid('other_prices', `${cur}: not an amount: ${pair}`);
          if (key === 'setup') entry.setup_fee = minor;
          else entry.prices[key] = minor;
        }
        otherPrices[cur] = entry;
      }
      const p = await post('/api/v1/plans', {
        name: v.name, description: v.description, currency, prices, setup_fee: setup, quotas,
        account_type: v.account_type, package_id: v.package_id ? Number(v.package_id) : null,
        other_prices: otherPrices,
      });
      ctx.flash('ok', `Plan ${p.name} created.`);
      ctx.go('#/plans');
    },
  });
  for (const k of ['storage_mb', 'bandwidth_mb']) f.querySelector(`[name="${k}"]`).value = k === 'storage_mb' ? '10240' : '-1';
  return page('New plan', h('div', { class: 'card' }, f));
}
