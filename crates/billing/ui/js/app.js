// The console's shell: hash routes, the signed-in user, navigation and flash messages.
// Admins and staff get the admin console; customers get their portal. The API decides
// what each may do; the UI only hides what a role can never use.

import { get, hasSession, logout } from './api.js';
import { alert, h } from './dom.js';
import * as auth from './auth.js';
import * as security from './security.js';
import * as admin from './admin/index.js';
import * as portal from './portal/index.js';

// Staff read what admins see but change nothing, so they get no write-only pages.
const adminNav = [
  ['#/dashboard', 'Dashboard'], ['#/provision', 'Provision'], ['#/customers', 'Customers'],
  ['#/accounts', 'Accounts'], ['#/servers', 'Servers'], ['#/plans', 'Plans'],
  ['#/invoices', 'Invoices'], ['#/tax', 'Tax'], ['#/jobs', 'Jobs'], ['#/emails', 'Emails'], ['#/audit', 'Audit log'], ['#/team', 'Team'],
];
const staffNav = adminNav.filter(([href]) => !['#/provision', '#/servers', '#/plans', '#/team'].includes(href));
const customerNav = [
  ['#/my', 'My hosting'], ['#/my/invoices', 'Invoices'], ['#/my/payment', 'Payment method'], ['#/order', 'Order hosting'],
  ['#/profile', 'Profile'],
];

// [pattern, view, who may open it: 'public' | 'admin' | 'staff' | 'customer' | 'any']
const routes = [
  ['/login', auth.login, 'public'],
  ['/register', auth.register, 'public'],
  ['/reset', auth.reset, 'public'],
  ['/dashboard', admin.dashboard, 'staff'],
  ['/provision', admin.provision, 'admin'],
  ['/customers', admin.customers, 'staff'],
  ['/customers/:id', admin.customer, 'staff'],
  ['/accounts', admin.accounts, 'staff'],
  ['/accounts/:id', admin.account, 'staff'],
  ['/servers', admin.servers, 'admin'],
  ['/servers/new', admin.newServer, 'admin'],
  ['/servers/:id', admin.server, 'admin'],
  ['/plans', admin.plans, 'admin'],
  ['/plans/new', admin.newPlan, 'admin'],
  ['/invoices', admin.invoices, 'staff'],
  ['/invoices/:id', admin.invoice, 'staff'],
  ['/jobs', admin.jobs, 'staff'],
  ['/emails', admin.emails, 'staff'],
  ['/audit', admin.audit, 'staff'],
  ['/licenses/:id', admin.license, 'staff'],
  ['/team', admin.team, 'admin'],
  ['/tax', admin.tax, 'staff'],
  ['/my', portal.home, 'customer'],
  ['/my/invoices', portal.invoices, 'customer'],
  ['/my/invoices/:id', portal.invoice, 'customer'],
  ['/my/licenses/:id', portal.license, 'customer'],
  ['/my/payment', portal.payment, 'customer'],
  ['/my/credentials/:token', portal.credentials, 'customer'],
  ['/order', portal.order, 'customer'],
  ['/profile', portal.profile, 'any'],
  ['/security', security.security, 'any'],
];

let me = null;
let pending = null;

/** Shows a message on the next page drawn (after a navigation) or now. */
export function flash(kind, text) {
  pending = { kind, text };
}

/** Goes to a hash route (drawing it even when it is the current one). */
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function match(path) {
  for (const [pattern, view, who] of routes) {
    const p = pattern.split('/');
    const s = path.split('/');
    if (p.length !== s.length) continue;
    const params = {};
    if (p.every((part, i) => (part.startsWith(':') ? ((params[part.slice(1)] = decodeURIComponent(s[i])), true) : part === s[i]))) {
      return { view, who, params };
    }
  }
  return null;
}

const isStaff = (user) => user && (user.role === 'admin' || user.role === 'staff');
const isAdmin = (user) => user && user.role === 'admin';
const home = (user) => (isStaff(user) ? '#/dashboard' : '#/my');

function drawShell(path) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!me) {
    nav.replaceChildren();
    who.replaceChildren(h('a', { href: '#/login' }, 'Sign in'));
    return;
  }
  const items = isAdmin(me) ? adminNav : isStaff(me) ? staffNav : customerNav;
  nav.replaceChildren(...items.map(([href, label]) => {
    const current = path === href.slice(1) || (href !== '#/my' && path.startsWith(href.slice(1) + '/'));
    return h('a', { href, 'aria-current': current ? 'page' : null }, label);
  }));
  const out = h('button', { type: 'button', id: 'sign-out' }, 'Sign out');
  out.addEventListener('click', async () => {
    await logout();
    me = null;
    flash('info', 'You are signed out.');
    go('#/login');
  });
  who.replaceChildren(h('a', { href: '#/profile', id: 'who-email' }, `${me.email} (${me.role})`),
    h('a', { href: '#/security', id: 'who-security' }, 'Security'), out);
}

// Renders overlap when the user navigates faster than pages load; only the newest may draw.
let generation = 0;

async function render() {
  const drawn = ++generation;
  const main = document.getElementById('main');
  const flashBox = document.getElementById('flash');
  const [path, q] = (location.hash.slice(1) || '/').split('?');
  if (hasSession() && !me) {
    try {
      me = await get('/api/v1/auth/me');
    } catch {
      me = null;
    }
  }
  if (!hasSession()) me = null;
  if (drawn !== generation) return;
  const route = match(path);
  if (!route || path === '/') {
    location.replace(me ? home(me) : '#/login');
    return;
  }
  if (route.who !== 'public' && !me) {
    location.replace('#/login?next=' + encodeURIComponent(location.hash));
    return;
  }
  const allowed = { admin: isAdmin(me), staff: isStaff(me), customer: !isStaff(me), any: true, public: true }[route.who];
  if (!allowed) {
    location.replace(home(me));
    return;
  }
  drawShell(path);
  const ctx = {
    params: route.params, query: new URLSearchParams(q || ''), me, go, flash, admin: isAdmin(me),
    signedIn: (user) => { me = user; },
    // After a change on this page: say what happened and draw it again with fresh data.
    redraw: (text) => { flash('ok', text); render(); },
  };
  main.setAttribute('aria-busy', 'true');
  let view;
  try {
    view = await route.view(ctx);
  } catch (e) {
    view = alert('error', e.message || String(e));
  }
  // A click while this page loaded started a newer render: that one is the page now.
  if (drawn !== generation) return;
  // The message shows with the page it belongs to, never over the page it replaces.
  flashBox.replaceChildren(...(pending ? [alert(pending.kind, pending.text)] : []));
  pending = null;
  main.replaceChildren(view);
  main.removeAttribute('aria-busy');
  // Which route is on screen: for assistive tooling, tests and the console benchmark.
  main.dataset.view = path;
}

window.addEventListener('hashchange', render);
// The admins require a second factor and this user has none yet: set it up first.
window.addEventListener('second-factor-required', () => {
  generation++;
  flash('info', 'The admins require two-factor sign-in. Set it up here to continue.');
  go('#/security');
});
window.addEventListener('session-ended', () => {
  me = null;
  // A page still loading must not draw (and take the message) before the sign-in page does.
  generation++;
  flash('info', 'Your session ended. Please sign in again.');
  go('#/login');
});
render();
