//! Leases kept alive while their holder works: a claimed job or message is leased for a
//! short time and renewed every third of it, so a live worker never loses it however long
//! a panel or SMTP call takes, and a dead one's work is taken over within one lease.
//! Renewal is fenced by the claim's token: a holder that lost its lease renews nothing,
//! and (the store's finish checks the same token) records nothing over the new holder.

use std::time::Duration;

use crate::store::{self, Db, LeasedTable};

/// Renews a lease until dropped.
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    /// Starts renewing `id`'s lease in `table` under `token`, `lease` ahead, every third of it.
    pub fn start(db: Db, table: LeasedTable, id: i64, token: String, lease: Duration) -> Heartbeat {
        Heartbeat::beat(lease, format!("{table:?} {id}"), move |until| {
            let (db, token) = (db.clone(), token.clone());
            async move {
                let mut conn = db.conn().await?;
                store::renew_lease(&mut conn, table, id, &token, until).await
            }
        })
    }

    /// Starts renewing `holder`'s lease on the running round of the periodic task `name`.
    pub fn round(db: Db, name: &'static str, holder: String, lease: Duration) -> Heartbeat {
        Heartbeat::beat(lease, format!("round {name}"), move |until| {
            let (db, holder) = (db.clone(), holder.clone());
            async move {
                let mut conn = db.conn().await?;
                store::periodic::renew(&mut conn, name, &holder, until).await
            }
        })
    }

    /// Calls `renew(until)` every third of `lease` until it says the lease is lost.
    fn beat<F, Fut>(lease: Duration, what: String, renew: F) -> Heartbeat
    where
        F: Fn(chrono::DateTime<chrono::Utc>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<bool, store::StoreError>> + Send,
    {
        let every = (lease / 3).max(Duration::from_millis(200));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = store::now()
                    + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(15));
                match renew(until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(lease = %what, "lease lost to another holder; no longer renewing it");
                        return;
                    }
                    // A database hiccup: try again at the next beat, the lease still runs.
                    Err(e) => tracing::warn!(lease = %what, error = %e, "cannot renew a lease"),
                }
            }
        });
        Heartbeat { task }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
