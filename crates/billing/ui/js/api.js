// The JSON API, as the signed-in user. The console's session lives in an HttpOnly
// cookie that no script here can read; writes carry the CSRF token the server put in
// the readable `npb_csrf` cookie. Bearer tokens are for scripts and the CLI.

/** An error answer from the API: its status, code, message and (when one is to blame) field. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

function csrfToken() {
  const found = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith('npb_csrf='));
  return found ? found.slice('npb_csrf='.length) : '';
}

/** Whether the browser holds a console session (its CSRF cookie is there). */
export function hasSession() {
  return csrfToken() !== '';
}

// The server removes both cookies on sign-out; when a session ended otherwise (expiry,
// an admin, a password change) the page forgets its CSRF cookie itself.
export function forgetSession() {
  document.cookie = 'npb_csrf=; Max-Age=0; Path=/; SameSite=Strict';
}

async function send(method, path, body, headers) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET' && method !== 'HEAD') init.headers['X-CSRF-Token'] = csrfToken();
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

/** Calls the API; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function api(method, path, body, headers = {}) {
  const signedIn = hasSession();
  let response;
  try {
    response = await send(method, path, body, headers);
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection and try again.');
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
    const error = new ApiError(response.status, e.code || 'http_' + response.status,
      e.message || `The server answered ${response.status}.`, e.field);
    if (response.status === 401 && signedIn && !path.startsWith('/api/v1/auth/login')) {
      forgetSession();
      window.dispatchEvent(new Event('session-ended'));
    } else if (error.code === 'second_factor_setup_required') {
      window.dispatchEvent(new CustomEvent('second-factor-required', { detail: error.message }));
    }
    throw error;
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body ?? {}, headers);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

/**
 * Signs in with email and password into a cookie session. Resolves to null when signed
 * in, or to the challenge string when the account needs its second factor.
 */
export async function login(email, password) {
  const answer = await api('POST', '/api/v1/auth/login', { email, password, session: 'cookie' });
  return answer && answer.second_factor_required ? answer.challenge : null;
}

/** Completes a sign-in with the code from the authenticator app or a recovery code. */
export async function secondFactor(challenge, code) {
  await api('POST', '/api/v1/auth/login/second-factor', { challenge, code });
}

/** Signs out on the server (the cookie stops working at once) and here. */
export async function logout() {
  try {
    await api('POST', '/api/v1/auth/logout', {});
  } catch {
    // Signed out locally either way.
  }
  forgetSession();
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
