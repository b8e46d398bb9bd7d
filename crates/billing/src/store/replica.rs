//! A PostgreSQL read replica (a hot standby) for reads that tolerate lag: the admin lists
//! and the reports, through [`super::Db::read`]. Nothing else reads from it.
//!
//! A standby replays the primary's WAL, so it may be behind by the replay lag (usually
//! well under a second): a list may miss a row written a moment ago. When the replica
//! cannot be reached, reads go to the primary and the replica is left alone for
//! [`REST`], so an outage costs one failed connect per rest, not one per request.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use utoipa::ToSchema;

use super::StoreError;

/// How long reads skip a replica that could not be reached before trying it again.
pub const REST: Duration = Duration::from_secs(5);

/// How long a read waits for a replica connection before it goes to the primary: short,
/// since the primary can answer instead.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A pool of connections to the read replica; cheap to clone.
#[derive(Clone)]
pub struct Replica(Arc<Inner>);

struct Inner {
    pool: PgPool,
    /// The URL with its password masked, for logs.
    shown: String,
    /// Until when reads skip the replica after a failed connect.
    resting_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Replica").field(&self.0.shown).finish()
    }
}

/// What `/ready` says about the replica.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplicaHealth {
    /// `streaming` (a standby answering), `unreachable` (lists and reports read from the
    /// primary meanwhile) or `not_a_standby` (the URL leads to a server that is not in
    /// recovery: check `database_replica_url`).
    pub state: &'static str,
    /// Seconds since the last transaction the standby replayed committed on the primary;
    /// grows while the primary is idle too, so it is an upper bound of the lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_age_secs: Option<f64>,
    /// Whether WAL replay is paused on the standby (it then falls further behind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_paused: Option<bool>,
}

impl Replica {
    /// A pool to the replica at `url`, connected on first use so that a replica down at
    /// start-up does not keep the service from starting.
    pub fn new(url: &str) -> Result<Replica, StoreError> {
        // The parse error never holds the URL, so it cannot leak the password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("database_replica_url: {e}")))?
            // A write routed here by mistake fails loudly, even if the URL leads to a
            // writable server.
            .options([("default_transaction_read_only", "on")]);
        // Pinged on every acquire (sqlx's default), unlike the primary's pools: a replica
        // that went away must be noticed before a read is sent to it, so the read can go
        // to the primary instead of failing.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Replica(Arc::new(Inner {
            pool,
            shown: crate::config::mask_url_password(url),
            resting_until: Mutex::new(None),
        })))
    }

    /// The replica's URL with the password masked.
    pub fn shown(&self) -> &str {
        &self.0.shown
    }

    /// A replica connection, or `None` (logged) when the replica is resting or cannot be
    /// reached: the caller reads from the primary then.
    pub async fn acquire(&self) -> Option<PoolConnection<Postgres>> {
        if self.resting() {
            return None;
        }
        match self.0.pool.acquire().await {
            Ok(conn) => Some(conn),
            Err(e) => {
                self.rest();
                // The error names the cause (refused, timed out, authentication), never
                // the password; the URL is shown masked.
                tracing::warn!(
                    replica = %self.0.shown,
                    error = %e,
                    rest_secs = REST.as_secs(),
                    "read replica unreachable: lists and reports read from the primary"
                );
                None
            }
        }
    }

    fn resting(&self) -> bool {
        let Ok(mut until) = self.0.resting_until.lock() else {
            return false;
        };
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn rest(&self) {
        if let Ok(mut until) = self.0.resting_until.lock() {
            *until = Some(Instant::now() + REST);
        }
    }

    /// Asks the replica how it is (for `/ready`), whether or not reads are resting from it.
    pub async fn health(&self) -> ReplicaHealth {
        let unreachable = ReplicaHealth {
            state: "unreachable",
            replay_age_secs: None,
            replay_paused: None,
        };
        let probe = async {
            let mut conn = self.0.pool.acquire().await?;
            let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                .fetch_one(&mut *conn)
                .await?;
            if !in_recovery {
                return Ok::<_, sqlx::Error>(ReplicaHealth {
                    state: "not_a_standby",
                    replay_age_secs: None,
                    replay_paused: None,
                });
            }
            let (age, paused): (Option<f64>, bool) = sqlx::query_as(
                "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, \
                 pg_is_wal_replay_paused()",
            )
            .fetch_one(&mut *conn)
            .await?;
            Ok(ReplicaHealth {
                state: "streaming",
                replay_age_secs: age.map(|a| (a * 10.0).round() / 10.0),
                replay_paused: Some(paused),
            })
        };
        match tokio::time::timeout(Duration::from_secs(3), probe).await {
            Ok(Ok(health)) => health,
            Ok(Err(e)) => {
                tracing::warn!(replica = %self.0.shown, error = %e, "read replica check failed");
                unreachable
            }
            Err(_) => unreachable,
        }
    }

    /// Closes every connection to the replica.
    pub async fn close(&self) {
        self.0.pool.close().await;
    }
}
