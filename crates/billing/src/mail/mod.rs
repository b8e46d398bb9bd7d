//! Email: message templates and the SMTP sender.
//!
//! Messages are rendered from templates (`templates.rs`) when they are sent, and
//! sent over SMTP with lettre (`smtp.rs`). Which messages exist and when they are
//! queued is decided by `service::notifications`; this module knows nothing of the
//! database.

pub mod smtp;
pub mod templates;

/// The company details shown in every message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Company {
    /// Company name, in subjects and footers.
    pub name: String,
    /// Logo shown at the top of HTML messages.
    pub logo_url: Option<String>,
    /// Support address in footers.
    pub support_email: Option<String>,
}
