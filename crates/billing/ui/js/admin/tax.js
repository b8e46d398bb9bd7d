// Tax: the rates by country, region and dates; whether plan prices include tax; and the
// tax report per period (on screen and as CSV for the accountant).

import { del, get, patch, post, put, query } from '../api.js';
import { alert, badge, button, form, h, invalid, money, page, table } from '../dom.js';

/** "19" or "8.25" (percent) → basis points, exactly; null when it is not such a number. */
export function parseRate(text) {
  const m = /^\s*(\d{1,3})(?:\.(\d{0,2}))?\s*%?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
}

const percent = (bp) => `${(bp / 100).toFixed(2).replace(/\.?0+$/, '')}%`;

function firstOfMonth(d) {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

/** Rates, the inclusive/exclusive setting and the report. */
export async function tax(ctx) {
  const today = new Date().toISOString().slice(0, 10);
  const from = ctx.query.get('from') || firstOfMonth(new Date());
  const to = ctx.query.get('to') || today;
  const [rates, settings, report] = await Promise.all([
    get('/api/v1/tax-rates'), get('/api/v1/settings/tax'), get('/api/v1/reports/tax' + query({ from, to })),
  ]);
  const out = h('div', {});
  const addRate = ctx.admin ? form({
    id: 'tax-rate-form', cls: 'stack',
    submit: 'Add tax rate',
    fields: [
      { name: 'name', label: 'Name on invoices', placeholder: 'VAT' },
      { name: 'rate', label: 'Rate (%)', placeholder: '19', field: 'rate_bp' },
      { name: 'country', label: 'Country (two letters)', placeholder: 'DE' },
      { name: 'region', label: 'Region (optional: state or province)', placeholder: 'CA' },
      { name: 'valid_from', label: 'From', type: 'date', value: today },
      { name: 'valid_to', label: 'To (optional)', type: 'date' },
    ],
    onSubmit: async (v) => {
      const bp = parseRate(v.rate);
      if (bp === null || bp > 10000) throw invalid('rate_bp', 'Enter the rate in percent, 0 to 100, like 19 or 8.25.');
      const r = await post('/api/v1/tax-rates', {
        name: v.name, rate_bp: bp, country: v.country, region: v.region || null,
        valid_from: v.valid_from, valid_to: v.valid_to || null,
      });
      ctx.redraw(`${r.name} ${r.rate_display} for ${r.country}${r.region ? '/' + r.region : ''} added.`);
    },
  }) : null;
  const inclusive = ctx.admin ? form({
    id: 'tax-settings-form', cls: 'inline',
    submit: 'Save',
    fields: [{
      name: 'inclusive', label: 'Plan prices', type: 'select', value: settings.prices_include_tax ? 'yes' : 'no',
      options: [['no', 'exclude tax (tax is added on top)'], ['yes', 'include tax (the price is what the customer pays)']],
    }],
    onSubmit: async (v) => {
      await put('/api/v1/settings/tax', { prices_include_tax: v.inclusive === 'yes' });
      ctx.redraw('Saved. Invoices issued from now on use it; issued ones keep theirs.');
    },
  }) : h('p', {}, `Plan prices ${settings.prices_include_tax ? 'include' : 'exclude'} tax.`);
  const period = form({
    id: 'tax-report-form', cls: 'inline', submit: 'Show',
    fields: [
      { name: 'from', label: 'From', type: 'date', value: from },
      { name: 'to', label: 'To', type: 'date', value: to },
    ],
    onSubmit: async (v) => ctx.go('#/tax' + query({ from: v.from, to: v.to })),
  });
  return page('Tax',
    out,
    h('div', { class: 'card' }, h('h2', {}, 'Prices'), inclusive),
    h('h2', {}, 'Tax rates'),
    table([
      { label: 'Name', value: (r) => r.name },
      { label: 'Rate', value: (r) => r.rate_display, num: true },
      { label: 'Country', value: (r) => r.country },
      { label: 'Region', value: (r) => r.region || 'whole country' },
      { label: 'From', value: (r) => r.valid_from },
      { label: 'To', value: (r) => r.valid_to || '—' },
      { label: 'Used', value: (r) => badge(r.in_use ? 'yes' : 'no') },
      {
        label: '', value: (r) => (!ctx.admin ? '' : r.in_use
          ? (r.valid_to ? '' : button('End today', async () => {
            await patch(`/api/v1/tax-rates/${r.id}`, { valid_to: today });
            ctx.redraw(`${r.name} ${r.rate_display} ends today.`);
          }, { cls: 'secondary', where: out }))
          : button('Delete', async () => {
            await del(`/api/v1/tax-rates/${r.id}`);
            ctx.redraw('Tax rate deleted.');
          }, { cls: 'danger', where: out, confirm: `Delete ${r.name} ${r.rate_display} for ${r.country}?` })),
      },
    ], rates, 'No tax rates: invoices carry no tax.'),
    addRate ? h('div', { class: 'card' }, h('h2', {}, 'Add a tax rate'), addRate) : null,
    h('h2', {}, 'Tax report'),
    h('p', { class: 'muted' }, 'Invoices paid in the period, credit notes issued in it (cash basis). Amounts net of tax.'),
    period,
    table([
      { label: 'Country', value: (r) => r.country || '—' },
      { label: 'Tax', value: (r) => r.tax },
      { label: 'Rate', value: (r) => percent(r.rate_bp), num: true },
      { label: 'Invoices', value: (r) => r.invoices, num: true },
      { label: 'Taxable', value: (r) => money(r.taxable, r.currency), num: true },
      { label: 'Tax', value: (r) => money(r.tax_amount, r.currency), num: true },
      { label: 'Refunded', value: (r) => money(r.refunded_taxable + r.refunded_tax, r.currency), num: true },
      { label: 'Net tax', value: (r) => h('strong', {}, money(r.net_tax, r.currency)), num: true },
    ], report.rows, 'Nothing paid or refunded in this period.'),
    h('p', {}, h('a', { href: '/api/v1/reports/tax.csv' + query({ from, to }), id: 'tax-csv', download: `tax-${from}-${to}.csv` }, 'Download as CSV')),
    rates.length ? null : alert('info', 'Add the rates of the countries you sell to; a customer\'s billing country picks the rate.'));
}
