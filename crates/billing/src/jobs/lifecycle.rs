//! Lifecycle jobs: suspend, unsuspend, terminate, change plan and set password.
//! Each is idempotent on the panel: suspending a suspended account succeeds, and
//! terminating an account the panel no longer has succeeds and says so.

use secrecy::SecretString;

use super::provision::{erase_password, supports};
use super::{JobContext, Outcome};
use crate::domain::hosting::AccountState;
use crate::panel::{ControlPanel, Extension, NextPanelClient, PanelError, PanelErrorKind};
use crate::service::accounts::{self, save_change, state_of};
use crate::service::{Actor, ServiceError};
use crate::store;
use crate::store::hosting_accounts::AccountRow;
use crate::store::jobs::JobRow;

fn actor() -> Actor {
    Actor {
        label: "job".to_owned(),
        ..Actor::system()
    }
}

/// The account and a client for its server; `Err(outcome)` when there is nothing to act on yet.
async fn account_and_client(
    ctx: &JobContext,
    account_id: i64,
) -> Result<Result<(AccountRow, std::sync::Arc<NextPanelClient>), Outcome>, ServiceError> {
    let mut conn = ctx.db.conn().await?;
    let account = accounts::load(&mut conn, account_id).await?;
    if matches!(
        state_of(&account),
        AccountState::Pending | AccountState::Provisioning
    ) {
        return Ok(Err(Outcome::Wait {
            reason: "the account is still being created; waiting for it".into(),
            after_ms: ctx.settings.jobs.backoff_base_ms,
        }));
    }
    let Some(server_id) = account.server_id else {
        return Ok(Err(Outcome::Fail(
            "the account has no server any more".into(),
        )));
    };
    let server = store::servers::find(&mut conn, server_id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    Ok(Ok((
        account,
        ctx.clients.get(&server, &ctx.vault, ctx.timeouts)?,
    )))
}

/// Transient panel errors retry; the rest fail the job (the account keeps its state).
fn panel_outcome(e: PanelError) -> Outcome {
    if e.kind.is_retryable() {
        Outcome::retry(e.message)
    } else if e.kind == PanelErrorKind::NotFound {
        Outcome::Fail(format!(
            "the account is missing on the panel (drift; run a reconciliation): {}",
            e.message
        ))
    } else {
        Outcome::Fail(e.message)
    }
}

/// Saves a state change with its audit entry and provisioning-log line.
async fn record(
    ctx: &JobContext,
    before: &AccountRow,
    change: impl FnOnce(&mut AccountRow),
    action: &str,
) -> Result<(), ServiceError> {
    let mut tx = ctx.db.begin().await?;
    let current = accounts::load(&mut tx, before.id).await?;
    let mut next = current.clone();
    change(&mut next);
    next.updated_at = store::now();
    let saved = save_change(&mut tx, &actor(), &current, &next, action).await?;
    notify_customer(&mut tx, &saved, action, serde_json::json!({})).await?;
    tx.commit().await?;
    accounts::log_change(
        &ctx.db,
        &ctx.settings.provisioning_log,
        &actor(),
        &saved,
        action,
    )
    .await;
    Ok(())
}

/// Queues the customer's message about a lifecycle change, in its transaction.
async fn notify_customer(
    tx: &mut store::Tx,
    account: &AccountRow,
    action: &str,
    extra: serde_json::Value,
) -> Result<(), ServiceError> {
    let template = match action {
        "account.suspended" => "account_suspended",
        "account.unsuspended" => "account_unsuspended",
        "account.terminated" => "account_terminated",
        "account.plan_changed" => "plan_changed",
        _ => return Ok(()),
    };
    let Some(customer) = store::users::find(tx, account.customer_id).await? else {
        return Ok(());
    };
    let mut data = serde_json::json!({
        "name": customer.full_name,
        "username": account.username,
        "reason": account.suspend_reason.clone().unwrap_or_default(),
    });
    if let (Some(obj), Some(more)) = (data.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    // The change's own time makes the key unique per change; a re-run of the job finds
    // the state already changed and changes (and notifies) nothing.
    let key = format!(
        "{template}:{}:{}",
        account.id,
        account.updated_at.timestamp_micros()
    );
    let to = account.email.clone().unwrap_or(customer.email);
    crate::service::notifications::queue_sealed(tx, &key, &to, template, data, "", None).await
}

fn panel_id(account: &AccountRow) -> Result<&str, Outcome> {
    account
        .panel_account_id
        .as_deref()
        .ok_or_else(|| Outcome::Fail("the account was never created on the panel".into()))
}

/// Suspends the account.
pub async fn suspend(ctx: &JobContext, account_id: i64, reason: &str) -> Outcome {
    let run = async {
        let (account, client) = match account_and_client(ctx, account_id).await? {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        };
        match state_of(&account) {
            AccountState::Suspended => return Ok(Outcome::Done(Some("already suspended".into()))),
            AccountState::Active => {}
            other => {
                return Ok(Outcome::Fail(format!(
                    "a {} account cannot be suspended",
                    other.as_str()
                )))
            }
        }
        let id = match panel_id(&account) {
            Ok(id) => id.to_owned(),
            Err(o) => return Ok(o),
        };
        if let Err(e) = client.suspend(&id, reason).await {
            return Ok(panel_outcome(e));
        }
        let reason = reason.to_owned();
        record(
            ctx,
            &account,
            |a| {
                a.state = AccountState::Suspended.as_str().to_owned();
                a.suspend_reason = Some(reason);
            },
            "account.suspended",
        )
        .await?;
        Ok::<_, ServiceError>(Outcome::Done(None))
    };
    run.await.unwrap_or_else(Outcome::from)
}

/// Unsuspends the account.
pub async fn unsuspend(ctx: &JobContext, account_id: i64) -> Outcome {
    let run = async {
        let (account, client) = match account_and_client(ctx, account_id).await? {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        };
        match state_of(&account) {
            AccountState::Active => return Ok(Outcome::Done(Some("already active".into()))),
            AccountState::Suspended => {}
            other => {
                return Ok(Outcome::Fail(format!(
                    "a {} account cannot be unsuspended",
                    other.as_str()
                )))
            }
        }
        let id = match panel_id(&account) {
            Ok(id) => id.to_owned(),
            Err(o) => return Ok(o),
        };
        if let Err(e) = client.unsuspend(&id).await {
            return Ok(panel_outcome(e));
        }
        record(
            ctx,
            &account,
            |a| {
                a.state = AccountState::Active.as_str().to_owned();
                a.suspend_reason = None;
            },
            "account.unsuspended",
        )
        .await?;
        Ok::<_, ServiceError>(Outcome::Done(None))
    };
    run.await.unwrap_or_else(Outcome::from)
}

/// Terminates the account; an account the panel no longer has counts as terminated.
pub async fn terminate(ctx: &JobContext, account_id: i64) -> Outcome {
    let run = async {
        let (account, client) = match account_and_client(ctx, account_id).await? {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        };
        if state_of(&account) == AccountState::Terminated {
            return Ok(Outcome::Done(Some("already terminated".into())));
        }
        // A failed create may still have made the account (unknown outcome): find it by name.
        let id = match &account.panel_account_id {
            Some(id) => Some(id.clone()),
            None => match client.find_by_username(&account.username).await {
                Ok(Some(found))
                    if found.billing_id.as_deref()
                        == Some(account.customer_id.to_string().as_str()) =>
                {
                    Some(found.id)
                }
                Ok(_) => None,
                Err(e) => return Ok(panel_outcome(e)),
            },
        };
        let note = match id {
            None => Some("nothing existed on the panel".to_owned()),
            Some(id) => match client.terminate(&id).await {
                Ok(()) => None,
                Err(e) if e.kind == PanelErrorKind::NotFound => {
                    Some("the panel no longer had the account".to_owned())
                }
                Err(e) => return Ok(panel_outcome(e)),
            },
        };
        record(
            ctx,
            &account,
            |a| a.state = AccountState::Terminated.as_str().to_owned(),
            "account.terminated",
        )
        .await?;
        Ok::<_, ServiceError>(Outcome::Done(note))
    };
    run.await.unwrap_or_else(Outcome::from)
}

/// Moves the account and its license to another plan; the panel's package changes only
/// when the server has the `package` extension, and the result says which.
pub async fn change_plan(ctx: &JobContext, account_id: i64, plan_id: i64) -> Outcome {
    let run = async {
        let (account, client) = match account_and_client(ctx, account_id).await? {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        };
        if !matches!(
            state_of(&account),
            AccountState::Active | AccountState::Suspended
        ) {
            return Ok(Outcome::Fail(format!(
                "a {} account cannot change plan",
                account.state
            )));
        }
        let mut conn = ctx.db.conn().await?;
        let plan = store::plans::find(&mut conn, plan_id)
            .await?
            .ok_or(ServiceError::NotFound("plan"))?;
        drop(conn);
        let mut panel_changed = false;
        if let (Some(package), Some(id)) = (plan.package_id, account.panel_account_id.as_deref()) {
            if supports(&client, Extension::Package).await {
                if let Err(e) = client.change_package(id, package).await {
                    return Ok(panel_outcome(e));
                }
                panel_changed = true;
            }
        }
        let mut tx = ctx.db.begin().await?;
        let mut license = store::licenses::find(&mut tx, account.license_id)
            .await?
            .ok_or(ServiceError::NotFound("license"))?;
        license.plan_id = plan.id;
        crate::service::licenses::set_quotas(&mut license, crate::service::plans::quotas_of(&plan));
        license.updated_at = store::now();
        store::licenses::update_plan(&mut tx, &license).await?;
        let current = accounts::load(&mut tx, account.id).await?;
        let mut next = current.clone();
        next.package_id = plan.package_id;
        next.account_type = plan.account_type.clone();
        next.updated_at = store::now();
        let saved = save_change(&mut tx, &actor(), &current, &next, "account.plan_changed").await?;
        let extra = serde_json::json!({"plan": plan.name});
        notify_customer(&mut tx, &saved, "account.plan_changed", extra).await?;
        tx.commit().await?;
        let note = if panel_changed {
            format!(
                "moved to plan '{}'; the panel package was changed",
                plan.name
            )
        } else {
            format!("moved to plan '{}'; the license was updated but the panel was not changed (the server has no package extension)", plan.name)
        };
        Ok::<_, ServiceError>(Outcome::Done(Some(note)))
    };
    run.await.unwrap_or_else(Outcome::from)
}

/// Sets a new hosting password through the `password` extension.
pub async fn set_password(
    ctx: &JobContext,
    job: &JobRow,
    account_id: i64,
    sealed: Option<&str>,
) -> Outcome {
    let run = async {
        let (account, client) = match account_and_client(ctx, account_id).await? {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        };
        let Some(sealed) = sealed else {
            return Ok(Outcome::Fail(
                "the new password is no longer available".into(),
            ));
        };
        let id = match panel_id(&account) {
            Ok(id) => id.to_owned(),
            Err(o) => return Ok(o),
        };
        let password = SecretString::from(
            ctx.vault
                .open(sealed)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
        );
        if let Err(e) = client.set_password(&id, &password).await {
            return Ok(panel_outcome(e));
        }
        let mut tx = ctx.db.begin().await?;
        erase_password(&mut tx, job).await?;
        crate::service::audit::record(
            &mut tx,
            &actor(),
            crate::service::audit::Change::<(), _> {
                action: "account.password_changed",
                entity_type: "hosting_account",
                entity_id: Some(account.id),
                before: None,
                after: Some(&serde_json::json!({"username": account.username})),
            },
        )
        .await?;
        tx.commit().await?;
        Ok::<_, ServiceError>(Outcome::Done(Some("the password was changed".into())))
    };
    run.await.unwrap_or_else(Outcome::from)
}
