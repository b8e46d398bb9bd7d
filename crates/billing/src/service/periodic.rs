//! Background rounds that must run once per interval across every instance sharing the
//! database (health checks, reconciliation, usage polls, billing), not once per instance:
//! each round is leased in `periodic_tasks`, and the instance holding the lease keeps it
//! while it keeps running.

use std::time::Duration;

use crate::store::{self, Db};

/// Waits for this instance's rounds of one task.
pub struct Rounds {
    db: Db,
    name: &'static str,
    holder: String,
    interval: Duration,
    ticker: tokio::time::Interval,
}

impl Rounds {
    /// Rounds of `name` every `interval`.
    pub fn new(db: Db, name: &'static str, interval: Duration) -> Rounds {
        let holder = super::random_bytes::<8>()
            .map(hex::encode)
            .unwrap_or_else(|_| format!("pid-{}", std::process::id()));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Rounds {
            db,
            name,
            holder,
            interval,
            ticker,
        }
    }

    /// Resolves when the next round is this instance's to run.
    pub async fn next(&mut self) {
        loop {
            self.ticker.tick().await;
            match self.claim().await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::debug!(task = self.name, "another instance runs this round")
                }
                // Without the database there is nothing a round could do either.
                Err(e) => tracing::warn!(task = self.name, error = %e, "cannot claim the round"),
            }
        }
    }

    async fn claim(&self) -> Result<bool, store::StoreError> {
        let now = store::now();
        // A little shorter than the interval, so this instance's next tick finds it free.
        let lease = chrono::Duration::from_std(self.interval.mul_f64(0.9))
            .unwrap_or(chrono::Duration::seconds(1));
        let mut conn = self.db.conn().await?;
        store::periodic::claim(&mut conn, self.name, &self.holder, now, now + lease).await
    }
}
