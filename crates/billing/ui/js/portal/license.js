// One license: its key, term, and how much of each quota is in use.

import { del, get, post } from '../api.js';
import { alert, badge, button, facts, form, h, money, page, table, when } from '../dom.js';

const LIMITS = [
  ['Domains', 'max_domains', 'domains'],
  ['Databases', 'max_databases', 'databases'],
  ['Email accounts', 'max_emails', 'emails'],
];

/** Moving to another plan: the pending change with a cancel button, or the form. */
function planChange(ctx, l, plans, changes) {
  const current = plans.find((p) => p.id === l.plan_id);
  const pending = changes.find((c) => c.state === 'awaiting_payment' || c.state === 'scheduled');
  const name = (id) => (plans.find((p) => p.id === id) || { name: `plan ${id}` }).name;
  const out = h('div', {});
  if (pending) {
    const what = pending.state === 'scheduled'
      ? `Moving to ${name(pending.to_plan_id)} on ${when(pending.effective_at)}.`
      : `Moving to ${name(pending.to_plan_id)} once invoice ${pending.invoice.number} (${pending.invoice.total_display}) is paid.`;
    return h('div', { class: 'card', id: 'plan-change' }, out, alert('info', what),
      h('div', { class: 'actions' },
        pending.invoice && pending.invoice.status === 'open' ? h('a', { href: `#/my/invoices/${pending.invoice.id}` }, h('button', { type: 'button' }, 'Pay the difference')) : null,
        button('Cancel the change', async () => {
          await del(`/api/v1/me/licenses/${l.id}/plan-change`);
          ctx.redraw('The plan change is cancelled.');
        }, { cls: 'secondary', where: out })));
  }
  const others = plans.filter((p) => p.id !== l.plan_id && current && p.account_type === current.account_type
    && p.currency === current.currency && p.prices[l.billing_cycle] !== undefined);
  if (!others.length) return null;
  const price = (p) => `${p.name}: ${money(p.prices[l.billing_cycle], p.currency)} ${l.billing_cycle}`;
  return h('div', { class: 'card', id: 'plan-change' }, h('p', {}, 'You are on ', h('strong', {}, current ? price(current) : `plan ${l.plan_id}`), '.'), form({
    id: 'plan-change-form',
    submit: 'Change plan',
    fields: [
      { name: 'plan_id', label: 'New plan', type: 'select', options: others.map((p) => [p.id, price(p)]) },
      {
        name: 'timing', label: 'If it costs less', type: 'select', value: 'period_end',
        options: [['period_end', 'switch at the end of the paid period'], ['now', 'switch now; the unused difference becomes credit']],
        help: 'An upgrade starts once you pay the difference for the rest of this period.',
      },
    ],
    onSubmit: async (v) => {
      const c = await post(`/api/v1/me/licenses/${l.id}/plan-change`, { plan_id: Number(v.plan_id), timing: v.timing });
      if (c.state === 'awaiting_payment') {
        ctx.flash('info', `Pay ${c.invoice.total_display} for the rest of this period and the new plan starts.`);
        ctx.go(`#/my/invoices/${c.invoice.id}`);
      } else if (c.state === 'scheduled') {
        ctx.redraw(`You move to ${name(c.to_plan_id)} at the end of the paid period.`);
      } else {
        ctx.redraw(c.credit ? `Done: you are on ${name(c.to_plan_id)}, and ${money(c.credit, c.currency)} is credited to your next invoices.` : `Done: you are on ${name(c.to_plan_id)}.`);
      }
    },
  }));
}

/** The license with "3 of 5" per counted resource, as the servers last reported. */
export async function license(ctx) {
  const [l, plans] = await Promise.all([get(`/api/v1/me/licenses/${encodeURIComponent(ctx.params.id)}`), get('/api/v1/plans')]);
  const changes = await get(`/api/v1/me/licenses/${l.id}/plan-changes`);
  const planList = Array.isArray(plans) ? plans : plans.items;
  const rows = LIMITS.map(([label, limit, used]) => ({ label, limit: l.quotas[limit], used: l.usage[used] || 0 }));
  return page(`License ${l.license_key}`,
    h('div', { class: 'card' }, facts([
      ['Key', h('span', { class: 'mono' }, l.license_key)],
      ['Status', badge(l.status)],
      ['Billing', l.billing_cycle],
      ['Active since', when(l.activated_at)],
      ['Renews or expires', when(l.expires_at)],
    ])),
    h('h2', {}, 'Usage'),
    table([
      { label: 'Resource', value: (r) => r.label },
      { label: 'In use', value: (r) => r.used, num: true },
      { label: 'Plan limit', value: (r) => (r.limit === -1 ? 'unlimited' : r.limit), num: true },
      {
        label: '', value: (r) => (r.limit > 0 && r.used >= r.limit ? badge('limit reached')
          : r.limit > 0 && r.used * 5 >= r.limit * 4 ? badge('near the limit') : ''),
      },
    ], rows),
    h('p', { class: 'muted' }, 'Counts come from your control panel and are refreshed regularly.'),
    l.status === 'active' ? [h('h2', {}, 'Change plan'), planChange(ctx, l, planList, changes)] : null);
}
