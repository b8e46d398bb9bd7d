//! Reconciliation: compares our hosting accounts on a server with the server's
//! own account list, stores the report and audits it.
//!
//! On request (`fix`), mismatches get OUR state applied to the panel: suspended
//! here means suspend there, active here means unsuspend there. Nothing else is
//! changed: orphans are never deleted and missing accounts are never recreated,
//! because either could destroy or duplicate a customer's data on a guess; the
//! report names them for an administrator to decide. Our own records are never
//! changed by a reconciliation.
//!
//! A server that cannot be listed (unreachable, bad credentials, ...) still
//! gives a stored report, with status `error` and the reason in words an
//! administrator can act on: the reconciliation itself ran, it found out that
//! the server cannot be compared.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::state_of;
use super::audit::{self, Change};
use super::servers::client_for;
use super::{Actor, Paginated, ServiceError};
use crate::domain::hosting::AccountState;
use crate::domain::reconcile::{
    self, Drift, Mismatch, Missing, Orphan, OurAccount, PanelStatus, TheirAccount,
};
use crate::panel::{ControlPanel, NextPanelClient, PanelAccountStatus, PanelTimeouts};
use crate::store::reconciliations::ReconciliationRow;
use crate::store::servers::ServerRow;
use crate::store::{self, Db, Page};
use crate::vault::Vault;

/// Body of `POST /api/v1/nextpanel/servers/{id}/reconcile`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// Apply our state to the panel for every mismatch (suspend or unsuspend there).
    /// Orphans and missing accounts are only reported, never deleted or recreated.
    #[serde(default)]
    pub fix: bool,
}

/// What was done about one mismatch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FixResult {
    /// Our account id.
    pub account_id: i64,
    /// Hosting login.
    pub username: String,
    /// The panel's id of the account.
    pub panel_account_id: String,
    /// `suspend` or `unsuspend` on the panel.
    pub action: String,
    /// `fixed`, `failed`, or `skipped` (our side changed meanwhile, or a job is acting on it).
    pub outcome: String,
    /// What happened, in words.
    pub message: String,
}

/// The stored findings of one reconciliation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// On the panel, unknown to us (or ours but terminated or failed).
    pub orphans: Vec<Orphan>,
    /// Ours (active or suspended), absent on the panel.
    pub missing: Vec<Missing>,
    /// Suspended on one side only.
    pub mismatches: Vec<Mismatch>,
    /// Fixes applied to the panel (only with `fix`).
    pub fixes: Vec<FixResult>,
}

/// A reconciliation as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reconciliation {
    /// Report id.
    pub id: i64,
    /// The server compared (`null` once removed).
    pub server_id: Option<i64>,
    /// The server's name at the time.
    pub server_name: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, fixes included.
    pub finished_at: DateTime<Utc>,
    /// `ok` (both sides agree), `drift` (something differed) or `error` (no comparison possible).
    pub status: String,
    /// Count of orphans.
    pub orphans: i64,
    /// Count of missing accounts.
    pub missing: i64,
    /// Count of mismatches.
    pub mismatches: i64,
    /// Mismatches fixed on the panel.
    pub fixed: i64,
    /// The details.
    pub report: Report,
    /// Why the server could not be compared, for status `error`.
    pub error: Option<String>,
    /// Who asked: an admin's label or `system`.
    pub actor: String,
}

impl From<&ReconciliationRow> for Reconciliation {
    fn from(r: &ReconciliationRow) -> Self {
        Reconciliation {
            id: r.id,
            server_id: r.server_id,
            server_name: r.server_name.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status.clone(),
            orphans: r.orphans,
            missing: r.missing,
            mismatches: r.mismatches,
            fixed: r.fixed,
            report: serde_json::from_str(&r.report).unwrap_or_default(),
            error: r.error.clone(),
            actor: r.actor.clone(),
        }
    }
}

/// The audit snapshot of a reconciliation: counts, not the whole report.
#[derive(Serialize)]
struct Summary<'a> {
    reconciliation_id: i64,
    status: &'a str,
    orphans: i64,
    missing: i64,
    mismatches: i64,
    fixed: i64,
    fix_requested: bool,
}

/// What reconciliations need.
#[derive(Clone, Debug)]
pub struct Reconciler {
    /// The database.
    pub db: Db,
    /// Unseals server credentials.
    pub vault: Vault,
    /// Client timeouts (one list call, plus one call per fix).
    pub timeouts: PanelTimeouts,
}

impl Reconciler {
    /// Compares one server now, fixes mismatches when asked, and stores the report.
    pub async fn reconcile(
        &self,
        server: &ServerRow,
        actor: &Actor,
        fix: bool,
    ) -> Result<Reconciliation, ServiceError> {
        let started_at = store::now();
        // Our side first: an account created after this read and found on the panel
        // is at worst an orphan in this report, never a false "missing".
        let mut conn = self.db.conn().await?;
        let ours: Vec<OurAccount> = store::hosting_accounts::all_on_server(&mut conn, server.id)
            .await?
            .iter()
            .map(|a| OurAccount {
                id: a.id,
                username: a.username.clone(),
                panel_account_id: a.panel_account_id.clone(),
                state: state_of(a),
            })
            .collect();
        drop(conn);
        let client = client_for(server, &self.vault, self.timeouts)?;
        let (report, error) = match client.list_accounts().await {
            Ok(list) => {
                let theirs: Vec<TheirAccount> = list.into_iter().map(their_account).collect();
                let Drift {
                    orphans,
                    missing,
                    mismatches,
                } = reconcile::compare(&ours, &theirs);
                let fixes = if fix {
                    self.fix_all(&client, &mismatches).await?
                } else {
                    Vec::new()
                };
                let report = Report {
                    orphans,
                    missing,
                    mismatches,
                    fixes,
                };
                (report, None)
            }
            Err(e) => (
                Report::default(),
                Some(format!(
                    "could not list the accounts of {} ({}): {}",
                    server.name, e.kind, e.message
                )),
            ),
        };
        self.store(server, actor, fix, started_at, report, error)
            .await
    }

    /// Applies our state to the panel for each mismatch, one at a time.
    async fn fix_all(
        &self,
        client: &NextPanelClient,
        mismatches: &[Mismatch],
    ) -> Result<Vec<FixResult>, ServiceError> {
        let mut fixes = Vec::with_capacity(mismatches.len());
        for m in mismatches {
            fixes.push(self.fix_one(client, m).await?);
        }
        Ok(fixes)
    }

    async fn fix_one(
        &self,
        client: &NextPanelClient,
        m: &Mismatch,
    ) -> Result<FixResult, ServiceError> {
        let suspend = m.ours == AccountState::Suspended.as_str();
        let result = |outcome: &str, message: String| FixResult {
            account_id: m.account_id,
            username: m.username.clone(),
            panel_account_id: m.panel_account_id.clone(),
            action: if suspend { "suspend" } else { "unsuspend" }.to_owned(),
            outcome: outcome.to_owned(),
            message,
        };
        // Our side may have moved since the comparison, or a lifecycle job may be
        // carrying a change to the panel right now: pushing the old state would undo it.
        let mut conn = self.db.conn().await?;
        let Some(account) = store::hosting_accounts::find(&mut conn, m.account_id).await? else {
            return Ok(result("skipped", "the account no longer exists".into()));
        };
        if account.state != m.ours {
            return Ok(result(
                "skipped",
                format!(
                    "our state changed to {} meanwhile; reconcile again",
                    account.state
                ),
            ));
        }
        for kind in ["suspend", "unsuspend", "terminate"] {
            let job = store::jobs::latest_for_account(&mut conn, account.id, kind).await?;
            if job.is_some_and(|j| matches!(j.state.as_str(), "queued" | "running")) {
                return Ok(result(
                    "skipped",
                    format!("a {kind} job is still working on this account; reconcile again once it is done"),
                ));
            }
        }
        drop(conn);
        let call = if suspend {
            let reason = account
                .suspend_reason
                .as_deref()
                .unwrap_or("suspended in billing (reconciliation)");
            client.suspend(&m.panel_account_id, reason).await
        } else {
            client.unsuspend(&m.panel_account_id).await
        };
        Ok(match call {
            Ok(()) => result(
                "fixed",
                format!(
                    "{} on the panel",
                    if suspend { "suspended" } else { "unsuspended" }
                ),
            ),
            Err(e) => result("failed", format!("{} ({})", e.message, e.kind)),
        })
    }

    /// Writes the report and its audit entry in one transaction.
    async fn store(
        &self,
        server: &ServerRow,
        actor: &Actor,
        fix: bool,
        started_at: DateTime<Utc>,
        report: Report,
        error: Option<String>,
    ) -> Result<Reconciliation, ServiceError> {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let drifted = !(report.orphans.is_empty()
            && report.missing.is_empty()
            && report.mismatches.is_empty());
        let status = match (&error, drifted) {
            (Some(_), _) => "error",
            (None, true) => "drift",
            (None, false) => "ok",
        };
        let row = ReconciliationRow {
            id: 0,
            server_id: Some(server.id),
            server_name: server.name.clone(),
            started_at,
            finished_at: store::now(),
            status: status.to_owned(),
            orphans: count(report.orphans.len()),
            missing: count(report.missing.len()),
            mismatches: count(report.mismatches.len()),
            fixed: count(report.fixes.iter().filter(|f| f.outcome == "fixed").count()),
            report: serde_json::to_string(&report)
                .map_err(|e| ServiceError::Internal(format!("reconciliation report: {e}")))?,
            error,
            actor: actor.label.clone(),
        };
        let mut tx = self.db.begin().await?;
        let saved = store::reconciliations::insert(&mut tx, &row).await?;
        let summary = Summary {
            reconciliation_id: saved.id,
            status,
            orphans: saved.orphans,
            missing: saved.missing,
            mismatches: saved.mismatches,
            fixed: saved.fixed,
            fix_requested: fix,
        };
        audit::record(
            &mut tx,
            actor,
            Change::<(), _> {
                action: "server.reconciled",
                entity_type: "server",
                entity_id: Some(server.id),
                before: None,
                after: Some(&summary),
            },
        )
        .await?;
        tx.commit().await?;
        match status {
            "ok" => tracing::info!(server = %server.name, id = saved.id, "reconciliation: in step"),
            "drift" => {
                tracing::warn!(server = %server.name, id = saved.id, orphans = saved.orphans, missing = saved.missing, mismatches = saved.mismatches, fixed = saved.fixed, "reconciliation found drift")
            }
            _ => {
                tracing::warn!(server = %server.name, id = saved.id, error = saved.error.as_deref().unwrap_or(""), "reconciliation could not compare the server")
            }
        }
        Ok(Reconciliation::from(&saved))
    }

    /// Reconciles one server at an admin's request.
    pub async fn reconcile_now(
        &self,
        actor: &Actor,
        server_id: i64,
        request: ReconcileRequest,
    ) -> Result<Reconciliation, ServiceError> {
        actor.require_admin()?;
        let mut conn = self.db.conn().await?;
        let server = store::servers::find(&mut conn, server_id)
            .await?
            .ok_or(ServiceError::NotFound("server"))?;
        drop(conn);
        self.reconcile(&server, actor, request.fix).await
    }

    /// Reconciles every active server without fixing, skipping a server whose last
    /// report started less than `min_gap` ago (another instance, a restart, or an
    /// admin already did it). Returns how many were reconciled.
    pub async fn reconcile_all(&self, min_gap: Duration) -> Result<usize, ServiceError> {
        let mut conn = self.db.conn().await?;
        let servers: Vec<ServerRow> = store::servers::list(&mut conn)
            .await?
            .into_iter()
            .filter(|s| s.is_active)
            .collect();
        let gap = chrono::Duration::from_std(min_gap).unwrap_or(chrono::Duration::MAX);
        let mut n = 0;
        for server in servers {
            let last = store::reconciliations::last_started(&mut conn, server.id).await?;
            if last.is_some_and(|at| store::now() - at < gap) {
                continue;
            }
            // One server at a time: a daily job has no hurry, and panels get one list call each.
            match self.reconcile(&server, &Actor::system(), false).await {
                Ok(_) => n += 1,
                Err(e) => {
                    tracing::error!(server = %server.name, error = %e, "reconciliation could not be recorded")
                }
            }
        }
        Ok(n)
    }

    /// Runs [`Reconciler::reconcile_all`] every `interval` until the process ends.
    pub async fn run(self, interval: Duration) {
        let mut rounds = super::periodic::Rounds::new(self.db.clone(), "reconciliation", interval);
        loop {
            rounds.next().await;
            // Half the interval: a restart or a second instance does not repeat a fresh report.
            if let Err(e) = self.reconcile_all(interval / 2).await {
                tracing::error!(error = %e, "reconciliation round failed");
            }
        }
    }
}

/// The panel's account as the comparison sees it.
fn their_account(a: crate::panel::PanelAccount) -> TheirAccount {
    TheirAccount {
        id: a.id,
        username: a.username,
        billing_id: a.billing_id,
        status: match a.status {
            PanelAccountStatus::Active => PanelStatus::Active,
            PanelAccountStatus::Suspended => PanelStatus::Suspended,
            PanelAccountStatus::Other(s) => PanelStatus::Other(s),
        },
    }
}

/// Lists stored reports newest first, optionally of one server (admin only).
pub async fn list(
    db: &Db,
    actor: &Actor,
    server_id: Option<i64>,
    page: Page,
) -> Result<Paginated<Reconciliation>, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.read().await?;
    let listed = store::reconciliations::list(&mut conn, server_id, page).await?;
    Ok(Paginated::of(page, listed, |r| Reconciliation::from(&r)))
}

/// One stored report (admin only).
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<Reconciliation, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    store::reconciliations::find(&mut conn, id)
        .await?
        .map(|r| Reconciliation::from(&r))
        .ok_or(ServiceError::NotFound("reconciliation"))
}
