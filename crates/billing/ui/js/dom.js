// Building blocks for views. Every piece of data goes into the page as text
// (textContent, attribute values), never as HTML, so customer-supplied names cannot
// inject markup; the Content-Security-Policy forbids inline script besides.

import { ApiError, query } from './api.js';

/** An element: `h('a', {href: '#/x', class: 'c'}, 'text', child)`. `on*` props are listeners. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A page: its heading and content. */
export function page(title, ...content) {
  document.title = `${title} · nextpanel-bill`;
  return h('section', { class: 'page' }, h('h1', {}, title), ...content);
}

/** A table; `columns` are `{label, value: row => text|Node, num}`. */
export function table(columns, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r)))))));
}

/** Label/value pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** A coloured state word. */
export function badge(word) {
  const tone = {
    active: 'good', online: 'good', paid: 'good', done: 'good', sent: 'good', yes: 'good',
    pending: 'warn', provisioning: 'warn', queued: 'warn', running: 'warn', sending: 'warn', open: 'warn', suspended: 'warn', disabled: 'warn',
    failed: 'bad', dead: 'bad', 'limit reached': 'bad', 'near the limit': 'warn', offline: 'bad', terminated: 'bad', expired: 'bad', cancelled: 'bad', void: 'bad', no: 'bad',
  }[word] || '';
  return h('span', { class: `badge ${tone}` }, word);
}

/** A message box. */
export function alert(kind, ...content) {
  return h('div', { class: `alert ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

/** Digits after the point for an ISO currency (JPY 0, USD 2, KWD 3). */
export function exponent(currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** Integer minor units as text, built from digits so no float ever rounds money. */
export function money(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  const d = exponent(currency);
  const neg = minor < 0;
  const digits = String(Math.abs(minor)).padStart(d + 1, '0');
  const whole = digits.slice(0, digits.length - d) || '0';
  const frac = d ? '.' + digits.slice(digits.length - d) : '';
  return `${neg ? '-' : ''}${whole}${frac} ${currency}`;
}

/**
 * "9.99" → 999 for USD, exactly; null when the text is not an amount with at most the
 * currency's digits after the point.
 */
export function parseMoney(text, currency) {
  const d = exponent(currency);
  const m = /^\s*(\d{1,12})(?:\.(\d*))?\s*$/.exec(text);
  if (!m || (m[2] && m[2].length > d)) return null;
  return Number(m[1] + (m[2] || '').padEnd(d, '0'));
}

/** A timestamp as `2026-11-25 16:50 UTC`. */
export function when(iso) {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

/** Shows an error next to the field it names, or above the form. */
function showError(form, error) {
  const box = form.querySelector('.form-error');
  const message = error instanceof ApiError ? error.message : String(error.message || error);
  const input = error.field ? form.querySelector(`[data-field="${CSS.escape(error.field)}"]`) : null;
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    const slot = input.closest('.field').querySelector('.error');
    slot.textContent = message;
    input.focus();
  } else {
    box.replaceChildren(alert('error', message));
  }
}

function clearErrors(form) {
  form.querySelector('.form-error').replaceChildren();
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field .error')) el.textContent = '';
}

/**
 * A form. `fields`: `{name, label, type, value, options: [[value, label]], required, help,
 * field (the API's name for it, for errors), autocomplete}`; `onSubmit(values)` may throw
 * an ApiError, shown beside its field. The button is disabled while a submit runs, so a
 * double click sends once.
 */
export function form({ fields, submit, onSubmit, cls = 'stack', id }) {
  const el = h('form', { class: cls, id, novalidate: true }, h('div', { class: 'form-error' }));
  for (const f of fields) {
    const inputId = `${id || 'f'}-${f.name}`;
    let input;
    if (f.type === 'select') {
      input = h('select', { id: inputId, name: f.name },
        f.options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(f.value ?? '') }, label)));
    } else if (f.type === 'textarea') {
      input = h('textarea', { id: inputId, name: f.name, rows: 3 }, f.value ?? '');
    } else {
      input = h('input', {
        id: inputId, name: f.name, type: f.type || 'text', value: f.value ?? '',
        required: f.required, placeholder: f.placeholder, autocomplete: f.autocomplete || 'off',
      });
    }
    input.dataset.field = f.field || f.name;
    el.append(h('div', { class: 'field' },
      h('label', { for: inputId }, f.label), input,
      f.help ? h('span', { class: 'help' }, f.help) : null,
      h('span', { class: 'error', 'aria-live': 'polite' })));
  }
  const button = h('button', { type: 'submit' }, submit);
  el.append(h('div', {}, button));
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    clearErrors(el);
    const values = Object.fromEntries(new FormData(el).entries());
    for (const [k, v] of Object.entries(values)) values[k] = typeof v === 'string' ? v.trim() : v;
    button.disabled = true;
    try {
      await onSubmit(values, el);
    } catch (e) {
      showError(el, e);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

/** A local validation failure, shown like the API's. */
export function invalid(field, message) {
  return new ApiError(422, 'validation_failed', message, field);
}

/** A button that runs `action` once at a time and shows its failure in `where`. */
export function button(label, action, { cls, confirm: question, where } = {}) {
  const b = h('button', { type: 'button', class: cls });
  b.textContent = label;
  b.addEventListener('click', async () => {
    if (b.disabled) return;
    if (question && !window.confirm(question)) return;
    b.disabled = true;
    try {
      await action();
    } catch (e) {
      const target = where || document.getElementById('flash');
      target.replaceChildren(alert('error', e.message || String(e)));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** How many items a list answer counted: its `total`, or "more than N" past the count limit. */
export function countText(list) {
  if (list.total !== null) return String(list.total);
  return list.total_more_than === null ? 'more' : `more than ${list.total_more_than.toLocaleString('en')}`;
}

/**
 * Previous/next links for a paged list answer `{items, page, per_page, total,
 * total_more_than, next_after}`. Past the count limit the last page is unknown, so Next
 * follows `next_after`'s promise that more items exist.
 */
export function pager(list, go) {
  const counted = list.total !== null;
  const pages = counted ? Math.max(1, Math.ceil(list.total / list.per_page)) : null;
  if (pages === 1) return h('div', { class: 'pager' }, `${list.total} in all`);
  const where = counted ? `page ${list.page} of ${pages}` : `page ${list.page}`;
  return h('div', { class: 'pager' },
    list.page > 1 ? button('Previous', () => go(list.page - 1), { cls: 'secondary' }) : null,
    `${where} (${countText(list)} in all)`,
    list.next_after !== null ? button('Next', () => go(list.page + 1), { cls: 'secondary' }) : null);
}

/** A select's options from a list, with an optional first "any" choice. */
export function options(items, value, label, any) {
  return [...(any ? [['', any]] : []), ...items.map((i) => [value(i), label(i)])];
}

/** A one-choice filter above a list: `?name=value` on `route`; "any" for none. */
export function filter(ctx, route, name, label, values) {
  return form({
    id: `${route.slice(2)}-filter`, cls: 'inline', submit: 'Show',
    fields: [{ name, label, type: 'select', value: ctx.query.get(name) || '', options: [['', 'any'], ...values.map((v) => [v, v])] }],
    onSubmit: async (v) => ctx.go(route + query({ [name]: v[name] })),
  });
}
