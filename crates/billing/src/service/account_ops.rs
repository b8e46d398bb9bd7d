//! Admin operations on hosting accounts: each records a job in one transaction and
//! waits a short while for it, so the caller usually gets the final answer at once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::{self, HostingAccount};
use super::{random_bytes, Actor, ServiceError};
use crate::config::Settings;
use crate::domain::hosting::{self, AccountState};
use crate::domain::{text, Invalid};
use crate::jobs::{self, Payload};
use crate::panel::{ControlPanel, PanelStats, PanelTimeouts};
use crate::store::jobs::JobRow;
use crate::store::{self, Db};
use crate::vault::Vault;

/// What the API needs to run account operations.
pub struct Ops<'a> {
    /// The database.
    pub db: &'a Db,
    /// Seals passwords.
    pub vault: &'a Vault,
    /// Job settings and waits.
    pub settings: &'a Settings,
    /// Wakes the workers.
    pub wake: &'a tokio::sync::Notify,
    /// Panel timeouts (for stats).
    pub timeouts: PanelTimeouts,
}

/// The answer of an account operation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationResult {
    /// The account as it is now.
    pub account: HostingAccount,
    /// The job that carries the operation.
    pub job: JobView,
    /// True when the job finished within the wait.
    pub finished: bool,
}

/// A job as the API shows it (sealed secrets hidden).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// `queued`, `running`, `done`, `failed` or `dead`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Next run.
    pub run_at: chrono::DateTime<chrono::Utc>,
    /// Last error.
    pub last_error: Option<String>,
    /// What the job reported on success.
    pub result: Option<String>,
    /// Account concerned.
    pub hosting_account_id: Option<i64>,
    /// Arguments, with any password hidden.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Creation time.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it reached a final state.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&JobRow> for JobView {
    fn from(j: &JobRow) -> Self {
        let mut payload: serde_json::Value =
            serde_json::from_str(&j.payload).unwrap_or(serde_json::Value::Null);
        if let Some(p) = payload.get_mut("password") {
            if !p.is_null() {
                *p = serde_json::Value::String("(sealed)".into());
            }
        }
        JobView {
            id: j.id,
            kind: j.kind.clone(),
            state: j.state.clone(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            last_error: j.last_error.clone(),
            result: j.result.clone(),
            hosting_account_id: j.hosting_account_id,
            payload,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

/// Body of `POST /accounts/{id}/suspend`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Why (shown on the panel and in the audit log).
    pub reason: Option<String>,
}

/// Body of `POST /accounts/{id}/change-plan`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlanRequest {
    /// The new plan.
    pub plan_id: i64,
}

/// Body of `POST /accounts/{id}/password`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The new password (12+ characters with a letter and a digit); generated when absent.
    pub password: Option<String>,
}

/// The answer of a password change: the generated password, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResult {
    /// The operation.
    #[serde(flatten)]
    pub operation: OperationResult,
    /// The generated password, when none was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

impl Ops<'_> {
    async fn run(
        &self,
        actor: &Actor,
        account_id: i64,
        payload: Payload,
        check: impl Fn(AccountState) -> Result<(), ServiceError>,
    ) -> Result<OperationResult, ServiceError> {
        actor.require_admin()?;
        let mut tx = self.db.begin().await?;
        let account = accounts::load(&mut tx, account_id).await?;
        check(accounts::state_of(&account))?;
        let key = format!(
            "{}:{}:{}",
            payload.kind(),
            account_id,
            hex::encode(random_bytes::<8>()?)
        );
        let job = jobs::enqueue(&mut tx, self.settings, &payload, &key).await?;
        crate::service::audit::record(
            &mut tx,
            actor,
            crate::service::audit::Change::<(), _> {
                action: &format!("account.{}_requested", payload.kind()),
                entity_type: "hosting_account",
                entity_id: Some(account_id),
                before: None,
                after: Some(&serde_json::json!({"job_id": job.id})),
            },
        )
        .await?;
        tx.commit().await?;
        self.wake.notify_waiters();
        self.wait(account_id, job.id).await
    }

    async fn wait(&self, account_id: i64, job_id: i64) -> Result<OperationResult, ServiceError> {
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.settings.provision_wait_secs);
        loop {
            let mut conn = self.db.conn().await?;
            let job = store::jobs::find(&mut conn, job_id)
                .await?
                .ok_or(ServiceError::NotFound("job"))?;
            let finished = matches!(job.state.as_str(), "done" | "failed" | "dead");
            if finished || tokio::time::Instant::now() >= deadline {
                let account = accounts::load(&mut conn, account_id).await?;
                if job.state == "failed" || job.state == "dead" {
                    return Err(ServiceError::Conflict {
                        field: None,
                        message: format!(
                            "the {} failed: {}",
                            job.kind.replace('_', " "),
                            job.last_error.as_deref().unwrap_or("unknown error")
                        ),
                    });
                }
                return Ok(OperationResult {
                    account: HostingAccount::from(&account),
                    job: JobView::from(&job),
                    finished,
                });
            }
            drop(conn);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Suspends an active account.
    pub async fn suspend(
        &self,
        actor: &Actor,
        id: i64,
        reason: Option<String>,
    ) -> Result<OperationResult, ServiceError> {
        let reason = text::bounded(
            "reason",
            reason.as_deref().unwrap_or("suspended by the provider"),
            1,
            500,
        )?;
        self.run(
            actor,
            id,
            Payload::Suspend {
                account_id: id,
                reason,
            },
            |s| match s {
                AccountState::Active
                | AccountState::Suspended
                | AccountState::Pending
                | AccountState::Provisioning => Ok(()),
                other => Err(not_now("suspended", other)),
            },
        )
        .await
    }

    /// Puts a suspended account back in service.
    pub async fn unsuspend(&self, actor: &Actor, id: i64) -> Result<OperationResult, ServiceError> {
        self.run(
            actor,
            id,
            Payload::Unsuspend { account_id: id },
            |s| match s {
                AccountState::Active | AccountState::Suspended => Ok(()),
                other => Err(not_now("unsuspended", other)),
            },
        )
        .await
    }

    /// Terminates an account (also the way to cancel a failed one).
    pub async fn terminate(&self, actor: &Actor, id: i64) -> Result<OperationResult, ServiceError> {
        self.run(actor, id, Payload::Terminate { account_id: id }, |_| Ok(()))
            .await
    }

    /// Moves an account and its license to another plan.
    pub async fn change_plan(
        &self,
        actor: &Actor,
        id: i64,
        body: ChangePlanRequest,
    ) -> Result<OperationResult, ServiceError> {
        let mut conn = self.db.conn().await?;
        let plan = store::plans::find(&mut conn, body.plan_id)
            .await?
            .ok_or_else(|| Invalid::new("plan_id", format!("no plan with id {}", body.plan_id)))?;
        if !plan.is_active {
            return Err(Invalid::new("plan_id", "the plan is not active").into());
        }
        // A smaller plan must hold what the license already has, or the panel and the
        // license checks would disagree from the first day.
        if let Some(account) = store::hosting_accounts::find(&mut conn, id).await? {
            let license = account.license_id;
            let held = crate::domain::quota::Holdings {
                accounts: store::hosting_accounts::live_under_license(&mut conn, license).await?,
                domains: store::license_usage::used(&mut conn, license, "domains").await?,
                databases: store::license_usage::used(&mut conn, license, "databases").await?,
                emails: store::license_usage::used(&mut conn, license, "emails").await?,
            };
            crate::domain::quota::fits(held, super::plans::quotas_of(&plan)).map_err(
                |problem| ServiceError::Conflict {
                    field: Some("plan_id".into()),
                    message: format!("cannot move to {}: {problem}; remove some first", plan.name),
                },
            )?;
        }
        drop(conn);
        self.run(
            actor,
            id,
            Payload::ChangePlan {
                account_id: id,
                plan_id: plan.id,
            },
            |s| match s {
                AccountState::Active | AccountState::Suspended => Ok(()),
                other => Err(not_now("moved to another plan", other)),
            },
        )
        .await
    }

    /// Sets a new hosting password; 409 when the server cannot.
    pub async fn set_password(
        &self,
        actor: &Actor,
        id: i64,
        body: PasswordRequest,
    ) -> Result<PasswordResult, ServiceError> {
        actor.require_admin()?;
        let (password, generated) = match body.password {
            Some(p) => {
                hosting::check_password(&p)?;
                (p, false)
            }
            None => (hosting::password_from_entropy(random_bytes()?), true),
        };
        let mut conn = self.db.conn().await?;
        let account = accounts::load(&mut conn, id).await?;
        let server = match account.server_id {
            Some(sid) => store::servers::find(&mut conn, sid).await?,
            None => None,
        };
        drop(conn);
        let extensions: Vec<String> = server
            .as_ref()
            .and_then(|s| serde_json::from_str(&s.extensions).ok())
            .unwrap_or_default();
        if !extensions.iter().any(|e| e == "password") {
            return Err(ServiceError::Conflict {
                field: None,
                message: "the account's server cannot set passwords (it does not advertise the password extension); change it in NextPanel itself".into(),
            });
        }
        let sealed = self
            .vault
            .seal(&password)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let operation = self
            .run(
                actor,
                id,
                Payload::SetPassword {
                    account_id: id,
                    password: Some(sealed),
                },
                |s| match s {
                    AccountState::Active | AccountState::Suspended => Ok(()),
                    other => Err(not_now("given a new password", other)),
                },
            )
            .await?;
        Ok(PasswordResult {
            operation,
            generated_password: generated.then_some(password),
        })
    }

    /// Retries a failed account: back to pending, its provision job queued again.
    pub async fn retry(&self, actor: &Actor, id: i64) -> Result<OperationResult, ServiceError> {
        actor.require_admin()?;
        let mut tx = self.db.begin().await?;
        let account = accounts::load(&mut tx, id).await?;
        if accounts::state_of(&account) != AccountState::Failed {
            return Err(not_now("retried", accounts::state_of(&account)));
        }
        let job = store::jobs::latest_for_account(&mut tx, id, "provision")
            .await?
            .ok_or(ServiceError::NotFound("provision job"))?;
        let mut next = account.clone();
        next.state = AccountState::Pending.as_str().to_owned();
        next.failure_reason = None;
        next.tried_servers = "[]".into();
        next.updated_at = store::now();
        accounts::save_change(&mut tx, actor, &account, &next, "account.retry").await?;
        store::jobs::requeue(&mut tx, job.id, store::now()).await?;
        tx.commit().await?;
        self.wake.notify_waiters();
        let row = super::provisioning::wait_for(
            self.db,
            id,
            Duration::from_secs(self.settings.provision_wait_secs),
            |s| s != AccountState::Pending && s != AccountState::Provisioning,
        )
        .await?;
        let mut conn = self.db.conn().await?;
        let job = store::jobs::find(&mut conn, job.id)
            .await?
            .ok_or(ServiceError::NotFound("job"))?;
        let finished = accounts::state_of(&row) == AccountState::Active
            || accounts::state_of(&row) == AccountState::Failed;
        Ok(OperationResult {
            account: HostingAccount::from(&row),
            job: JobView::from(&job),
            finished,
        })
    }

    /// Usage figures from the panel, fetched now.
    pub async fn stats(&self, actor: &Actor, id: i64) -> Result<PanelStatsView, ServiceError> {
        actor.require_staff()?;
        let mut conn = self.db.conn().await?;
        let account = accounts::load(&mut conn, id).await?;
        let panel_id = account
            .panel_account_id
            .clone()
            .ok_or_else(|| ServiceError::Conflict {
                field: None,
                message: "the account does not exist on the panel yet".into(),
            })?;
        let server = store::servers::find(&mut conn, account.server_id.unwrap_or(0))
            .await?
            .ok_or(ServiceError::NotFound("server"))?;
        drop(conn);
        let client = super::servers::client_for(&server, self.vault, self.timeouts)?;
        let stats = client
            .stats(&panel_id)
            .await
            .map_err(|e| ServiceError::Upstream(e.message))?;
        Ok(PanelStatsView::from(stats))
    }
}

fn not_now(what: &str, state: AccountState) -> ServiceError {
    ServiceError::Conflict {
        field: Some("state".into()),
        message: format!("a {} account cannot be {what}", state.as_str()),
    }
}

/// Usage figures of an account as the panel reports them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PanelStatsView {
    /// Domains.
    pub total_domains: Option<u64>,
    /// Databases.
    pub total_databases: Option<u64>,
    /// Email accounts.
    pub total_email_accounts: Option<u64>,
    /// SSL certificates.
    pub total_ssl_certificates: Option<u64>,
    /// Storage in bytes.
    pub storage_used: Option<u64>,
    /// Last login on the panel.
    pub last_login: Option<chrono::DateTime<chrono::Utc>>,
    /// Age in days.
    pub account_age_days: Option<u64>,
}

impl From<PanelStats> for PanelStatsView {
    fn from(s: PanelStats) -> Self {
        PanelStatsView {
            total_domains: s.total_domains,
            total_databases: s.total_databases,
            total_email_accounts: s.total_email_accounts,
            total_ssl_certificates: s.total_ssl_certificates,
            storage_used: s.storage_used_bytes,
            last_login: s.last_login,
            account_age_days: s.account_age_days,
        }
    }
}

/// Lists jobs (admin and staff).
pub async fn list_jobs(
    db: &Db,
    actor: &Actor,
    state: Option<&str>,
    page: store::Page,
) -> Result<super::Paginated<JobView>, ServiceError> {
    actor.require_staff()?;
    if let Some(s) = state {
        if !["queued", "running", "done", "failed", "dead"].contains(&s) {
            return Err(
                Invalid::new("state", "must be queued, running, done, failed or dead").into(),
            );
        }
    }
    let mut conn = db.read().await?;
    let listed = store::jobs::list(&mut conn, state, page).await?;
    Ok(super::Paginated::of(page, listed, |r| JobView::from(&r)))
}

/// One job (admin and staff).
pub async fn get_job(db: &Db, actor: &Actor, id: i64) -> Result<JobView, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    Ok(JobView::from(
        &store::jobs::find(&mut conn, id)
            .await?
            .ok_or(ServiceError::NotFound("job"))?,
    ))
}

/// Queues a dead or failed job again (admin); a failed provision goes through `retry` of its account.
pub async fn retry_job(
    db: &Db,
    wake: &tokio::sync::Notify,
    actor: &Actor,
    id: i64,
) -> Result<JobView, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let job = store::jobs::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("job"))?;
    if job.kind == "provision" {
        if let Some(account_id) = job.hosting_account_id {
            let account = accounts::load(&mut tx, account_id).await?;
            if accounts::state_of(&account) == AccountState::Failed {
                let mut next = account.clone();
                next.state = AccountState::Pending.as_str().to_owned();
                next.failure_reason = None;
                next.tried_servers = "[]".into();
                next.updated_at = store::now();
                accounts::save_change(&mut tx, actor, &account, &next, "account.retry").await?;
            }
        }
    }
    if !store::jobs::requeue(&mut tx, id, store::now()).await? {
        return Err(ServiceError::Conflict {
            field: Some("state".into()),
            message: format!(
                "a {} job cannot be retried; only dead or failed ones",
                job.state
            ),
        });
    }
    let after = store::jobs::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("job"))?;
    tx.commit().await?;
    wake.notify_waiters();
    Ok(JobView::from(&after))
}
