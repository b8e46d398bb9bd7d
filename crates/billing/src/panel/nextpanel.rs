//! The NextPanel client: the [`ControlPanel`] operations as calls of
//! `shared/nextpanel-api.md`.
//!
//! Extensions are used only when the server advertises them. The client
//! remembers the extensions of the last health answer and, before the first
//! call that could use one, asks for health itself. Without `lookup` it
//! filters the full list; without `idempotency` it creates without a key
//! (callers look up before retrying an ambiguous create anyway); without
//! `package` or `password` those operations fail with `Unsupported`.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::error::{PanelConfigError, PanelError, PanelErrorKind};
use super::sender::{Call, Sender};
use super::types::{
    ConnectionTest, CreateAccount, Extension, PanelAccount, PanelHealth, PanelStats,
};
use super::{connection_test, wire, ControlPanel};

const HEALTH: &[&str] = &["api", "health"];
const ACCOUNTS: &[&str] = &["api", "v1", "billing", "accounts"];

/// How long each kind of call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelTimeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// The health call.
    pub health: Duration,
    /// Creating an account (the panel sets up a home directory and more).
    pub create: Duration,
    /// Every other call.
    pub other: Duration,
}

impl Default for PanelTimeouts {
    /// The contract's values: connect 5 s, health 5 s, create 30 s, others 10 s.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            health: Duration::from_secs(5),
            create: Duration::from_secs(30),
            other: Duration::from_secs(10),
        }
    }
}

/// A client for one NextPanel server.
pub struct NextPanelClient {
    sender: Sender,
    timeouts: PanelTimeouts,
    /// Extensions from the last health answer; `None` until one arrived.
    extensions: Mutex<Option<Vec<String>>>,
}

impl fmt::Debug for NextPanelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextPanelClient")
            .field("base_url", &self.sender.base())
            .field("api_key", &self.sender.key_hint())
            .field("api_secret", &"<redacted>")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl NextPanelClient {
    /// A client for the server at `base_url` (a trailing `/` is ignored).
    pub fn new(
        base_url: &str,
        api_key: &str,
        api_secret: &SecretString,
        timeouts: PanelTimeouts,
    ) -> Result<Self, PanelConfigError> {
        let sender = Sender::new(
            base_url,
            api_key,
            api_secret.expose_secret(),
            timeouts.connect,
        )?;
        Ok(Self {
            sender,
            timeouts,
            extensions: Mutex::new(None),
        })
    }

    /// The same client, taking `extensions` as advertised (say, from a health
    /// check stored earlier) instead of asking health before the first use.
    pub fn with_known_extensions(self, extensions: Vec<String>) -> Self {
        *self.cache() = Some(extensions);
        self
    }

    /// The server's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.sender.base()
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> PanelTimeouts {
        self.timeouts
    }

    /// The extensions of the last health answer, if one arrived yet.
    pub fn known_extensions(&self) -> Option<Vec<String>> {
        self.cache().clone()
    }

    /// True when the server advertises `extension`, asking for health if not known yet.
    pub async fn supports(&self, extension: Extension) -> Result<bool, PanelError> {
        let known = self.cache().clone();
        let extensions = match known {
            Some(list) => list,
            None => self.health().await?.extensions,
        };
        Ok(extensions.iter().any(|e| e == extension.as_str()))
    }

    /// Every account on the server: `GET /api/v1/billing/accounts` without filters
    /// (baseline, so it needs no extension and no health call first).
    pub async fn list_accounts(&self) -> Result<Vec<PanelAccount>, PanelError> {
        let call = Call::new(Method::GET, ACCOUNTS, self.timeouts.other);
        self.sender.send(call, wire::account_list).await
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<Vec<String>>> {
        // The cache holds plain data, so a panic elsewhere cannot leave it inconsistent.
        self.extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// `GET /api/v1/billing/accounts`, with lookup filters when advertised.
    async fn list(&self, filter: (&str, &str)) -> Result<Vec<PanelAccount>, PanelError> {
        let query = [filter];
        let query: &[(&str, &str)] = if self.supports(Extension::Lookup).await? {
            &query
        } else {
            &[]
        };
        let call = Call {
            query,
            ..Call::new(Method::GET, ACCOUNTS, self.timeouts.other)
        };
        self.sender.send(call, wire::account_list).await
    }

    /// `POST /api/v1/billing/accounts/{id}/{action}` with an optional body.
    async fn post_action(
        &self,
        id: &str,
        action: &str,
        body: Option<serde_json::Value>,
        secrets: &[&str],
    ) -> Result<(), PanelError> {
        let path = account_path(id, &[action]);
        let mut call = Call::new(Method::POST, &path, self.timeouts.other);
        call.secrets = secrets;
        if let Some(body) = &body {
            call = call.json(body);
        }
        self.sender.send(call, wire::ignore).await
    }

    /// An `Unsupported` error unless the server advertises `extension`.
    async fn require(&self, extension: Extension, what: &str) -> Result<(), PanelError> {
        if self.supports(extension).await? {
            Ok(())
        } else {
            Err(PanelError::new(
                PanelErrorKind::Unsupported,
                format!(
                    "the server cannot {what}: it does not advertise the `{}` extension",
                    extension.as_str()
                ),
            ))
        }
    }
}

/// `api/v1/billing/accounts/{id}` plus more segments.
fn account_path<'a>(id: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut path = ACCOUNTS.to_vec();
    path.push(id);
    path.extend_from_slice(more);
    path
}

impl ControlPanel for NextPanelClient {
    async fn create(&self, request: &CreateAccount) -> Result<PanelAccount, PanelError> {
        let idempotency_key = match &request.idempotency_key {
            Some(key) if self.supports(Extension::Idempotency).await? => Some(key.as_str()),
            _ => None,
        };
        let password = request.password.expose_secret();
        let secrets = [password];
        let call = Call {
            idempotency_key,
            secrets: &secrets,
            ..Call::new(Method::POST, ACCOUNTS, self.timeouts.create)
        }
        .json(&wire::create_body(request));
        self.sender.send(call, wire::account).await
    }

    async fn get(&self, id: &str) -> Result<PanelAccount, PanelError> {
        let path = account_path(id, &[]);
        let call = Call::new(Method::GET, &path, self.timeouts.other);
        self.sender.send(call, wire::account).await
    }

    async fn find_by_username(&self, username: &str) -> Result<Option<PanelAccount>, PanelError> {
        // Filter here too: a server may ignore the query.
        let accounts = self.list(("username", username)).await?;
        Ok(accounts.into_iter().find(|a| a.username == username))
    }

    async fn find_by_billing_id(&self, billing_id: &str) -> Result<Vec<PanelAccount>, PanelError> {
        let accounts = self.list(("billing_id", billing_id)).await?;
        Ok(accounts
            .into_iter()
            .filter(|a| a.billing_id.as_deref() == Some(billing_id))
            .collect())
    }

    async fn suspend(&self, id: &str, reason: &str) -> Result<(), PanelError> {
        self.post_action(id, "suspend", Some(json!({ "reason": reason })), &[])
            .await
    }

    async fn unsuspend(&self, id: &str) -> Result<(), PanelError> {
        self.post_action(id, "unsuspend", None, &[]).await
    }

    async fn terminate(&self, id: &str) -> Result<(), PanelError> {
        let path = account_path(id, &[]);
        let call = Call::new(Method::DELETE, &path, self.timeouts.other);
        self.sender.send(call, wire::ignore).await
    }

    async fn change_package(&self, id: &str, package_id: i64) -> Result<(), PanelError> {
        self.require(Extension::Package, "change an account's package")
            .await?;
        let body = json!({ "package_id": package_id });
        self.post_action(id, "package", Some(body), &[]).await
    }

    async fn set_password(&self, id: &str, password: &SecretString) -> Result<(), PanelError> {
        self.require(Extension::Password, "set an account's password")
            .await?;
        let password = password.expose_secret();
        let body = json!({ "password": password });
        self.post_action(id, "password", Some(body), &[password])
            .await
    }

    async fn stats(&self, id: &str) -> Result<PanelStats, PanelError> {
        let path = account_path(id, &["stats"]);
        let call = Call::new(Method::GET, &path, self.timeouts.other);
        self.sender.send(call, wire::stats).await
    }

    async fn health(&self) -> Result<PanelHealth, PanelError> {
        let call = Call {
            authenticated: false,
            ..Call::new(Method::GET, HEALTH, self.timeouts.health)
        };
        let health = self.sender.send(call, wire::health).await?;
        *self.cache() = Some(health.extensions.clone());
        Ok(health)
    }

    async fn test_connection(&self) -> ConnectionTest {
        connection_test::run(self, self.sender.base(), || async {
            let call = Call::new(Method::GET, ACCOUNTS, self.timeouts.other);
            self.sender.send(call, wire::ignore).await
        })
        .await
    }
}
