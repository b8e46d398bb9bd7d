// The signed-in user's profile and password.

import { forgetSession, get, patch } from '../api.js';
import { form, h, invalid, page } from '../dom.js';
import { billingForm } from '../billing-address.js';

/** Name, company, phone; a new password needs the current one. */
export async function profile(ctx) {
  const me = await get('/api/v1/me');
  const details = form({
    id: 'profile-form',
    submit: 'Save',
    fields: [
      { name: 'full_name', label: 'Full name', value: me.full_name },
      { name: 'company_name', label: 'Company', value: me.company_name || '' },
      { name: 'phone', label: 'Phone', value: me.phone || '' },
    ],
    onSubmit: async (v) => {
      await patch('/api/v1/me', { full_name: v.full_name, company_name: v.company_name || null, phone: v.phone || null });
      ctx.redraw('Profile saved.');
    },
  });
  const password = form({
    id: 'password-form',
    submit: 'Change password',
    fields: [
      { name: 'current_password', label: 'Current password', type: 'password', autocomplete: 'current-password' },
      { name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', help: 'At least 10 characters.' },
    ],
    onSubmit: async (v) => {
      if (!v.current_password) throw invalid('current_password', 'Enter your current password.');
      await patch('/api/v1/me', { current_password: v.current_password, new_password: v.new_password });
      // A new password signs out every session, this one too.
      forgetSession();
      ctx.signedIn(null);
      ctx.flash('ok', 'Password changed. Sign in with the new one.');
      ctx.go('#/login');
    },
  });
  return page('Profile', h('p', { class: 'muted' }, me.email, ' · ', h('a', { href: '#/security' }, 'Two-factor sign-in and sessions')),
    h('div', { class: 'card' }, details),
    h('h2', {}, 'Billing address'),
    h('div', { class: 'card' }, billingForm('billing-form', me.billing, async (billing) => {
      await patch('/api/v1/me', { billing });
      ctx.redraw('Billing address saved; new invoices are addressed to it.');
    })),
    h('h2', {}, 'Password'), h('div', { class: 'card' }, password));
}
