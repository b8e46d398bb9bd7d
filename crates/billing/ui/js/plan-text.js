// Plans in words: billing cycles, prices and quotas, for the console and the portal.

import { money } from './dom.js';

export const CYCLES = [['monthly', 'Monthly'], ['quarterly', 'Quarterly'], ['semiannual', 'Every 6 months'], ['annual', 'Annual']];
export const QUOTAS = [
  ['max_accounts', 'Hosting accounts'], ['max_domains', 'Domains'], ['max_databases', 'Databases'],
  ['max_emails', 'Email accounts'], ['storage_mb', 'Storage (MB)'], ['bandwidth_mb', 'Bandwidth (MB)'],
];

const COUNTED = [
  ['max_accounts', 'hosting account'], ['max_domains', 'domain'], ['max_databases', 'database'], ['max_emails', 'email account'],
];

function size(mb) {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GB` : `${mb} MB`;
}

/** "1 hosting account, 5 domains, …, 10 GB storage, unlimited bandwidth"; -1 is unlimited. */
export function quotaText(q) {
  const counted = COUNTED.map(([k, noun]) => (q[k] === -1 ? `unlimited ${noun}s` : `${q[k]} ${noun}${q[k] === 1 ? '' : 's'}`));
  const sized = [['storage_mb', 'storage'], ['bandwidth_mb', 'bandwidth']]
    .map(([k, noun]) => (q[k] === -1 ? `unlimited ${noun}` : `${size(q[k])} ${noun}`));
  return [...counted, ...sized].join(', ');
}

/** The plan's prices, one per offered cycle. */
export function priceText(p) {
  const own = CYCLES.filter(([c]) => p.prices[c] !== undefined).map(([c]) => `${money(p.prices[c], p.currency)}/${c}`);
  const others = Object.entries(p.other_prices || {}).flatMap(([currency, o]) =>
    CYCLES.filter(([c]) => o.prices[c] !== undefined).map(([c]) => `${money(o.prices[c], currency)}/${c}`));
  return [...own, ...others].join(' · ');
}
