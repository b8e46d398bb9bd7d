// Public pages: sign in, register, password reset.

import { get, login as signIn, post, secondFactor } from './api.js';
import { alert, form, h, invalid, page } from './dom.js';

/** Sign-in form, then the second factor when the account has one; goes back to where
 * the user was sent from. */
export async function login(ctx) {
  const next = ctx.query.get('next');
  const card = h('div', { class: 'card' });
  const enter = async () => {
    const me = await get('/api/v1/auth/me');
    ctx.signedIn(me);
    const staff = me.role === 'admin' || me.role === 'staff';
    const safeNext = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : null;
    ctx.go(safeNext || (staff ? '#/dashboard' : '#/my'));
  };
  const codeStep = (challenge) => h('div', {},
    h('p', {}, 'Enter the 6-digit code from your authenticator app. Lost your phone? Enter one of your recovery codes instead.'),
    form({
      id: 'code-form',
      submit: 'Verify',
      fields: [{ name: 'code', label: 'Code', autocomplete: 'one-time-code', required: true }],
      onSubmit: async (v) => {
        if (!v.code) throw invalid('code', 'Enter the code your app shows.');
        await secondFactor(challenge, v.code);
        await enter();
      },
    }));
  card.append(form({
    id: 'login-form',
    submit: 'Sign in',
    fields: [
      { name: 'email', label: 'Email', type: 'email', autocomplete: 'username', required: true },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true },
    ],
    onSubmit: async (v) => {
      if (!v.email) throw invalid('email', 'Enter your email address.');
      if (!v.password) throw invalid('password', 'Enter your password.');
      const challenge = await signIn(v.email, v.password);
      if (challenge) {
        card.replaceChildren(codeStep(challenge));
        card.querySelector('input[name=code]').focus();
        return;
      }
      await enter();
    },
  }));
  return h('div', { class: 'narrow' }, page('Sign in',
    card,
    h('p', {}, h('a', { href: '#/register' }, 'Create an account'), ' · ', h('a', { href: '#/reset' }, 'Forgot your password?'))));
}

/** Customer self-registration (when the server allows it). */
export async function register(ctx) {
  return h('div', { class: 'narrow' }, page('Create your account',
    h('div', { class: 'card' }, form({
      id: 'register-form',
      submit: 'Create account',
      fields: [
        { name: 'full_name', label: 'Full name', autocomplete: 'name' },
        { name: 'email', label: 'Email', type: 'email', autocomplete: 'email' },
        { name: 'company_name', label: 'Company (optional)', autocomplete: 'organization' },
        { name: 'country', label: 'Country (two letters, like DE or US)', autocomplete: 'country', field: 'billing.country', help: 'Decides the tax on your invoices; add your full billing address under Profile.' },
        { name: 'tax_id', label: 'VAT number (businesses, optional)', field: 'billing.tax_id' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', help: 'At least 10 characters.' },
      ],
      onSubmit: async (v) => {
        const made = await post('/api/v1/auth/register', {
          email: v.email, password: v.password, full_name: v.full_name, company_name: v.company_name || null,
          billing: { country: v.country || null, tax_id: v.tax_id || null },
        });
        // Registration answers bearer tokens (for scripts); the console ends that session
        // and opens its own cookie session instead.
        await fetch('/api/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${made.access_token}` } });
        await signIn(v.email, v.password);
        ctx.signedIn(await get('/api/v1/auth/me'));
        ctx.flash('ok', 'Welcome! Your account is ready. Pick a plan to get hosting.');
        ctx.go('#/order');
      },
    })),
    h('p', {}, 'Already have an account? ', h('a', { href: '#/login' }, 'Sign in'))));
}

/** Password reset: ask for a code by email, then set a new password with it. */
export async function reset(ctx) {
  const token = ctx.query.get('token') || '';
  const status = h('div', {});
  const ask = form({
    id: 'reset-request-form',
    submit: 'Email me a code',
    fields: [{ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' }],
    onSubmit: async (v) => {
      await post('/api/v1/auth/password-reset', { email: v.email });
      status.replaceChildren(alert('ok', 'If that address has an account, a code is on its way. It is valid for a limited time.'));
    },
  });
  const confirm = form({
    id: 'reset-confirm-form',
    submit: 'Set new password',
    fields: [
      { name: 'token', label: 'Code from the email', value: token },
      { name: 'new_password', label: 'New password', type: 'password', autocomplete: 'new-password', help: 'At least 10 characters.' },
    ],
    onSubmit: async (v) => {
      await post('/api/v1/auth/password-reset/confirm', { token: v.token, new_password: v.new_password });
      ctx.flash('ok', 'Your password is changed. Sign in with the new one.');
      ctx.go('#/login');
    },
  });
  return h('div', { class: 'narrow' }, page('Reset your password',
    token ? null : h('div', { class: 'card' }, h('h2', {}, '1. Get a code'), ask, status),
    h('div', { class: 'card' }, h('h2', {}, token ? 'Choose a new password' : '2. Choose a new password'), confirm)));
}
