//! Application services: one function per use case. Each parses its input into
//! domain types, applies the rules, writes through `store` in one transaction
//! together with its audit entry, and returns a view. No HTTP here.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::role::Role;
use crate::domain::Invalid;
use crate::store::{Listed, Page, StoreError};

pub mod account_ops;
pub mod accounts;
pub mod answer_book;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod autopay;
pub mod batch;
pub mod billing_run;
pub mod capture;
pub mod cards;
pub mod coupons;
pub mod credential_links;
pub mod credits;
pub mod customers;
pub mod disputes;
pub mod documents;
pub mod housekeeping;
pub mod imported_history;
pub mod invoices;
pub mod leases;
pub mod ledger;
pub mod license_check;
pub mod licenses;
pub mod notifications;
pub mod password_reset;
pub mod passwords;
pub mod payments;
pub mod periodic;
pub mod plan_changes;
pub mod plans;
pub mod provisioning;
pub mod provisioning_log;
pub mod rate_limit;
pub mod reconciliation;
pub mod refunds;
pub mod reports;
pub mod seed_import;
pub mod server_health;
pub mod servers;
pub mod sessions;
pub mod settings;
pub mod settlement;
pub mod stripe_webhook;
pub mod tax;
pub mod tokens;
pub mod two_factor;
pub mod usage;
pub mod users;
pub mod wire;

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input broke a rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The record does not exist, or the caller may not know it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request clashes with existing data.
    #[error("{message}")]
    Conflict {
        /// The input field that clashes.
        field: Option<String>,
        /// What clashes.
        message: String,
    },
    /// No valid credentials were presented.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The caller is known but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// An admin or staff session without a second factor while admins require one.
    #[error("the admins require two-factor sign-in: set it up under Security (POST /api/v1/auth/two-factor/setup) first")]
    SecondFactorSetupRequired,
    /// Too many requests of one kind; retry after this many seconds.
    #[error("too many {what}; try again in {retry_after_secs} seconds")]
    RateLimited {
        /// What there were too many of, e.g. `failed login attempts`.
        what: &'static str,
        /// Seconds until the window frees up.
        retry_after_secs: u64,
    },
    /// A control panel failed to answer a direct request.
    #[error("the control panel did not answer as expected: {0}")]
    Upstream(String),
    /// The store failed.
    /// A request that cannot be read at all, such as a bad webhook signature (400).
    #[error("{field}: {message}")]
    BadRequest {
        /// The header or field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A needed part is not configured or not running here (503).
    #[error("{0}")]
    Unavailable(&'static str),
    /// The payment provider refused or could not be reached (502).
    #[error("the payment provider did not answer as expected: {0}")]
    PaymentProvider(String),
    #[error(transparent)]
    Store(StoreError),
    /// Something that should not happen (randomness, hashing) failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Duplicate { field } => ServiceError::Conflict {
                message: format!(
                    "a record with this {} already exists",
                    field.as_deref().unwrap_or("value")
                ),
                field,
            },
            e @ (StoreError::Invariant { .. } | StoreError::Contention) => ServiceError::Conflict {
                field: None,
                message: e.to_string(),
            },
            other => ServiceError::Store(other),
        }
    }
}

/// Who is acting: a logged-in user, an API key, or the system itself.
#[derive(Debug, Clone)]
pub struct Actor {
    /// How the actor authenticated.
    pub kind: ActorKind,
    /// The user behind the actor (the key's creator for API keys).
    pub user_id: Option<i64>,
    /// For the audit log: email, key name or `system`.
    pub label: String,
    /// What the actor may do.
    pub role: Role,
}

/// How an [`Actor`] authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A user's session (the id of the session).
    Session(i64),
    /// An API key (its id).
    ApiKey(i64),
    /// nextpanel-bill itself (seeding, jobs).
    System,
}

impl Actor {
    /// The system actor, for start-up seeding and background work.
    pub fn system() -> Actor {
        Actor {
            kind: ActorKind::System,
            user_id: None,
            label: "system".to_owned(),
            role: Role::Admin,
        }
    }

    /// The system acting on someone's word, named in the audit log (`stripe`, `autopay`,
    /// the admin who asked for a refund Stripe confirmed later).
    pub fn system_as(label: impl Into<String>) -> Actor {
        Actor {
            label: label.into(),
            ..Actor::system()
        }
    }

    /// Fails unless the actor may change admin data.
    pub fn require_admin(&self) -> Result<(), ServiceError> {
        if self.role.can_write_admin_data() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("this action needs the admin role"))
        }
    }

    /// Fails unless the actor may read admin data.
    pub fn require_staff(&self) -> Result<(), ServiceError> {
        if self.role.can_read_admin_data() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "this action needs the admin or staff role",
            ))
        }
    }
}

/// One page of a list, with where the next one starts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    /// The items of this page, newest (highest id) first.
    pub items: Vec<T>,
    /// 1-based page number (1 when `after` is used).
    pub page: i64,
    /// Page size.
    pub per_page: i64,
    /// Items across all pages; null when `after` is used (counting every row at each step
    /// would cost what keyset pagination saves; the first page's total stands), and when
    /// more than 10,000 match (then `total_more_than` says so).
    #[schema(required = true)]
    pub total: Option<i64>,
    /// 10,000 when more items than that match and `total` is null; null otherwise. Lists
    /// stop counting there, so a first page costs the same over millions of rows.
    #[schema(required = true)]
    pub total_more_than: Option<i64>,
    /// Pass as `after` for the next page: the id of this page's last item when more
    /// follow, null when this page is the last.
    #[schema(required = true)]
    pub next_after: Option<i64>,
}

impl<T> Paginated<T> {
    /// The page `listed` read with `page`, each row shown as `view`.
    pub fn of<R>(page: Page, listed: Listed<R>, view: impl FnMut(R) -> T) -> Paginated<T> {
        Paginated {
            items: listed.rows.into_iter().map(view).collect(),
            page: page.page,
            per_page: page.per_page,
            total: listed.total,
            total_more_than: listed.total_more_than,
            next_after: listed.next_after,
        }
    }

    /// The same page with other items (views completed after reading).
    pub fn with_items<U>(self, items: Vec<U>) -> Paginated<U> {
        Paginated {
            items,
            page: self.page,
            per_page: self.per_page,
            total: self.total,
            total_more_than: self.total_more_than,
            next_after: self.next_after,
        }
    }
}

/// Fills `len` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ServiceError::Internal(format!("random source failed: {e}")))?;
    Ok(bytes)
}

/// Serde helper for PATCH bodies: tells "absent" (`None`) from "null" (`Some(None)`).
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
