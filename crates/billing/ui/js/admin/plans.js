// Hosting plans: what customers can buy, at which prices, with which quotas.

import { get, patch, post } from '../api.js';
import { badge, button, form, h, invalid, money, page, parseMoney, table } from '../dom.js';
import { CYCLES, QUOTAS, priceText, quotaText } from '../plan-text.js';

/** Every plan, including retired ones. */
export async function plans(ctx) {
  const list = await get('/api/v1/plans?include_inactive=true');
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
    ], list, 'No plans yet.'));
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
      const p = await post('/api/v1/plans', {
        name: v.name, description: v.description, currency, prices, setup_fee: setup, quotas,
        account_type: v.account_type, package_id: v.package_id ? Number(v.package_id) : null,
      });
      ctx.flash('ok', `Plan ${p.name} created.`);
      ctx.go('#/plans');
    },
  });
  for (const k of ['storage_mb', 'bandwidth_mb']) f.querySelector(`[name="${k}"]`).value = k === 'storage_mb' ? '10240' : '-1';
  return page('New plan', h('div', { class: 'card' }, f));
}
