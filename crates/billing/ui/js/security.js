// The signed-in user's security: two-factor sign-in (an authenticator app, with
// recovery codes) and the places they are signed in.

import { del, get, post } from './api.js';
import { alert, badge, button, facts, form, h, invalid, page, table, when } from './dom.js';

/** Two-factor sign-in and sessions of whoever is signed in. */
export async function security(ctx) {
  const [status, sessions] = await Promise.all([get('/api/v1/auth/two-factor'), get('/api/v1/auth/sessions')]);
  return page('Security',
    h('h2', {}, 'Two-factor sign-in'),
    h('div', { class: 'card', id: 'two-factor' }, status.enabled ? enabledCard(ctx, status) : setupCard(ctx, status)),
    h('h2', {}, 'Where you are signed in'),
    sessionsTable(ctx, sessions));
}

function enabledCard(ctx, status) {
  const codes = h('div', { id: 'recovery-codes' });
  const renew = form({
    id: 'renew-codes-form', cls: 'inline',
    submit: 'New recovery codes',
    fields: [{ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' }],
    onSubmit: async (v) => {
      if (!v.password) throw invalid('password', 'Enter your password.');
      const r = await post('/api/v1/auth/two-factor/recovery-codes', { password: v.password });
      codes.replaceChildren(recoveryList(r.recovery_codes));
    },
  });
  const off = status.required ? h('p', { class: 'muted' }, 'The admins require two-factor sign-in for staff, so it stays on.') : form({
    id: 'disable-two-factor-form',
    submit: 'Turn off two-factor sign-in',
    fields: [
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
      { name: 'code', label: 'Code from your app (or a recovery code)', autocomplete: 'one-time-code' },
    ],
    onSubmit: async (v) => {
      if (!v.password) throw invalid('password', 'Enter your password.');
      if (!v.code) throw invalid('code', 'Enter the code your app shows.');
      await post('/api/v1/auth/two-factor/disable', v);
      ctx.redraw('Two-factor sign-in is off. Signing in needs only your password now.');
    },
  });
  return h('div', {},
    alert('ok', 'Two-factor sign-in is on: signing in asks for a code from your authenticator app.'),
    facts([['On since', when(status.enabled_at)], ['Recovery codes left', String(status.recovery_codes_left)]]),
    renew, codes, h('h3', {}, 'Turn it off'), off);
}

function setupCard(ctx, status) {
  const box = h('div', {});
  const start = form({
    id: 'two-factor-setup-form',
    submit: 'Set up an authenticator app',
    fields: [{ name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', help: 'To confirm it is you.' }],
    onSubmit: async (v) => {
      if (!v.password) throw invalid('password', 'Enter your password.');
      const setup = await post('/api/v1/auth/two-factor/setup', { password: v.password });
      box.replaceChildren(confirmStep(ctx, setup));
    },
  });
  box.append(
    status.required ? alert('info', 'The admins require two-factor sign-in for your account. Set it up to continue.') : null,
    h('p', {}, 'With two-factor sign-in, signing in needs your password and a code from an authenticator app on your phone (such as Google Authenticator, Aegis or 1Password).'),
    start);
  return box;
}

function confirmStep(ctx, setup) {
  const step = h('div', {});
  const qr = h('img', {
    id: 'two-factor-qr', width: 200, height: 200, alt: 'QR code for your authenticator app',
    src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(setup.qr_svg),
  });
  const confirm = form({
    id: 'two-factor-enable-form',
    submit: 'Turn on',
    fields: [{ name: 'code', label: 'Code the app shows', autocomplete: 'one-time-code' }],
    onSubmit: async (v) => {
      if (!v.code) throw invalid('code', 'Enter the 6-digit code your app shows.');
      const r = await post('/api/v1/auth/two-factor/enable', { code: v.code });
      step.replaceChildren(
        alert('ok', 'Two-factor sign-in is on.'),
        h('p', {}, 'Keep these recovery codes somewhere safe, away from your phone. Each signs you in once if you lose the phone. They are not shown again.'),
        recoveryList(r.recovery_codes),
        button('I have saved them', async () => ctx.redraw('Two-factor sign-in is on.')));
    },
  });
  step.append(
    h('p', {}, '1. Scan this code with your authenticator app.'), qr,
    h('p', {}, 'Cannot scan it? Enter this key in the app instead: ', h('span', { class: 'secret mono', id: 'two-factor-key' }, setup.manual_key)),
    h('p', {}, '2. Enter the 6-digit code the app shows.'), confirm);
  return step;
}

function recoveryList(codes) {
  return h('ul', { class: 'recovery-codes mono', id: 'recovery-code-list' }, codes.map((c) => h('li', {}, c)));
}

const kindText = (kind) => (kind === 'cookie' ? 'Web console' : 'API tokens');

function sessionsTable(ctx, sessions) {
  return table([
    { label: 'How', value: (s) => kindText(s.kind) },
    { label: 'From', value: (s) => s.client_ip || '—' },
    { label: 'Browser or program', value: (s) => s.user_agent || '—' },
    { label: 'Signed in', value: (s) => when(s.created_at) },
    { label: 'Last used', value: (s) => when(s.last_seen_at) },
    {
      label: '', value: (s) => (s.current ? badge('this session') : button('Sign out', async () => {
        await del(`/api/v1/auth/sessions/${s.id}`);
        ctx.redraw('That session is signed out.');
      }, { cls: 'secondary' })),
    },
  ], sessions, 'No other sessions.');
}

/** An admin's view of a user's sessions, with buttons to end them and to reset 2FA. */
export async function userSessions(ctx, userId, where) {
  const sessions = await get(`/api/v1/users/${userId}/sessions`);
  return h('div', { class: 'user-sessions' },
    table([
      { label: 'How', value: (s) => kindText(s.kind) },
      { label: 'From', value: (s) => s.client_ip || '—' },
      { label: 'Browser or program', value: (s) => s.user_agent || '—' },
      { label: 'Signed in', value: (s) => when(s.created_at) },
      { label: 'Last used', value: (s) => when(s.last_seen_at) },
      {
        label: '', value: (s) => button('End', async () => {
          await del(`/api/v1/users/${userId}/sessions/${s.id}`);
          ctx.redraw('Session ended.');
        }, { cls: 'secondary', where }),
      },
    ], sessions, 'Not signed in anywhere.'),
    h('div', { class: 'actions' },
      sessions.length ? button('End all sessions', async () => {
        await del(`/api/v1/users/${userId}/sessions`);
        ctx.redraw('All sessions ended: they must sign in again.');
      }, { cls: 'danger', where, confirm: 'Sign this user out everywhere?' }) : null,
      button('Reset two-factor sign-in', async () => {
        await del(`/api/v1/users/${userId}/two-factor`);
        ctx.redraw('Two-factor sign-in reset: they sign in with the password and can set up a new app.');
      }, { cls: 'secondary', where, confirm: 'Turn off this user\'s second factor (for a lost phone)? They are signed out everywhere.' })));
}
