// One license: its key, term, and how much of each quota is in use.

import { get } from '../api.js';
import { badge, facts, h, page, table, when } from '../dom.js';

const LIMITS = [
  ['Domains', 'max_domains', 'domains'],
  ['Databases', 'max_databases', 'databases'],
  ['Email accounts', 'max_emails', 'emails'],
];

/** The license with "3 of 5" per counted resource, as the servers last reported. */
export async function license(ctx) {
  const l = await get(`/api/v1/me/licenses/${encodeURIComponent(ctx.params.id)}`);
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
    h('p', { class: 'muted' }, 'Counts come from your control panel and are refreshed regularly.'));
}
