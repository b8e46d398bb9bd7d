// One license as an admin handles it: term, quotas in use, extend, suspend, cancel.

import { get, patch, post } from '../api.js';
import { badge, button, facts, h, page, table, when } from '../dom.js';
import { quotaText } from '../plan-text.js';

/** The license, what is in use under it, and what an admin may change. */
export async function license(ctx) {
  const id = ctx.params.id;
  const l = await get(`/api/v1/licenses/${encodeURIComponent(id)}`);
  const out = h('div', { id: 'license-result' });
  const usage = Object.entries(l.usage);
  const actions = !ctx.admin || l.status === 'cancelled' ? null : h('div', { class: 'actions' },
    button('Extend by one period', async () => {
      await patch(`/api/v1/licenses/${id}`, { extend_cycles: 1 });
      ctx.redraw(`Extended by one ${l.billing_cycle} period.`);
    }, { cls: 'secondary', where: out }),
    l.status === 'active'
      ? button('Suspend', async () => { await patch(`/api/v1/licenses/${id}`, { status: 'suspended' }); ctx.redraw('License suspended: its servers refuse new resources.'); },
        { cls: 'secondary', where: out })
      : button('Reactivate', async () => { await patch(`/api/v1/licenses/${id}`, { status: 'active' }); ctx.redraw('License active again.'); },
        { cls: 'secondary', where: out }),
    button('Cancel license', async () => {
      const reason = window.prompt('Why is this license cancelled?', 'cancelled by an administrator');
      if (reason === null) return;
      await post(`/api/v1/licenses/${id}/cancel`, { reason });
      ctx.redraw('License cancelled.');
    }, { cls: 'danger', where: out }));
  return page(`License ${l.license_key}`, out,
    h('div', { class: 'card' }, facts([
      ['Status', badge(l.status)],
      ['Customer', h('a', { href: `#/customers/${l.customer_id}` }, `#${l.customer_id}`)],
      ['Billing', l.billing_cycle],
      ['Active since', when(l.activated_at)],
      ['Expires', when(l.expires_at)],
      ['Cancelled', l.cancelled_at ? when(l.cancelled_at) : null],
      ['Quotas', quotaText(l.quotas)],
    ])),
    actions,
    h('h2', {}, 'In use'),
    table([
      { label: 'Resource', value: ([name]) => name },
      { label: 'Count', value: ([, n]) => n, num: true },
    ], usage, 'Nothing reported yet.'));
}
