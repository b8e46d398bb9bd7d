// The two durable queues an admin watches: jobs (provisioning and lifecycle work on
// the panels) and the email outbox.

import { post, get, query } from '../api.js';
import { badge, button, filter, h, page, pager, table, when } from '../dom.js';

/** Jobs, newest first; one that gave up can be run again. */
export async function jobs(ctx) {
  const state = ctx.query.get('state') || '';
  const at = Number(ctx.query.get('page') || 1);
  const list = await get('/api/v1/jobs' + query({ state, page: at }));
  return page('Jobs', filter(ctx, '#/jobs', 'state', 'State', ['queued', 'running', 'done', 'failed', 'dead']),
    table([
      { label: 'Id', value: (j) => j.id, num: true },
      { label: 'Kind', value: (j) => j.kind },
      { label: 'Account', value: (j) => (j.hosting_account_id ? h('a', { href: `#/accounts/${j.hosting_account_id}` }, `#${j.hosting_account_id}`) : '—') },
      { label: 'State', value: (j) => badge(j.state) },
      { label: 'Attempts', value: (j) => `${j.attempts} / ${j.max_attempts}`, num: true },
      { label: 'Result or error', value: (j) => j.last_error || j.result || '' },
      { label: 'Created', value: (j) => when(j.created_at) },
      {
        label: '', value: (j) => (ctx.admin && (j.state === 'dead' || j.state === 'failed') ? button('Retry', async () => {
          await post(`/api/v1/jobs/${j.id}/retry`);
          ctx.redraw(`Job ${j.id} queued again.`);
        }, { cls: 'secondary' }) : ''),
      },
    ], list.items, 'No jobs.'),
    pager(list, (p) => ctx.go('#/jobs' + query({ state, page: p }))));
}

/** The outbox: what went out, what waits, what failed (and resending it). */
export async function emails(ctx) {
  const state = ctx.query.get('state') || '';
  const at = Number(ctx.query.get('page') || 1);
  const list = await get('/api/v1/emails' + query({ state, page: at }));
  return page('Emails', filter(ctx, '#/emails', 'state', 'State', ['queued', 'sending', 'sent', 'failed']),
    table([
      { label: 'To', value: (m) => m.recipient },
      { label: 'Message', value: (m) => m.template.replaceAll('_', ' ') },
      { label: 'State', value: (m) => badge(m.state) },
      { label: 'Attempts', value: (m) => m.attempts, num: true },
      { label: 'Last error', value: (m) => m.last_error || '' },
      { label: 'Created', value: (m) => when(m.created_at) },
      { label: 'Sent', value: (m) => when(m.sent_at) },
      {
        label: '', value: (m) => (ctx.admin && (m.state === 'failed' || m.state === 'sent') ? button('Resend', async () => {
          await post(`/api/v1/emails/${m.id}/resend`);
          ctx.redraw(`Message to ${m.recipient} queued again.`);
        }, { cls: 'secondary', confirm: m.state === 'sent' ? 'This message was delivered. Send it again?' : null }) : ''),
      },
    ], list.items, 'No messages.'),
    pager(list, (p) => ctx.go('#/emails' + query({ state, page: p }))));
}
