// Provisioning by hand: pick a customer, a plan and a username; the account is made on
// the best server (or the one chosen). One idempotency key per form, so a double click
// or a resubmit after a network error returns the same account instead of a second one.

import { get, post } from '../api.js';
import { alert, badge, countText, facts, form, h, options, page } from '../dom.js';

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'ui-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The provisioning form and, after it, the new account's credentials (shown once). */
export async function provision(ctx) {
  const [customers, plans, servers] = await Promise.all([
    get('/api/v1/customers?per_page=200'),
    get('/api/v1/plans'),
    get('/api/v1/nextpanel/servers'),
  ]);
  if (!customers.items.length || !plans.length || !servers.length) {
    return page('Provision hosting', alert('info', 'Provisioning needs at least one customer, one plan on sale and one server: ',
      h('a', { href: '#/customers' }, 'customers'), ', ', h('a', { href: '#/plans' }, 'plans'), ', ', h('a', { href: '#/servers' }, 'servers'), '.'));
  }
  // The picker lists at most 200 customers; one named in the link is always in it.
  const wanted = ctx.query.get('customer');
  if (wanted && !customers.items.some((c) => String(c.id) === wanted)) {
    customers.items.unshift(await get(`/api/v1/customers/${encodeURIComponent(wanted)}`));
  }
  const more = customers.next_after !== null
    ? `Lists ${customers.items.length} of ${countText(customers)} customers: for another, use "Provision hosting now" on their page under Customers.`
    : null;
  const key = newKey();
  const result = h('div', { id: 'provision-result' });
  const f = form({
    id: 'provision-form',
    submit: 'Create hosting account',
    fields: [
      { name: 'customer_id', label: 'Customer', type: 'select', value: wanted || '', help: more,
        options: options(customers.items, (c) => c.id, (c) => `${c.full_name} <${c.email}>`) },
      { name: 'plan_id', label: 'Plan', type: 'select', options: options(plans, (p) => p.id, (p) => p.name) },
      { name: 'username', label: 'Hosting username', help: 'Lower-case letters and digits, starting with a letter.' },
      { name: 'server_id', label: 'Server', type: 'select',
        options: options(servers.filter((s) => s.is_active), (s) => s.id, (s) => `${s.name} (${s.current_accounts}/${s.capacity})`, 'automatic: the best healthy server') },
      { name: 'password', label: 'Panel password (optional)', type: 'password', autocomplete: 'new-password', help: 'Empty: a strong one is generated and shown once.' },
    ],
    onSubmit: async (v) => {
      const a = await post('/api/v1/nextpanel/provision', {
        customer_id: Number(v.customer_id), plan_id: Number(v.plan_id), username: v.username,
        server_id: v.server_id ? Number(v.server_id) : null, password: v.password || null,
      }, { 'Idempotency-Key': key });
      f.querySelector('button[type="submit"]').disabled = true;
      result.replaceChildren(
        alert(a.state === 'failed' ? 'error' : 'ok', a.state === 'active'
          ? `Account ${a.username} is active. The customer is emailed these details too.`
          : `Account ${a.username} is ${a.state}; it continues in the background.`),
        h('div', { class: 'card' }, facts([
          ['State', badge(a.state)],
          ['Username', h('span', { class: 'mono', id: 'new-username' }, a.username)],
          ['Password', a.generated_password ? h('span', { class: 'secret', id: 'new-password' }, a.generated_password) : 'as typed'],
          ['License key', h('span', { class: 'mono', id: 'new-license' }, a.license_key || '—')],
          ['Panel', a.panel_url ? h('a', { href: a.panel_url, rel: 'noopener noreferrer', target: '_blank' }, a.panel_url) : '—'],
          ['Failure', a.failure_reason],
        ])),
        h('p', {}, h('a', { href: `#/accounts/${a.id}` }, 'Open the account'), ' · ', h('a', { href: '#/provision', onclick: (e) => { e.preventDefault(); ctx.go('#/provision'); } }, 'Provision another')));
    },
  });
  return page('Provision hosting', h('div', { class: 'card' }, f), result);
}
