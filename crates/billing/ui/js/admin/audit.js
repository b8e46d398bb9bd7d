// The audit log: who changed what, newest first.

import { get, query } from '../api.js';
import { h, page, pager, table, when } from '../dom.js';

/** Every recorded change, optionally of one kind of thing. */
export async function audit(ctx) {
  const entity = ctx.query.get('entity_type') || '';
  const at = Number(ctx.query.get('page') || 1);
  const list = await get('/api/v1/audit-log' + query({ entity_type: entity, page: at }));
  const brief = (v) => (v === null || v === undefined ? '' : JSON.stringify(v));
  return page('Audit log',
    table([
      { label: 'When', value: (e) => when(e.created_at) },
      { label: 'Who', value: (e) => e.actor_label || e.actor_kind },
      { label: 'Action', value: (e) => h('span', { class: 'mono' }, e.action) },
      { label: 'What', value: (e) => `${e.entity_type}${e.entity_id === null ? '' : ` #${e.entity_id}`}` },
      { label: 'Change', value: (e) => h('span', { class: 'mono muted' }, [brief(e.before), e.before ? ' → ' : '', brief(e.after)]) },
    ], list.items, 'Nothing recorded yet.'),
    pager(list, (p) => ctx.go('#/audit' + query({ entity_type: entity, page: p }))));
}
