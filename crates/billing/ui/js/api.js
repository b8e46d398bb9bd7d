// The JSON API, as the signed-in user. Tokens live in sessionStorage: they end with
// the tab, and the console never writes them anywhere else.

const KEY = 'nextpanel-bill.session';

/** An error answer from the API: its status, code, message and (when one is to blame) field. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

/** The stored tokens, or null. */
export function tokens() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

function store(value) {
  if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
  else sessionStorage.removeItem(KEY);
}

async function send(method, path, body, headers) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  const t = tokens();
  if (t) init.headers.Authorization = `Bearer ${t.access_token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

// Several requests may see the same expired token at once: one refresh serves them all.
let refreshing = null;

async function refresh() {
  const t = tokens();
  if (!t || !t.refresh_token) return false;
  refreshing ??= fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ refresh_token: t.refresh_token }),
  })
    .then(async (r) => {
      if (!r.ok) return false;
      store(await r.json());
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Calls the API; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(method, path, body, headers = {}) {
  let response;
  try {
    response = await send(method, path, body, headers);
    if (response.status === 401 && tokens() && (await refresh())) {
      response = await send(method, path, body, headers);
    }
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
  }
  if (response.status === 401 && tokens()) {
    store(null);
    window.dispatchEvent(new Event('session-ended'));
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    // A non-JSON answer: only proxies in front of us send those.
  }
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(response.status, e.code || 'http_' + response.status,
      e.message || `The server answered ${response.status}.`, e.field);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body ?? {}, headers);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/** Signs in; stores the tokens. */
export async function login(email, password) {
  store(null);
  store(await api('POST', '/api/v1/auth/login', { email, password }));
}

/** Signs out here and on the server (the token stops working at once). */
export async function logout() {
  if (tokens()) {
    try {
      await api('POST', '/api/v1/auth/logout', {});
    } catch {
      // Signed out locally either way.
    }
  }
  store(null);
}

/** A query string from the set values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
