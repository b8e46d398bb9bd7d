//! The durable job runner and the jobs it runs.
//!
//! A job is a row of `jobs`, written in the same transaction as the change that
//! needs it. Workers claim due jobs with a lease, run them, and settle them: done,
//! retried later with exponential backoff and jitter, failed for good, or dead once
//! the attempts run out. Every job is idempotent, so a job whose worker died (its
//! lease expired) can safely run again.

pub mod lifecycle;
pub mod provision;

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::Settings;
use crate::domain::hosting::backoff_ms;
use crate::panel::PanelTimeouts;
use crate::service::{random_bytes, ServiceError};
use crate::store::jobs::{Attempt, Finish, JobRow, NewJob};
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// What a job is asked to do. Secrets (passwords) are sealed by the vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// Create the hosting account on its server.
    Provision {
        /// The hosting account.
        account_id: i64,
        /// The initial password, sealed; erased once the account exists.
        password: Option<String>,
    },
    /// Suspend the account on the panel.
    Suspend {
        /// The hosting account.
        account_id: i64,
        /// Why.
        reason: String,
    },
    /// Unsuspend the account on the panel.
    Unsuspend {
        /// The hosting account.
        account_id: i64,
    },
    /// Remove the account from the panel.
    Terminate {
        /// The hosting account.
        account_id: i64,
    },
    /// Move the account (and its license) to another plan.
    ChangePlan {
        /// The hosting account.
        account_id: i64,
        /// The new plan.
        plan_id: i64,
    },
    /// Set a new hosting password on the panel.
    SetPassword {
        /// The hosting account.
        account_id: i64,
        /// The new password, sealed; erased once set.
        password: Option<String>,
    },
    /// Capture the card authorization that paid for the (now active) account.
    CapturePayment {
        /// The hosting account.
        account_id: i64,
    },
    /// Release the card authorization of an account that could not be created.
    ReleasePayment {
        /// The hosting account.
        account_id: i64,
    },
}

impl Payload {
    /// The `kind` column value.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Provision { .. } => "provision",
            Payload::Suspend { .. } => "suspend",
            Payload::Unsuspend { .. } => "unsuspend",
            Payload::Terminate { .. } => "terminate",
            Payload::ChangePlan { .. } => "change_plan",
            Payload::SetPassword { .. } => "set_password",
            Payload::CapturePayment { .. } => "capture_payment",
            Payload::ReleasePayment { .. } => "release_payment",
        }
    }

    /// The hosting account concerned.
    pub fn account_id(&self) -> i64 {
        match self {
            Payload::Provision { account_id, .. }
            | Payload::Suspend { account_id, .. }
            | Payload::Unsuspend { account_id }
            | Payload::Terminate { account_id }
            | Payload::ChangePlan { account_id, .. }
            | Payload::SetPassword { account_id, .. }
            | Payload::CapturePayment { account_id }
            | Payload::ReleasePayment { account_id } => *account_id,
        }
    }
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished; the optional text is reported to whoever waits for it.
    Done(Option<String>),
    /// Try again: after the backoff, or at once (`immediate`, e.g. on another server).
    Retry {
        /// What went wrong this time.
        error: String,
        /// Skip the backoff.
        immediate: bool,
    },
    /// Failed for good; the job already recorded the consequences.
    Fail(String),
    /// Finished, and the job already marked itself done in the transaction of its
    /// result (one commit instead of two); the runner has nothing left to record.
    Settled,
    /// Not yet possible (the account is still being created, no server can take it):
    /// run again after `after_ms` without using up an attempt, so waiting never kills
    /// the job.
    Wait {
        /// What it waits for.
        reason: String,
        /// When to look again.
        after_ms: u64,
    },
}

impl Outcome {
    /// A retry after the backoff.
    pub fn retry(error: impl Into<String>) -> Outcome {
        Outcome::Retry {
            error: error.into(),
            immediate: false,
        }
    }
}

impl From<ServiceError> for Outcome {
    fn from(e: ServiceError) -> Self {
        // Our own database or vault failing is transient from the job's point of view.
        Outcome::retry(e.to_string())
    }
}

/// Everything a job needs.
#[derive(Clone)]
pub struct JobContext {
    /// The database.
    pub db: Db,
    /// Unseals credentials and passwords.
    pub vault: Vault,
    /// Panel call timeouts.
    pub timeouts: PanelTimeouts,
    /// The configuration.
    pub settings: Arc<Settings>,
    /// Wakes idle workers when a job is enqueued in this process.
    pub wake: Arc<Notify>,
    /// Panel clients shared by this process's workers.
    pub clients: Arc<crate::service::servers::ClientCache>,
    /// Turns to call a panel: `workers` of them, shared by this process's job loops
    /// (twice as many), so one job's database work overlaps another's panel call.
    pub panel_calls: Arc<tokio::sync::Semaphore>,
}

/// Enqueues a job in the caller's transaction (a repeat of the same key returns the first job).
pub async fn enqueue(
    tx: &mut Tx,
    settings: &Settings,
    payload: &Payload,
    idempotency_key: &str,
) -> Result<JobRow, ServiceError> {
    let text = serde_json::to_string(payload).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(store::jobs::enqueue(
        tx,
        &NewJob {
            kind: payload.kind(),
            payload: &text,
            idempotency_key,
            max_attempts: settings.jobs.max_attempts,
            hosting_account_id: Some(payload.account_id()),
            now: store::now(),
        },
    )
    .await?)
}

/// A random 128-bit hex token.
pub fn token() -> Result<String, ServiceError> {
    Ok(hex::encode(random_bytes::<16>()?))
}

impl JobContext {
    /// Waits for a turn to call a panel (see `panel_calls`); held until dropped.
    pub(crate) async fn panel_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        // The semaphore is never closed; `None` would only let the call go ahead.
        self.panel_calls.clone().acquire_owned().await.ok()
    }

    /// Runs a capture or release of a card authorization: done with its outcome, or
    /// retried (Stripe unreachable) with the same idempotency key.
    async fn settle_payment<F>(&self, account_id: i64, step: F) -> Outcome
    where
        F: for<'a> AsyncFn(
            &'a crate::service::payments::PaymentContext<'a>,
            i64,
        ) -> Result<String, ServiceError>,
    {
        let ctx = crate::service::payments::PaymentContext {
            db: &self.db,
            settings: &self.settings,
            vault: &self.vault,
            wake: &self.wake,
        };
        match step(&ctx, account_id).await {
            Ok(done) => Outcome::Done(Some(done)),
            Err(e) => Outcome::from(e),
        }
    }

    /// Claims and runs one due job; false when none was due.
    pub async fn run_next(&self) -> Result<bool, ServiceError> {
        let token = token()?;
        let now = store::now();
        let lease = now
            + ChronoDuration::seconds(i64::try_from(self.settings.jobs.lease_secs).unwrap_or(15));
        if self.db.engine() == store::Engine::Sqlite {
            // Looking is a read, which never waits in WAL mode; only a claim that will
            // find something takes a turn among the writers.
            let mut conn = self.db.conn().await?;
            if !store::jobs::any_due(&mut conn, now).await? {
                return Ok(false);
            }
        }
        let mut tx = self.db.begin().await?;
        let Some(job) = store::jobs::claim(&mut tx, now, lease, &token).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        // What the job's first step records (a provision's account is `provisioning` from
        // now on) shares the claim's commit.
        if job.kind == "provision" && job.attempts <= job.max_attempts {
            if let Some(account_id) = job.hosting_account_id {
                provision::on_claim(&mut tx, &job, account_id).await?;
            }
        }
        tx.commit().await?;
        // Renewed while the job runs, so the lease can be short: a dead worker's job is
        // taken over within one lease, a live one's never.
        let _heartbeat = crate::service::leases::Heartbeat::start(
            self.db.clone(),
            store::LeasedTable::Jobs,
            job.id,
            token.clone(),
            std::time::Duration::from_secs(self.settings.jobs.lease_secs),
        );
        let outcome = if job.attempts > job.max_attempts {
            // Its workers kept dying mid-run (leases expired): stop trying.
            Outcome::retry(format!(
                "the job's lease expired {} times; last error: {}",
                job.attempts - 1,
                job.last_error.as_deref().unwrap_or("none")
            ))
        } else {
            let ctx = self.clone();
            let running = job.clone();
            let run = store::first_in_line(async move { ctx.dispatch(&running).await });
            match tokio::spawn(run).await {
                Ok(outcome) => outcome,
                Err(e) => Outcome::retry(format!("the job crashed: {e}")),
            }
        };
        self.settle(&job, &token, outcome).await?;
        Ok(true)
    }

    async fn dispatch(&self, job: &JobRow) -> Outcome {
        let payload: Payload = match serde_json::from_str(&job.payload) {
            Ok(p) => p,
            Err(e) => return Outcome::Fail(format!("unreadable job payload: {e}")),
        };
        tracing::info!(job = job.id, kind = %job.kind, attempt = job.attempts, "running job");
        match payload {
            Payload::Provision {
                account_id,
                password,
            } => provision::run(self, job, account_id, password.as_deref()).await,
            // Rarer than provisions: each holds its panel turn throughout.
            Payload::Suspend { account_id, reason } => {
                let _turn = self.panel_turn().await;
                lifecycle::suspend(self, account_id, &reason).await
            }
            Payload::Unsuspend { account_id } => {
                let _turn = self.panel_turn().await;
                lifecycle::unsuspend(self, account_id).await
            }
            Payload::Terminate { account_id } => {
                let _turn = self.panel_turn().await;
                lifecycle::terminate(self, account_id).await
            }
            Payload::ChangePlan {
                account_id,
                plan_id,
            } => {
                let _turn = self.panel_turn().await;
                lifecycle::change_plan(self, account_id, plan_id).await
            }
            Payload::SetPassword {
                account_id,
                password,
            } => {
                let _turn = self.panel_turn().await;
                lifecycle::set_password(self, job, account_id, password.as_deref()).await
            }
            Payload::CapturePayment { account_id } => {
                self.settle_payment(account_id, crate::service::capture::capture)
                    .await
            }
            Payload::ReleasePayment { account_id } => {
                self.settle_payment(account_id, crate::service::capture::release)
                    .await
            }
        }
    }

    /// Records how a run ended.
    async fn settle(
        &self,
        job: &JobRow,
        token: &str,
        outcome: Outcome,
    ) -> Result<(), ServiceError> {
        if outcome == Outcome::Settled {
            return Ok(());
        }
        let now = store::now();
        let mut tx = self.db.begin().await?;
        let held = match &outcome {
            Outcome::Settled => true,
            Outcome::Done(result) => {
                store::jobs::finish(
                    &mut tx,
                    job.id,
                    token,
                    &Finish {
                        state: "done",
                        error: None,
                        result: result.as_deref(),
                    },
                    now,
                )
                .await?
            }
            Outcome::Fail(error) => {
                tracing::warn!(job = job.id, kind = %job.kind, %error, "job failed");
                store::jobs::finish(
                    &mut tx,
                    job.id,
                    token,
                    &Finish {
                        state: "failed",
                        error: Some(error),
                        result: None,
                    },
                    now,
                )
                .await?
            }
            Outcome::Wait { reason, after_ms } => {
                let at =
                    now + ChronoDuration::milliseconds(i64::try_from(*after_ms).unwrap_or(2_000));
                tracing::debug!(job = job.id, kind = %job.kind, %reason, "job waits");
                store::jobs::retry_at(&mut tx, job.id, token, at, reason, Attempt::Returned, now)
                    .await?
            }
            Outcome::Retry { error, .. } if job.attempts >= job.max_attempts => {
                tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, %error, "job is dead after its last attempt");
                let held = store::jobs::finish(
                    &mut tx,
                    job.id,
                    token,
                    &Finish {
                        state: "dead",
                        error: Some(error),
                        result: None,
                    },
                    now,
                )
                .await?;
                if held {
                    self.on_dead(&mut tx, job, error).await?;
                }
                held
            }
            Outcome::Retry { error, immediate } => {
                let delay = if *immediate {
                    0
                } else {
                    let jitter = f64::from(random_bytes::<1>()?[0]) / 256.0;
                    backoff_ms(
                        job.attempts,
                        self.settings.jobs.backoff_base_ms,
                        self.settings.jobs.backoff_cap_ms,
                        jitter,
                    )
                };
                tracing::info!(job = job.id, kind = %job.kind, attempt = job.attempts, delay_ms = delay, %error, "job will retry");
                let at = now
                    + ChronoDuration::milliseconds(i64::try_from(delay).unwrap_or(i64::MAX / 2));
                store::jobs::retry_at(&mut tx, job.id, token, at, error, Attempt::Used, now).await?
            }
        };
        if !held {
            tracing::warn!(
                job = job.id,
                "the job's lease was taken over by another worker; its result stands"
            );
        }
        tx.commit().await?;
        if matches!(
            outcome,
            Outcome::Retry {
                immediate: true,
                ..
            }
        ) {
            self.wake.notify_waiters();
        }
        Ok(())
    }

    /// A dead provision leaves its account `failed` with the reason; other dead jobs leave an audit entry.
    async fn on_dead(&self, tx: &mut Tx, job: &JobRow, error: &str) -> Result<(), ServiceError> {
        let reason = format!("gave up after {} attempts: {error}", job.attempts);
        match job.kind.as_str() {
            "provision" => {
                if let Some(account_id) = job.hosting_account_id {
                    provision::mark_failed(tx, account_id, &reason).await?;
                    crate::service::capture::on_account_failed(tx, &self.settings, account_id)
                        .await?;
                }
            }
            _ => {
                crate::service::audit::record(
                    tx,
                    &crate::service::Actor::system(),
                    crate::service::audit::Change::<(), _> {
                        action: "job.dead",
                        entity_type: "hosting_account",
                        entity_id: job.hosting_account_id,
                        before: None,
                        after: Some(&serde_json::json!({"job_id": job.id, "kind": job.kind, "reason": reason})),
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// One worker: runs jobs until the process ends, idling on the wake-up or a short poll.
    /// Its SQLite writes go before request handlers' ([`store::first_in_line`]).
    pub async fn work(self, worker: usize) {
        store::first_in_line(self.run_forever(worker)).await;
    }

    async fn run_forever(self, worker: usize) {
        tracing::debug!(worker, "job worker started");
        loop {
            // Listening before looking: a job enqueued after the look found nothing wakes
            // this worker at once instead of after the poll interval.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.run_next().await {
                Ok(true) => {}
                Ok(false) => {
                    tokio::select! {
                        () = woken => {}
                        () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(worker, error = %e, "job worker could not claim a job");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
