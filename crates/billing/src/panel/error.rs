//! What went wrong in a call to a control panel, as a kind the caller can act
//! on: retry, look up before retrying, fix the credentials, or give up.
//!
//! Callers decide by [`PanelErrorKind`] and the helper methods, never by the
//! message text. The message is for an administrator and never contains a
//! credential or a password: the sender redacts every secret it knows of.

use std::fmt;

/// The kinds of failure the contract distinguishes, plus what the client adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelErrorKind {
    /// No connection could be made (refused, DNS, connect timeout): nothing was sent.
    Unreachable,
    /// The TLS handshake failed (bad certificate, or not TLS at all): nothing was sent.
    Tls,
    /// The request was sent but no answer came in time: it may have been carried out.
    Timeout,
    /// The connection closed after the request was sent: it may have been carried out.
    ConnectionLost,
    /// 401: the API key or secret is wrong, or the key is revoked.
    BadCredentials,
    /// 403: the key may not do this operation.
    NoPermission,
    /// 403 `IP address not allowed`: our address is not on the key's allow-list.
    IpNotAllowed,
    /// The username (or account) already exists on the server.
    AlreadyExists,
    /// 404: the account does not exist (for a delete: already gone).
    NotFound,
    /// Another 4xx: the server refused the request as invalid; nothing was done.
    Rejected,
    /// 5xx (or 408/429): the server failed; a write may or may not have happened.
    ServerError,
    /// The server answered something that is not the contract's format.
    UnexpectedResponse,
    /// The server does not advertise the extension this operation needs.
    Unsupported,
}

impl PanelErrorKind {
    /// The snake_case name, for logs, metrics and API answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::ConnectionLost => "connection_lost",
            Self::BadCredentials => "bad_credentials",
            Self::NoPermission => "no_permission",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::AlreadyExists => "already_exists",
            Self::NotFound => "not_found",
            Self::Rejected => "rejected",
            Self::ServerError => "server_error",
            Self::UnexpectedResponse => "unexpected_response",
            Self::Unsupported => "unsupported",
        }
    }

    /// True when trying again later may succeed (with backoff).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Unreachable | Self::Timeout | Self::ConnectionLost | Self::ServerError
        )
    }

    /// True when the server may have carried out the request: look the account
    /// up before repeating a create.
    ///
    /// An unexpected 2xx body counts too: the server said yes in a form we
    /// could not read, so the account may well exist.
    pub fn outcome_unknown(self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::ConnectionLost | Self::ServerError | Self::UnexpectedResponse
        )
    }

    /// True when the server certainly did not carry out the request.
    pub fn is_definitely_not_done(self) -> bool {
        !self.outcome_unknown()
    }

    /// True when the server's credentials need an administrator's attention.
    pub fn is_credentials_problem(self) -> bool {
        matches!(
            self,
            Self::BadCredentials | Self::NoPermission | Self::IpNotAllowed
        )
    }
}

impl fmt::Display for PanelErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call to a control panel: its kind, an admin-readable message
/// (never a secret) and the HTTP status when the server answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PanelError {
    /// What the caller may do about it.
    pub kind: PanelErrorKind,
    /// What happened, in words an administrator can act on.
    pub message: String,
    /// The HTTP status, when the server answered at all.
    pub status: Option<u16>,
}

impl PanelError {
    /// An error without an HTTP status.
    pub fn new(kind: PanelErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
        }
    }

    /// The same error, carrying the HTTP status the server answered with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// See [`PanelErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// See [`PanelErrorKind::outcome_unknown`].
    pub fn outcome_unknown(&self) -> bool {
        self.kind.outcome_unknown()
    }

    /// See [`PanelErrorKind::is_definitely_not_done`].
    pub fn is_definitely_not_done(&self) -> bool {
        self.kind.is_definitely_not_done()
    }

    /// Replaces every occurrence of the given secrets in the message.
    pub(crate) fn redacted(mut self, secrets: &[&str]) -> Self {
        self.message = redact(&self.message, secrets);
        self
    }
}

/// A client that cannot be built from its settings (bad URL, bad key shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PanelConfigError {
    /// The base URL is not an `http`/`https` URL without credentials, query or fragment.
    #[error("invalid panel base URL: {0}")]
    InvalidBaseUrl(String),
    /// The API key or secret cannot be sent as an HTTP header.
    #[error("invalid panel credentials: {0}")]
    InvalidCredentials(&'static str),
    /// The HTTP client could not be set up (TLS backend).
    #[error("cannot set up the HTTP client: {0}")]
    HttpClient(String),
}

/// Shortest secret worth redacting: shorter ones would mangle ordinary words.
const MIN_REDACTED_LEN: usize = 4;

/// `text` with every secret of at least four characters replaced by `[redacted]`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= MIN_REDACTED_LEN)
        .fold(text.to_owned(), |acc, secret| {
            acc.replace(secret, "[redacted]")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_partition_the_kinds() {
        use PanelErrorKind::*;
        for kind in [Timeout, ConnectionLost, ServerError] {
            assert!(kind.is_retryable() && kind.outcome_unknown(), "{kind}");
        }
        assert!(Unreachable.is_retryable() && Unreachable.is_definitely_not_done());
        for kind in [
            Tls,
            BadCredentials,
            NoPermission,
            IpNotAllowed,
            AlreadyExists,
            NotFound,
            Rejected,
            Unsupported,
        ] {
            assert!(!kind.is_retryable(), "{kind}");
            assert!(kind.is_definitely_not_done(), "{kind}");
        }
        assert!(UnexpectedResponse.outcome_unknown() && !UnexpectedResponse.is_retryable());
    }

    #[test]
    fn redaction_skips_tiny_secrets() {
        let text = redact(
            "a nps_secret and pw12 here",
            &["nps_secret", "pw12", "a", ""],
        );
        assert_eq!(text, "a [redacted] and [redacted] here");
    }
}
