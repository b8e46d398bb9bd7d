//! Housekeeping, hourly: tables that only ever grew are trimmed to what still matters.
//! Sessions go a day after they ended, reset codes a day after they expired, Stripe
//! event claims after 90 days (Stripe stops redelivering after 3), license-callback
//! request ids after an hour (a repeat can only pass the signature check for
//! 2 × 300 s after the first, given the clock window either way), and audit entries
//! only when `audit_retention_days` is set (by default the audit log is kept whole).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ServiceError;
use crate::config::Settings;
use crate::domain::license_check::CLOCK_WINDOW_SECS;
use crate::store::{self, Db};

/// How long a Stripe event id is remembered as applied.
pub const STRIPE_EVENT_DAYS: i64 = 90;

/// What one round removed.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Trimmed {
    /// Ended sessions.
    pub sessions: u64,
    /// Expired password-reset codes.
    pub password_resets: u64,
    /// Stripe event claims.
    pub stripe_events: u64,
    /// Remembered license-callback request ids.
    pub license_callbacks: u64,
    /// Expired credential links whose password was erased.
    pub credential_links: u64,
    /// Audit entries past the retention.
    pub audit_entries: u64,
}

/// How long a license callback's request id is remembered: well beyond the
/// 2 × [`CLOCK_WINDOW_SECS`] in which a repeat could still carry a fresh timestamp.
pub const CALLBACK_MEMORY_SECS: i64 = 3600;
const _: () = assert!(CALLBACK_MEMORY_SECS >= 2 * CLOCK_WINDOW_SECS);

/// Trims the tables on a timer.
#[derive(Clone)]
pub struct Housekeeper {
    /// The database.
    pub db: Db,
    /// The audit retention.
    pub settings: Arc<Settings>,
}

impl Housekeeper {
    /// One round at `now`.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Trimmed, ServiceError> {
        let day = chrono::Duration::days(1);
        let mut conn = self.db.conn().await?;
        let mut trimmed = Trimmed {
            sessions: store::housekeeping::ended_sessions(&mut conn, now - day).await?,
            password_resets: store::housekeeping::old_password_resets(&mut conn, now - day).await?,
            stripe_events: store::housekeeping::old_stripe_events(
                &mut conn,
                now - chrono::Duration::days(STRIPE_EVENT_DAYS),
            )
            .await?,
            license_callbacks: store::housekeeping::old_license_callbacks(
                &mut conn,
                now - chrono::Duration::seconds(CALLBACK_MEMORY_SECS),
            )
            .await?,
            credential_links: store::credential_links::erase_expired(&mut conn, now).await?,
            audit_entries: 0,
        };
        if let Some(days) = self.settings.audit_retention_days {
            trimmed.audit_entries = store::housekeeping::old_audit_entries(
                &mut conn,
                now - chrono::Duration::days(days),
            )
            .await?;
        }
        Ok(trimmed)
    }

    /// Runs every `interval` until the task is dropped.
    pub async fn run(self, interval: Duration) {
        let mut rounds = super::periodic::Rounds::new(self.db.clone(), "housekeeping", interval);
        loop {
            rounds.next().await;
            match self.run_once(store::now()).await {
                Ok(t) if t != Trimmed::default() => tracing::info!(?t, "housekeeping trimmed"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "housekeeping failed"),
            }
        }
    }
}
