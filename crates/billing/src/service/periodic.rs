//! Background rounds that must run once per interval across every instance sharing the
//! database (health checks, reconciliation, usage polls, billing), not once per instance.
//! A round is leased in `periodic_tasks` for a short time and renewed while it runs (a
//! heartbeat, fenced by the holder's id); the next round is due an interval after the
//! last one started. When the instance running a round dies, its lease lapses within
//! seconds and another instance runs the round again at its next check: rounds are
//! idempotent (each step is guarded in the database), so redoing part of one is safe.

use std::time::Duration;

use super::leases::Heartbeat;
use crate::store::{self, Db};

/// How long a round is leased ahead; renewed every third of it while the round runs.
const ROUND_LEASE: Duration = Duration::from_secs(15);

/// Waits for this instance's rounds of one task. The round [`Rounds::next`] returns runs
/// until `next` is called again.
pub struct Rounds {
    db: Db,
    name: &'static str,
    holder: String,
    interval: Duration,
    lease: Duration,
    ticker: tokio::time::Interval,
    running: Option<Heartbeat>,
}

impl Rounds {
    /// Rounds of `name` every `interval`.
    pub fn new(db: Db, name: &'static str, interval: Duration) -> Rounds {
        Rounds::with_lease(db, name, interval, ROUND_LEASE)
    }

    /// Rounds of `name` every `interval`, each leased `lease` ahead while it runs.
    pub fn with_lease(db: Db, name: &'static str, interval: Duration, lease: Duration) -> Rounds {
        let holder = super::random_bytes::<8>()
            .map(hex::encode)
            .unwrap_or_else(|_| format!("pid-{}", std::process::id()));
        // Checked at least once per lease, so a round whose holder died is taken over
        // within about two leases, however long the interval.
        let mut ticker = tokio::time::interval(interval.min(lease));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Rounds {
            db,
            name,
            holder,
            interval,
            lease,
            ticker,
            running: None,
        }
    }

    /// Finishes the round this instance was running, if any, and resolves when the next
    /// round is this instance's to run.
    pub async fn next(&mut self) {
        self.finish().await;
        loop {
            self.ticker.tick().await;
            match self.claim().await {
                Ok(true) => {
                    self.running = Some(Heartbeat::round(
                        self.db.clone(),
                        self.name,
                        self.holder.clone(),
                        self.lease,
                    ));
                    return;
                }
                Ok(false) => {
                    tracing::debug!(task = self.name, "not due, or another instance runs it")
                }
                // Without the database there is nothing a round could do either.
                Err(e) => tracing::warn!(task = self.name, error = %e, "cannot claim the round"),
            }
        }
    }

    async fn finish(&mut self) {
        if self.running.take().is_none() {
            return;
        }
        let finished = match self.db.conn().await {
            Ok(mut conn) => {
                store::periodic::finish(&mut conn, self.name, &self.holder, store::now()).await
            }
            Err(e) => Err(e),
        };
        match finished {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                task = self.name,
                "the round was taken over by another instance before it finished"
            ),
            // The lease lapses by itself; the round is then run again.
            Err(e) => {
                tracing::warn!(task = self.name, error = %e, "cannot record the end of the round")
            }
        }
    }

    async fn claim(&self) -> Result<bool, store::StoreError> {
        let now = store::now();
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(15));
        // A little shorter than the interval, so this instance's tick that far on finds
        // the round due despite the ticker's jitter.
        let spacing = chrono::Duration::from_std(self.interval.mul_f64(0.9))
            .unwrap_or(chrono::Duration::seconds(1));
        let mut conn = self.db.conn().await?;
        store::periodic::claim(
            &mut conn,
            self.name,
            &self.holder,
            now,
            now + lease,
            now - spacing,
        )
        .await
    }
}
