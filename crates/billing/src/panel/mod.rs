//! The control-panel driver trait and its NextPanel client.
//!
//! [`ControlPanel`] is what the rest of nextpanel-bill needs from a hosting
//! control panel; [`NextPanelClient`] speaks `shared/nextpanel-api.md`.
//! Another panel (cPanel/WHM, Plesk, ...) is another module implementing the
//! trait. Inside the NextPanel module, `wire` builds and parses bodies,
//! `classify` maps failures to [`PanelErrorKind`]s, and `sender` is the one
//! place that sends (timeouts, credentials, one log line per call).
//!
//! Policy: callers decide what to do by [`PanelErrorKind`] and its helpers
//! (`is_retryable`, `outcome_unknown`, `is_definitely_not_done`), never by
//! message text; no credential or password reaches a log line, an error
//! message or a `Debug` output.

mod classify;
mod connection_test;
mod error;
mod nextpanel;
mod sender;
mod types;
mod wire;

use std::future::Future;

use secrecy::SecretString;

pub use error::{PanelConfigError, PanelError, PanelErrorKind};
pub use nextpanel::{NextPanelClient, PanelTimeouts};
pub use types::{
    ConnectionTest, CreateAccount, Extension, PanelAccount, PanelAccountStatus, PanelHealth,
    PanelStats,
};

/// What nextpanel-bill needs from a hosting control panel.
///
/// The methods return `Send` futures so a job runner can hold a generic
/// `P: ControlPanel` across `tokio::spawn`. The trait is not dyn-compatible
/// (it returns `impl Future`); pick the panel with an enum or a generic.
/// Account ids are the panel's own, kept as text.
pub trait ControlPanel: Send + Sync {
    /// Creates an account; `AlreadyExists` when the username is taken, and on
    /// an error with `outcome_unknown()` the account may exist: look it up.
    fn create(
        &self,
        request: &CreateAccount,
    ) -> impl Future<Output = Result<PanelAccount, PanelError>> + Send;

    /// The account with this panel id (`NotFound` when it is missing).
    fn get(&self, id: &str) -> impl Future<Output = Result<PanelAccount, PanelError>> + Send;

    /// The account with exactly this username, if any.
    fn find_by_username(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<PanelAccount>, PanelError>> + Send;

    /// The accounts carrying our customer id.
    fn find_by_billing_id(
        &self,
        billing_id: &str,
    ) -> impl Future<Output = Result<Vec<PanelAccount>, PanelError>> + Send;

    /// Suspends the account, giving the reason to the panel.
    fn suspend(
        &self,
        id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), PanelError>> + Send;

    /// Puts a suspended account back in service.
    fn unsuspend(&self, id: &str) -> impl Future<Output = Result<(), PanelError>> + Send;

    /// Deletes the account; `NotFound` means it was already gone.
    fn terminate(&self, id: &str) -> impl Future<Output = Result<(), PanelError>> + Send;

    /// Moves the account to another package; `Unsupported` when the panel cannot.
    fn change_package(
        &self,
        id: &str,
        package_id: i64,
    ) -> impl Future<Output = Result<(), PanelError>> + Send;

    /// Sets a new password; `Unsupported` when the panel cannot.
    fn set_password(
        &self,
        id: &str,
        password: &SecretString,
    ) -> impl Future<Output = Result<(), PanelError>> + Send;

    /// The account's usage figures.
    fn stats(&self, id: &str) -> impl Future<Output = Result<PanelStats, PanelError>> + Send;

    /// The server's health, version and advertised extensions.
    fn health(&self) -> impl Future<Output = Result<PanelHealth, PanelError>> + Send;

    /// Health plus an authenticated call, reported for an administrator; never fails.
    fn test_connection(&self) -> impl Future<Output = ConnectionTest> + Send;
}
