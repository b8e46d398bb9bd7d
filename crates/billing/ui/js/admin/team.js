// The team: admin and staff sign-ins, and API keys for automation.

import { del, get, post, put } from '../api.js';
import { alert, badge, button, form, h, page, table, when } from '../dom.js';
import { userSessions } from '../security.js';

/** Admins and staff, API keys; adding either, revoking a key. */
export async function team(ctx) {
  const [users, keys, security] = await Promise.all([
    get('/api/v1/users'), get('/api/v1/api-keys'), get('/api/v1/settings/security')]);
  const sessionsBox = h('div', { id: 'user-sessions' });
  const showSessions = (u) => button('Sessions', async () => {
    sessionsBox.replaceChildren(h('h3', {}, `Sessions of ${u.email}`), await userSessions(ctx, u.id, sessionsBox));
  }, { cls: 'secondary' });
  const policy = form({
    id: 'security-form', cls: 'inline',
    submit: 'Save',
    fields: [{
      name: 'require', label: 'Two-factor sign-in for admins and staff', type: 'select',
      value: security.require_two_factor_for_staff ? 'yes' : 'no',
      options: [['no', 'optional'], ['yes', 'required']],
    }],
    onSubmit: async (v) => {
      const s = await put('/api/v1/settings/security', { require_two_factor_for_staff: v.require === 'yes' });
      ctx.redraw(s.require_two_factor_for_staff
        ? 'Two-factor sign-in is now required: team members without it are asked to set it up.'
        : 'Two-factor sign-in is now optional for the team.');
    },
  });
  const keyRows = Array.isArray(keys) ? keys : keys.items;
  const made = h('div', { id: 'new-key' });
  const addUser = form({
    id: 'user-form',
    submit: 'Add team member',
    fields: [
      { name: 'email', label: 'Email', type: 'email' },
      { name: 'full_name', label: 'Full name' },
      { name: 'role', label: 'Role', type: 'select', options: [['staff', 'Staff (reads everything, changes nothing)'], ['admin', 'Admin']] },
      { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', help: 'At least 10 characters; they can change it under Profile.' },
    ],
    onSubmit: async (v) => {
      const u = await post('/api/v1/users', v);
      ctx.redraw(`${u.email} can now sign in as ${u.role}.`);
    },
  });
  const addKey = form({
    id: 'key-form', cls: 'inline',
    submit: 'Create API key',
    fields: [
      { name: 'name', label: 'What it is for', placeholder: 'monitoring' },
      { name: 'role', label: 'Acts as', type: 'select', options: [['staff', 'staff (read-only)'], ['admin', 'admin']] },
    ],
    onSubmit: async (v) => {
      const k = await post('/api/v1/api-keys', v);
      made.replaceChildren(alert('ok', `Key "${k.name}" (copy it now; it is not shown again): `, h('span', { class: 'secret', id: 'api-key' }, k.api_key)));
    },
  });
  return page('Team and API keys',
    table([
      { label: 'Email', value: (u) => u.email },
      { label: 'Name', value: (u) => u.full_name },
      { label: 'Role', value: (u) => u.role },
      { label: 'Active', value: (u) => badge(u.is_active ? 'yes' : 'no') },
      { label: 'Since', value: (u) => when(u.created_at) },
      { label: '', value: showSessions },
    ], users.items),
    sessionsBox,
    h('div', { class: 'card' }, h('h2', {}, 'Sign-in security'), policy),
    h('div', { class: 'card' }, h('h2', {}, 'Add a team member'), addUser),
    h('h2', {}, 'API keys'),
    made,
    addKey,
    table([
      { label: 'Name', value: (k) => k.name },
      { label: 'Prefix', value: (k) => h('span', { class: 'mono' }, k.prefix) },
      { label: 'Role', value: (k) => k.role },
      { label: 'Created', value: (k) => when(k.created_at) },
      { label: 'Last used', value: (k) => when(k.last_used_at) },
      { label: 'Revoked', value: (k) => (k.revoked_at ? when(k.revoked_at) : '') },
      {
        label: '', value: (k) => (k.revoked_at ? '' : button('Revoke', async () => {
          await del(`/api/v1/api-keys/${k.id}`);
          ctx.redraw(`Key "${k.name}" revoked: it stops working now.`);
        }, { cls: 'danger', confirm: `Revoke the key "${k.name}"? Anything using it stops working.` })),
      },
    ], keyRows, 'No API keys.'));
}
