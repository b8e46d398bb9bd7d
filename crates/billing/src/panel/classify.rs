//! Turning what a NextPanel server did — an HTTP status with a body, or a
//! transport failure — into a [`PanelError`] with the contract's kind.
//!
//! The `detail` texts of the contract's error table are part of the wire
//! format, so matching them here is parsing, not string-typed errors: callers
//! only ever see the kind. Messages say what an administrator can do.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use super::error::{PanelError, PanelErrorKind};

/// Longest server detail kept in a message, in characters.
const MAX_DETAIL_CHARS: usize = 300;

/// The error for a non-2xx answer. `location` is the redirect target, if any.
pub(crate) fn from_status(status: u16, body: &[u8], location: Option<&str>) -> PanelError {
    use PanelErrorKind::*;
    let detail = detail(body);
    let lower = detail.to_ascii_lowercase();
    let (kind, summary) = match status {
        401 if lower.contains("revoked") => (BadCredentials, "the API key is revoked".to_owned()),
        401 if lower.contains("invalid api key") => (
            BadCredentials,
            "the API key was refused: the key or secret is wrong".to_owned(),
        ),
        401 => (
            BadCredentials,
            "the API key was refused: it is revoked or wrong".to_owned(),
        ),
        403 if lower.contains("ip address not allowed") => (
            IpNotAllowed,
            "this server does not allow requests from our IP address; add it to the key's allow-list"
                .to_owned(),
        ),
        403 => (
            NoPermission,
            "the server answered but this key lacks permission for this operation".to_owned(),
        ),
        400 | 409 | 422 if lower.contains("already exists") => (
            AlreadyExists,
            "the username is already taken on the server".to_owned(),
        ),
        404 => (NotFound, "not found on the server".to_owned()),
        408 | 429 => (ServerError, "the server is busy".to_owned()),
        300..=399 => (
            UnexpectedResponse,
            match location {
                Some(to) => format!("the server redirects to {}; use that address as the base URL", truncate(to, 200)),
                None => "the server answered with a redirect".to_owned(),
            },
        ),
        400..=499 => (Rejected, "the server refused the request".to_owned()),
        500..=599 => (ServerError, "the server failed".to_owned()),
        _ => (UnexpectedResponse, "the server answered with an unexpected status".to_owned()),
    };
    let message = if detail.is_empty() {
        format!("{summary} (HTTP {status})")
    } else {
        format!("{summary} (HTTP {status}: {detail})")
    };
    PanelError::new(kind, message).with_status(status)
}

/// The error for a request that got no HTTP answer.
pub(crate) fn from_transport(error: &reqwest::Error, base: &str, timeout: Duration) -> PanelError {
    use PanelErrorKind::*;
    let cause = root_cause(error);
    if error.is_connect() {
        if looks_like_tls(error) {
            let hint = if cause.contains("InvalidContentType") || cause.contains("corrupt message")
            {
                " (the server does not speak TLS here; is the URL meant to be http://?)"
            } else {
                ""
            };
            return PanelError::new(
                Tls,
                format!("TLS handshake with {base} failed: {cause}{hint}"),
            );
        }
        let reason = if error.is_timeout() || io_kind(error) == Some(io::ErrorKind::TimedOut) {
            "no connection within the connect timeout".to_owned()
        } else if io_kind(error) == Some(io::ErrorKind::ConnectionRefused) {
            "connection refused".to_owned()
        } else if cause.contains("dns error") || cause.contains("failed to lookup address") {
            format!("the host name could not be resolved ({cause})")
        } else {
            cause
        };
        return PanelError::new(
            Unreachable,
            format!("cannot reach the server at {base}: {reason}"),
        );
    }
    if error.is_timeout() {
        return PanelError::new(
            Timeout,
            format!("the server did not answer within {}", human(timeout)),
        );
    }
    // Anything else happened after the connection was made, so the request
    // may have reached the server: the safe reading is "outcome unknown".
    PanelError::new(
        ConnectionLost,
        format!(
            "the connection to {base} was lost before the server answered ({cause}); \
             the request may have been carried out"
        ),
    )
}

/// The `detail` of a JSON error body, or the plain-text body, shortened.
pub(crate) fn detail(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => match map.get("detail") {
            Some(serde_json::Value::String(s)) => s.clone(),
            // FastAPI validation errors: a list of {loc, msg, input}; keep
            // only loc and msg, because `input` echoes the request (password).
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    let msg = item
                        .get("msg")
                        .and_then(|m| m.as_str())
                        .unwrap_or("invalid");
                    match item.get("loc").and_then(|l| l.as_array()) {
                        Some(loc) => {
                            let path: Vec<String> = loc
                                .iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                                .collect();
                            format!("{}: {msg}", path.join("."))
                        }
                        None => msg.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            Some(other) => other.to_string(),
            None => String::from_utf8_lossy(body).into_owned(),
        },
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let single_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&single_line, MAX_DETAIL_CHARS)
}

/// `text` cut to at most `max` characters, marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// `5 s` or `300 ms`.
pub(crate) fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// The innermost cause's text: the most specific one (reqwest's own text
/// only repeats the URL).
fn root_cause(error: &reqwest::Error) -> String {
    let mut current: &dyn StdError = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// The kind of the first I/O error in the cause chain.
fn io_kind(error: &reqwest::Error) -> Option<io::ErrorKind> {
    causes(error).find_map(|e| e.downcast_ref::<io::Error>().map(io::Error::kind))
}

/// rustls reports handshake failures as I/O errors of kind `InvalidData`
/// wrapping its own error; certificate problems also name themselves.
fn looks_like_tls(error: &reqwest::Error) -> bool {
    causes(error).any(|e| {
        let is_invalid_data = e
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::InvalidData);
        let text = e.to_string().to_ascii_lowercase();
        is_invalid_data
            || text.contains("certificate")
            || text.contains("tls handshake")
            || text.contains("invalidcontenttype")
    })
}

/// The error and its sources, outermost first.
fn causes(error: &reqwest::Error) -> impl Iterator<Item = &(dyn StdError + 'static)> {
    let first: &(dyn StdError + 'static) = error;
    std::iter::successors(Some(first), |&e| e.source())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PanelErrorKind::*;

    fn kind(status: u16, body: &str) -> PanelErrorKind {
        from_status(status, body.as_bytes(), None).kind
    }

    #[test]
    fn contract_error_table() {
        assert_eq!(
            kind(401, r#"{"detail":"API key is revoked"}"#),
            BadCredentials
        );
        assert_eq!(
            kind(401, r#"{"detail":"Invalid API key or secret"}"#),
            BadCredentials
        );
        assert_eq!(
            kind(403, r#"{"detail":"IP address not allowed"}"#),
            IpNotAllowed
        );
        assert_eq!(
            kind(
                403,
                r#"{"detail":"The user doesn't have super admin privileges"}"#
            ),
            NoPermission
        );
        assert_eq!(
            kind(
                400,
                r#"{"detail":"User with username 'bob' already exists"}"#
            ),
            AlreadyExists
        );
        assert_eq!(kind(409, "Username already exists"), AlreadyExists);
        assert_eq!(kind(400, r#"{"detail":"Invalid username"}"#), Rejected);
        assert_eq!(kind(404, r#"{"detail":"Account not found"}"#), NotFound);
        assert_eq!(kind(500, "boom"), ServerError);
        assert_eq!(
            kind(503, r#"{"detail":"Service unavailable"}"#),
            ServerError
        );
        assert_eq!(kind(429, ""), ServerError);
        assert_eq!(kind(302, ""), UnexpectedResponse);
    }

    #[test]
    fn messages_say_which_credential_problem() {
        let revoked = from_status(401, br#"{"detail":"API key is revoked"}"#, None);
        assert!(revoked.message.contains("revoked"), "{}", revoked.message);
        assert_eq!(revoked.status, Some(401));
        let wrong = from_status(401, br#"{"detail":"Invalid API key or secret"}"#, None);
        assert!(wrong.message.contains("wrong"), "{}", wrong.message);
    }

    #[test]
    fn detail_reads_json_text_and_fastapi_lists() {
        assert_eq!(
            detail(br#"{"detail":"Account not found"}"#),
            "Account not found"
        );
        assert_eq!(detail(b"plain\n text"), "plain text");
        let fastapi = br#"{"detail":[{"loc":["body","email"],"msg":"field required","input":{"password":"hunter22"}}]}"#;
        let text = detail(fastapi);
        assert_eq!(text, "body.email: field required");
        assert_eq!(detail("x".repeat(400).as_bytes()).chars().count(), 301);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(5)), "5 s");
        assert_eq!(human(Duration::from_millis(300)), "300 ms");
        assert_eq!(human(Duration::from_millis(1500)), "1500 ms");
    }
}
