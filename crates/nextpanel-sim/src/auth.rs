//! Authentication of `/api/v1` calls with `X-API-Key` / `X-API-Secret`, the
//! key's IP allow-list and its permission level, answering with the exact
//! detail texts deployed NextPanel servers use.
//!
//! Order of checks: the pair (401), revocation (401), the client address
//! (403), then the permission for the method (403). Revocation is checked
//! only after the secret matched, so it reveals nothing to a guesser.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{Credential, PermissionLevel};
use crate::error::{self, ApiError};
use crate::server::ConnInfo;
use crate::state::SimState;

/// The authenticated caller, put into the request extensions for handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The API key used; scopes idempotency keys.
    pub api_key: String,
}

/// Middleware: lets the request through only with valid, permitted credentials.
pub async fn require_credentials(
    State(state): State<Arc<SimState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<ConnInfo>().map(|c| c.peer.ip());
    // Owned copies: a borrow of the request must not live across `.await`
    // (the body is not `Sync`, so the future would not be `Send`).
    let (key, secret) = {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        (header("x-api-key"), header("x-api-secret"))
    };
    let method = request.method().clone();
    let revoked = state.read(|data| data.revoked_keys.contains(&key));
    match check(
        &state.config.credentials,
        &key,
        &secret,
        revoked,
        peer,
        &method,
    ) {
        Ok(()) => {
            request.extensions_mut().insert(Caller { api_key: key });
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// The decision itself, free of HTTP plumbing.
fn check(
    credentials: &[Credential],
    key: &str,
    secret: &str,
    revoked: bool,
    peer: Option<IpAddr>,
    method: &Method,
) -> Result<(), ApiError> {
    let invalid = || ApiError::new(StatusCode::UNAUTHORIZED, error::INVALID_CREDENTIALS);
    if key.is_empty() || secret.is_empty() {
        return Err(invalid());
    }
    let credential = credentials
        .iter()
        .find(|c| c.api_key == key)
        .filter(|c| constant_time_eq(c.api_secret.as_bytes(), secret.as_bytes()))
        .ok_or_else(invalid)?;
    if revoked {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, error::REVOKED));
    }
    if !credential.allowed_ips.is_empty() {
        let allowed = peer.is_some_and(|ip| credential.allowed_ips.iter().any(|r| r.matches(ip)));
        if !allowed {
            return Err(ApiError::new(StatusCode::FORBIDDEN, error::IP_NOT_ALLOWED));
        }
    }
    let reading = matches!(*method, Method::GET | Method::HEAD);
    if credential.level == PermissionLevel::ReadOnly && !reading {
        return Err(ApiError::new(StatusCode::FORBIDDEN, error::NOT_SUPER_ADMIN));
    }
    Ok(())
}

/// Compares secrets without an early exit, so timing does not leak a prefix.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn creds() -> Vec<Credential> {
        vec![
            Credential::billing("npk_a", "nps_a"),
            Credential::read_only("npk_r", "nps_r"),
            Credential::billing("npk_ip", "nps_ip")
                .with_allowed_ips(["10.0.0.0/8"])
                .unwrap(),
        ]
    }

    fn detail(result: Result<(), ApiError>) -> String {
        result.unwrap_err().detail
    }

    #[test]
    fn checks_in_order() {
        let local = Some("127.0.0.1".parse().unwrap());
        let c = creds();
        assert!(check(&c, "npk_a", "nps_a", false, local, &Method::POST).is_ok());
        assert_eq!(
            detail(check(&c, "npk_a", "nps_x", false, local, &Method::GET)),
            error::INVALID_CREDENTIALS
        );
        assert_eq!(
            detail(check(&c, "", "", false, local, &Method::GET)),
            error::INVALID_CREDENTIALS
        );
        assert_eq!(
            detail(check(&c, "npk_a", "nps_a", true, local, &Method::GET)),
            error::REVOKED
        );
        assert!(check(&c, "npk_r", "nps_r", false, local, &Method::GET).is_ok());
        assert_eq!(
            detail(check(&c, "npk_r", "nps_r", false, local, &Method::DELETE)),
            error::NOT_SUPER_ADMIN
        );
        assert_eq!(
            detail(check(&c, "npk_ip", "nps_ip", false, local, &Method::GET)),
            error::IP_NOT_ALLOWED
        );
        let inside = Some("10.1.1.1".parse().unwrap());
        assert!(check(&c, "npk_ip", "nps_ip", false, inside, &Method::GET).is_ok());
    }
}
