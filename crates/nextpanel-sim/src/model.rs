//! The hosting accounts the simulator keeps and the JSON views of them that
//! the API and the control API answer with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::input::NewAccount;

/// Whether an account is in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// In service.
    Active,
    /// Suspended by the billing system.
    Suspended,
}

/// A thing created inside an account through the sim-only endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Its name (database name, domain name, mailbox address).
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Storage it takes, counted in `storage_used`.
    #[serde(default)]
    pub size_bytes: u64,
    /// The license it was validated against, if any.
    #[serde(default)]
    pub license_key: Option<String>,
}

/// The kinds of resource that count toward stats and license quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// A database (`total_databases`).
    Database,
    /// A domain (`total_domains`).
    Domain,
    /// A mailbox (`total_email_accounts`).
    EmailAccount,
}

impl ResourceKind {
    /// The license feature validated before creating one.
    pub fn feature(self) -> &'static str {
        match self {
            Self::Database => "create_database",
            Self::Domain => "create_domain",
            Self::EmailAccount => "create_email",
        }
    }

    /// The resource name used in usage reports.
    pub fn usage_resource(self) -> &'static str {
        match self {
            Self::Database => "databases",
            Self::Domain => "domains",
            Self::EmailAccount => "emails",
        }
    }

    /// The word used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Database => "Database",
            Self::Domain => "Domain",
            Self::EmailAccount => "Email account",
        }
    }
}

/// A hosting account as the simulator stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// NextPanel's account id.
    pub id: u64,
    /// The hosting login.
    pub username: String,
    /// The customer's email.
    pub email: String,
    /// Active or suspended.
    pub status: AccountStatus,
    /// Reseller flag.
    pub is_admin: bool,
    /// The NextPanel package.
    pub package_id: Option<i64>,
    /// nextpanel-bill's customer id.
    pub billing_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Contact name.
    pub full_name: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Contact company.
    pub company: Option<String>,
    /// Free-form data kept as sent.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Reason given with the last suspension.
    #[serde(default)]
    pub suspension_reason: Option<String>,
    /// Salted hash of the current password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Last login, settable through the control API.
    #[serde(default)]
    pub last_login: Option<DateTime<Utc>>,
    /// Storage beyond the resources' own sizes, settable through the control API.
    #[serde(default)]
    pub extra_storage_bytes: u64,
    /// SSL certificate count, settable through the control API.
    #[serde(default)]
    pub ssl_certificates: u64,
    /// Databases.
    #[serde(default)]
    pub databases: Vec<Resource>,
    /// Domains.
    #[serde(default)]
    pub domains: Vec<Resource>,
    /// Mailboxes.
    #[serde(default)]
    pub email_accounts: Vec<Resource>,
}

impl Account {
    /// A new active account built from a checked request.
    pub fn create(id: u64, input: NewAccount, now: DateTime<Utc>) -> Self {
        Self {
            id,
            username: input.username.as_str().to_owned(),
            email: input.email.as_str().to_owned(),
            status: AccountStatus::Active,
            is_admin: input.is_admin,
            package_id: input.package_id,
            billing_id: input.billing_id,
            created_at: now,
            full_name: input.full_name,
            phone: input.phone,
            company: input.company,
            metadata: input.metadata,
            suspension_reason: None,
            password_hash: input.password_hash,
            last_login: None,
            extra_storage_bytes: 0,
            ssl_certificates: 0,
            databases: Vec::new(),
            domains: Vec::new(),
            email_accounts: Vec::new(),
        }
    }

    /// The resources of one kind.
    pub fn resources(&self, kind: ResourceKind) -> &Vec<Resource> {
        match kind {
            ResourceKind::Database => &self.databases,
            ResourceKind::Domain => &self.domains,
            ResourceKind::EmailAccount => &self.email_accounts,
        }
    }

    /// The resources of one kind, for changing.
    pub fn resources_mut(&mut self, kind: ResourceKind) -> &mut Vec<Resource> {
        match kind {
            ResourceKind::Database => &mut self.databases,
            ResourceKind::Domain => &mut self.domains,
            ResourceKind::EmailAccount => &mut self.email_accounts,
        }
    }

    /// Bytes used: the extra storage plus every resource's size.
    pub fn storage_used(&self) -> u64 {
        let resources = self
            .databases
            .iter()
            .chain(&self.domains)
            .chain(&self.email_accounts)
            .map(|r| r.size_bytes);
        resources.fold(self.extra_storage_bytes, u64::saturating_add)
    }

    /// The account object of the contract, plus the contact details kept.
    pub fn to_api_json(&self) -> Value {
        json!({
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "status": self.status,
            "is_admin": self.is_admin,
            "package_id": self.package_id,
            "billing_id": self.billing_id,
            "created_at": self.created_at,
            "full_name": self.full_name,
            "phone": self.phone,
            "company": self.company,
            "metadata": self.metadata,
            "suspension_reason": self.suspension_reason,
        })
    }

    /// The account object plus its resources, for `/_sim/state`; never the password hash.
    pub fn to_state_json(&self) -> Value {
        let mut value = self.to_api_json();
        if let Value::Object(map) = &mut value {
            map.insert("databases".into(), json!(self.databases));
            map.insert("domains".into(), json!(self.domains));
            map.insert("email_accounts".into(), json!(self.email_accounts));
            map.insert("password_set".into(), json!(self.password_hash.is_some()));
            map.insert("last_login".into(), json!(self.last_login));
            map.insert("storage_used".into(), json!(self.storage_used()));
            map.insert("ssl_certificates".into(), json!(self.ssl_certificates));
        }
        value
    }

    /// The stats object of the contract.
    pub fn stats_json(&self, now: DateTime<Utc>) -> Value {
        json!({
            "user_id": self.id,
            "username": self.username,
            "total_domains": self.domains.len(),
            "total_databases": self.databases.len(),
            "total_email_accounts": self.email_accounts.len(),
            "total_ssl_certificates": self.ssl_certificates,
            "storage_used": self.storage_used(),
            "last_login": self.last_login,
            "account_age_days": (now - self.created_at).num_days().max(0),
        })
    }
}
