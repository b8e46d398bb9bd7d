//! The web console's session cookie and its CSRF token.
//!
//! The console signs in with `"session": "cookie"`: the session token goes into an
//! HttpOnly cookie (`npb_session`) that scripts on the page cannot read, and a CSRF
//! token into a readable one (`npb_csrf`). Both are `SameSite=Strict`, and `Secure`
//! when the service is reached over HTTPS. A write authenticated by the cookie must
//! carry the CSRF token in `X-CSRF-Token`, which another site cannot read or guess, so
//! a forged cross-site form post is refused even by browsers that ignore SameSite.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::service::auth::SessionCookie;

/// The HttpOnly cookie holding the session token.
pub const SESSION: &str = "npb_session";
/// The readable cookie holding the CSRF token.
pub const CSRF: &str = "npb_csrf";
/// The header writes carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in the request, if sent.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` headers that open the console session.
pub fn open(cookie: &SessionCookie, secure: bool) -> [HeaderValue; 2] {
    [
        set(SESSION, &cookie.token, cookie.max_age_secs, true, secure),
        set(CSRF, &cookie.csrf_token, cookie.max_age_secs, false, secure),
    ]
}

/// `Set-Cookie` headers that remove both cookies (sign-out).
pub fn clear(secure: bool) -> [HeaderValue; 2] {
    [
        set(SESSION, "", 0, true, secure),
        set(CSRF, "", 0, false, secure),
    ]
}

fn set(name: &str, value: &str, max_age: i64, http_only: bool, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        text.push_str("; HttpOnly");
    }
    if secure {
        text.push_str("; Secure");
    }
    // Tokens are hex with an ASCII prefix, so the value is always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookies_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; npb_session=npb_at_x ; npb_csrf=c"),
        );
        assert_eq!(get(&headers, SESSION), Some("npb_at_x"));
        assert_eq!(get(&headers, CSRF), Some("c"));
        assert_eq!(get(&headers, "b"), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_strict() {
        let [session, csrf] = open(
            &SessionCookie {
                token: "npb_at_1".into(),
                csrf_token: "abc".into(),
                max_age_secs: 60,
            },
            true,
        );
        assert_eq!(
            session,
            "npb_session=npb_at_1; Path=/; Max-Age=60; SameSite=Strict; HttpOnly; Secure"
        );
        assert_eq!(
            csrf,
            "npb_csrf=abc; Path=/; Max-Age=60; SameSite=Strict; Secure"
        );
    }
}
