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
        let every = (lease / 3).max(Duration::from_millis(200));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = store::now()
                    + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(15));
                let renewed = match db.conn().await {
                    Ok(mut conn) => store::renew_lease(&mut conn, table, id, &token, until).await,
                    Err(e) => Err(e),
                };
                match renewed {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            ?table,
                            id,
                            "lease lost to another holder; no longer renewing it"
                        );
                        return;
                    }
                    // A database hiccup: try again at the next beat, the lease still runs.
                    Err(e) => tracing::warn!(?table, id, error = %e, "cannot renew a lease"),
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
