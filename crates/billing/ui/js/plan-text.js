// Plans in words: billing cycles, prices and quotas, for the console and the portal.

import { money } from './dom.js';

export const CYCLES = [['monthly', 'Monthly'], ['quarterly', 'Quarterly'], ['semiannual', 'Every 6 months'], ['annual', 'Annual']];
export const QUOTAS = [
  ['max_accounts', 'Hosting accounts'], ['max_domains', 'Domains'], ['max_databases', 'Databases'],
  ['max_emails', 'Email accounts'], ['storage_mb', 'Storage (MB)'], ['bandwidth_mb', 'Bandwidth (MB)'],
];

/** "1 hosting accounts, 5 domains, …" in words; -1 is unlimited. */
export function quotaText(q) {
  return QUOTAS.map(([k, label]) => `${q[k] === -1 ? 'unlimited' : q[k]} ${label.toLowerCase()}`).join(', ');
}

/** The plan's prices, one per offered cycle. */
export function priceText(p) {
  return CYCLES.filter(([c]) => p.prices[c] !== undefined).map(([c]) => `${money(p.prices[c], p.currency)}/${c}`).join(' · ');
}
