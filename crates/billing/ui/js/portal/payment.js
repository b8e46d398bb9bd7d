// The customer's saved card and automatic payment of renewals.

import { del, get, post, put } from '../api.js';
import { alert, button, facts, h, page } from '../dom.js';

/** The saved card (brand, last four digits, expiry), autopay on or off, and the buttons to change them. */
export async function payment(ctx) {
  const s = await get('/api/v1/me/payment-method');
  const out = h('div', { id: 'payment-result' });
  const card = s.card
    ? h('div', { class: 'card', id: 'saved-card' }, facts([
      ['Card', `${s.card.brand} ending in ${s.card.last4}`],
      ['Expires', `${String(s.card.exp_month).padStart(2, '0')}/${s.card.exp_year}`],
    ]))
    : h('p', { class: 'muted', id: 'saved-card' }, 'No card is saved. Save one and renewals are paid on their due date without you doing anything.');
  const saved = new URLSearchParams(location.hash.split('?')[1] || '').get('saved');
  return page('Payment method', out,
    saved ? alert('ok', 'Your card is being saved; it shows here within a moment.') : null,
    card,
    h('div', { class: 'actions' },
      button(s.card ? 'Replace card' : 'Save a card', async () => {
        const link = await post('/api/v1/me/payment-method/checkout');
        out.replaceChildren(alert('info', 'Taking you to the secure card page…'));
        window.location.assign(link.url);
      }, { where: out }),
      s.card ? button('Remove card', async () => {
        const after = await del('/api/v1/me/payment-method');
        ctx.redraw(after.warning ? `Card removed. ${after.warning}` : 'Card removed.');
      }, { cls: 'danger', where: out, confirm: 'Remove the saved card?' }) : null),
    h('h2', {}, 'Automatic payment'),
    h('p', { id: 'autopay-state' }, s.autopay
      ? 'On: renewals are charged to the saved card on their due date. If the bank asks for your confirmation, we email you a link.'
      : 'Off: you pay each renewal yourself from its invoice.'),
    h('div', { class: 'actions' },
      button(s.autopay ? 'Turn automatic payment off' : 'Turn automatic payment on', async () => {
        const after = await put('/api/v1/me/autopay', { enabled: !s.autopay });
        ctx.redraw(after.warning ? `Saved. ${after.warning}` : 'Saved.');
      }, { cls: 'secondary', where: out })));
}
