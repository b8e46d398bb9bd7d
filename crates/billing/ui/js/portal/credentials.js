// The hosting password behind the link of a welcome email: shown once, on request.

import { post } from '../api.js';
import { alert, button, facts, h, page } from '../dom.js';

/** One button shows the password; the link then stops working. */
export async function credentials(ctx) {
  const out = h('div', { id: 'credentials-result' });
  return page('Your hosting password', out,
    h('p', {}, 'The password of your new hosting account is shown once, here. Note it down, then change it after your first login.'),
    h('div', { class: 'actions' }, button('Show my password', async () => {
      const c = await post('/api/v1/me/credentials/reveal', { token: ctx.params.token });
      out.replaceChildren(h('div', { class: 'card' }, facts([
        ['Panel', c.panel_url ? h('a', { href: c.panel_url, class: 'panel-link' }, c.panel_url) : null],
        ['Username', h('code', {}, c.username)],
        ['Password', h('code', { id: 'revealed-password' }, c.password)],
      ])), alert('info', 'This link no longer works: the password is not shown again.'));
    }, { where: out })));
}
