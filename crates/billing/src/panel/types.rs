//! Our side of a control panel's data: what we ask it to create and what we
//! read back, independent of any panel's wire format.
//!
//! Passwords are `SecretString`s and the hand-written `Debug` impls show
//! neither them nor anything derived from them.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::domain::plan::AccountType;

use super::error::PanelErrorKind;

/// A request to create a hosting account on a panel.
#[derive(Clone)]
pub struct CreateAccount {
    /// Hosting login: 3 to 32 of `a-z0-9`, starting with a letter.
    pub username: String,
    /// The customer's email.
    pub email: String,
    /// Initial hosting password; never logged.
    pub password: SecretString,
    /// Contact name.
    pub full_name: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Contact company.
    pub company: Option<String>,
    /// The panel package the plan maps to.
    pub package_id: Option<i64>,
    /// Panel, reseller or master reseller; decides the panel's `is_admin`.
    pub account_type: AccountType,
    /// Our customer id, sent as `billing_id` and `metadata.billing_customer_id`.
    pub billing_id: String,
    /// Our hosting account id, sent in the metadata.
    pub hosting_account_id: i64,
    /// When we created the hosting account (sent in the metadata).
    pub created_at: DateTime<Utc>,
    /// A stable key per hosting account, so a repeated create cannot make a second account
    /// on servers with the `idempotency` extension.
    pub idempotency_key: Option<String>,
}

impl fmt::Debug for CreateAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateAccount")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("package_id", &self.package_id)
            .field("account_type", &self.account_type)
            .field("billing_id", &self.billing_id)
            .field("hosting_account_id", &self.hosting_account_id)
            .field("created_at", &self.created_at)
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// Whether a panel account is in service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelAccountStatus {
    /// In service.
    Active,
    /// Suspended.
    Suspended,
    /// A status this client does not know, kept as sent.
    Other(String),
}

impl PanelAccountStatus {
    /// Reads the panel's status text (case-insensitive).
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            _ => Self::Other(text.to_owned()),
        }
    }
}

/// A hosting account as the panel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelAccount {
    /// The panel's own account id, kept as text whatever the server sends.
    pub id: String,
    /// The hosting login.
    pub username: String,
    /// The email on the panel (empty when not sent).
    pub email: String,
    /// Active, suspended or other.
    pub status: PanelAccountStatus,
    /// Reseller flag.
    pub is_admin: bool,
    /// The panel package.
    pub package_id: Option<i64>,
    /// Our customer id as the panel stored it.
    pub billing_id: Option<String>,
    /// When the panel created it, when sent in a readable form.
    pub created_at: Option<DateTime<Utc>>,
}

/// Usage figures of one account; a key the server did not send is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PanelStats {
    /// Domains in the account.
    pub total_domains: Option<u64>,
    /// Databases in the account.
    pub total_databases: Option<u64>,
    /// Mailboxes in the account.
    pub total_email_accounts: Option<u64>,
    /// SSL certificates in the account.
    pub total_ssl_certificates: Option<u64>,
    /// Storage used, in bytes.
    pub storage_used_bytes: Option<u64>,
    /// Last login to the panel.
    pub last_login: Option<DateTime<Utc>>,
    /// Days since the account was created.
    pub account_age_days: Option<u64>,
    /// Every other key the server sent (including `user_id` and `username`), as sent.
    pub extra: Map<String, Value>,
}

/// The optional features of our contract a server may advertise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    /// `Idempotency-Key` on create.
    Idempotency,
    /// `?username=` / `?billing_id=` filters on the account list.
    Lookup,
    /// Changing an account's package.
    Package,
    /// Setting an account's password.
    Password,
}

impl Extension {
    /// The name in the health answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idempotency => "idempotency",
            Self::Lookup => "lookup",
            Self::Package => "package",
            Self::Password => "password",
        }
    }
}

/// What the health endpoint says about a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelHealth {
    /// `healthy` or `ok` when well; anything else as sent.
    pub status: String,
    /// The panel's version, when sent.
    pub version: Option<String>,
    /// The extensions it advertises (none on a deployed server).
    pub extensions: Vec<String>,
}

impl PanelHealth {
    /// True when the server calls itself healthy.
    pub fn is_healthy(&self) -> bool {
        matches!(self.status.to_ascii_lowercase().as_str(), "healthy" | "ok")
    }

    /// True when the server advertises `extension`.
    pub fn has(&self, extension: Extension) -> bool {
        self.extensions.iter().any(|e| e == extension.as_str())
    }
}

/// The result of a connection test, in words an administrator can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionTest {
    /// True when health answered and an authenticated list succeeded.
    pub ok: bool,
    /// Why it failed, when it did.
    pub kind: Option<PanelErrorKind>,
    /// What works or what to fix.
    pub message: String,
    /// How long the test took, in milliseconds.
    pub latency_ms: u64,
    /// The panel version from the health answer, when it answered.
    pub version: Option<String>,
    /// The advertised extensions, when it answered.
    pub extensions: Vec<String>,
}
