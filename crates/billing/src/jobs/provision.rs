//! The provision job: creates a hosting account on its server exactly once.
//!
//! Before creating again after an attempt whose outcome is unknown (timeout, lost
//! response, 5xx) it looks the account up by username and adopts it when the
//! `billing_id` is ours; `already exists` for our own account is adoption too.
//! A create refused for a reason that is certain (server unreachable, credentials
//! refused) moves to the next usable server, at most `provision_max_servers`.

use secrecy::SecretString;

use super::{JobContext, Outcome};
use crate::domain::hosting::AccountState;
use crate::domain::plan::AccountType;
use crate::panel::{ControlPanel, CreateAccount, NextPanelClient, PanelError, PanelErrorKind};
use crate::service::accounts::{self, save_change, state_of};
use crate::service::provisioning::choose_server_for;
use crate::service::{notifications, Actor, ServiceError};
use crate::store::hosting_accounts::AccountRow;
use crate::store::jobs::JobRow;
use crate::store::{self, Tx};

fn job_actor(job: &JobRow) -> Actor {
    Actor {
        label: format!("job:{}", job.id),
        ..Actor::system()
    }
}

/// Marks a pending account `provisioning` in the transaction that claims its job, so
/// the claim and the account's first step cost one commit. An account that is gone or
/// past pending is left to the attempt to judge.
pub async fn on_claim(tx: &mut Tx, job: &JobRow, account_id: i64) -> Result<(), ServiceError> {
    let Some(account) = store::hosting_accounts::find(tx, account_id).await? else {
        return Ok(());
    };
    if state_of(&account) == AccountState::Pending {
        let mut next = account.clone();
        next.state = AccountState::Provisioning.as_str().to_owned();
        next.updated_at = store::now();
        save_change(tx, &job_actor(job), &account, &next, "account.provisioning").await?;
    }
    Ok(())
}

/// Runs one attempt of the provision job.
pub async fn run(
    ctx: &JobContext,
    job: &JobRow,
    account_id: i64,
    sealed_password: Option<&str>,
) -> Outcome {
    match attempt(ctx, job, account_id, sealed_password).await {
        Ok(outcome) => outcome,
        Err(e) => e.into(),
    }
}

async fn attempt(
    ctx: &JobContext,
    job: &JobRow,
    account_id: i64,
    sealed_password: Option<&str>,
) -> Result<Outcome, ServiceError> {
    let actor = job_actor(job);
    let mut conn = ctx.db.conn().await?;
    let account = accounts::load(&mut conn, account_id).await?;
    drop(conn);
    let account = match state_of(&account) {
        AccountState::Active | AccountState::Suspended => {
            return Ok(Outcome::Done(Some("the account already exists".into())))
        }
        AccountState::Terminated | AccountState::Failed => {
            return Ok(Outcome::Done(Some(format!(
                "nothing to do: the account is {}",
                account.state
            ))))
        }
        // Normally done with the claim (`on_claim`).
        AccountState::Pending => {
            let mut tx = ctx.db.begin().await?;
            let mut next = account.clone();
            next.state = AccountState::Provisioning.as_str().to_owned();
            next.updated_at = store::now();
            let saved =
                save_change(&mut tx, &actor, &account, &next, "account.provisioning").await?;
            tx.commit().await?;
            saved
        }
        AccountState::Provisioning => account,
    };
    let Some(server_id) = account.server_id else {
        return assign_server(ctx, &actor, account_id).await;
    };
    let mut conn = ctx.db.conn().await?;
    let server = store::servers::find(&mut conn, server_id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    drop(conn);
    let client = ctx.clients.get(&server, &ctx.vault, ctx.timeouts)?;
    // Made before the turn is taken (it reads the customer), so the turn is spent on
    // panel calls; what it may refuse is only told after the look-up below.
    let request = match sealed_password {
        Some(sealed) => Some(prepare_create(ctx, &account, sealed).await),
        None => None,
    };
    // Held for the panel calls only: recording the result gives the turn to the next job.
    let turn = ctx.panel_turn().await;

    // After an attempt with an unknown outcome the account may exist: look before creating.
    if job.attempts > 1 {
        match client.find_by_username(&account.username).await {
            Ok(Some(found)) => {
                return adopt_or_refuse(
                    ctx,
                    &actor,
                    job,
                    &account,
                    found.id,
                    found.billing_id.as_deref(),
                )
                .await
            }
            Ok(None) => {}
            Err(e) => return on_panel_error(ctx, &actor, &account, &server.name, e).await,
        }
    }
    let Some(request) = request else {
        return fail(
            ctx,
            &actor,
            account_id,
            "the initial password is no longer available; retry with a new password",
        )
        .await;
    };
    let request = request?;
    match client.create(&request).await {
        Ok(created) => {
            drop(turn);
            adopt(ctx, &actor, job, &account, &created.id).await
        }
        Err(e) if e.kind == PanelErrorKind::AlreadyExists => {
            match client.find_by_username(&account.username).await {
                Ok(Some(found)) => {
                    adopt_or_refuse(
                        ctx,
                        &actor,
                        job,
                        &account,
                        found.id,
                        found.billing_id.as_deref(),
                    )
                    .await
                }
                Ok(None) => Ok(Outcome::retry(format!(
                    "{}: but no account with that username is listed",
                    e.message
                ))),
                Err(lookup) => on_panel_error(ctx, &actor, &account, &server.name, lookup).await,
            }
        }
        Err(e) => on_panel_error(ctx, &actor, &account, &server.name, e).await,
    }
}

/// The create call for `account`, with the initial password opened from `sealed`.
async fn prepare_create(
    ctx: &JobContext,
    account: &AccountRow,
    sealed: &str,
) -> Result<CreateAccount, ServiceError> {
    let password = SecretString::from(
        ctx.vault
            .open(sealed)
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
    );
    let mut conn = ctx.db.conn().await?;
    let customer = store::users::find(&mut conn, account.customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    Ok(CreateAccount {
        username: account.username.clone(),
        email: account
            .email
            .clone()
            .unwrap_or_else(|| customer.email.clone()),
        password,
        full_name: Some(customer.full_name),
        phone: customer.phone,
        company: customer.company_name,
        package_id: account.package_id,
        account_type: AccountType::parse(&account.account_type).unwrap_or(AccountType::Panel),
        billing_id: account.customer_id.to_string(),
        hosting_account_id: account.id,
        created_at: account.created_at,
        // Stable per hosting account: a repeated create on a server with the extension is a no-op.
        idempotency_key: Some(format!(
            "nextpanel-bill-account-{}-server-{}",
            account.id,
            account.server_id.unwrap_or(0)
        )),
    })
}

async fn adopt_or_refuse(
    ctx: &JobContext,
    actor: &Actor,
    job: &JobRow,
    account: &AccountRow,
    panel_id: String,
    billing_id: Option<&str>,
) -> Result<Outcome, ServiceError> {
    if billing_id == Some(account.customer_id.to_string().as_str()) {
        adopt(ctx, actor, job, account, &panel_id).await
    } else {
        fail(
            ctx,
            actor,
            account.id,
            &format!(
                "the username '{}' is already taken on the server by an account that is not ours",
                account.username
            ),
        )
        .await
    }
}

/// Records the created (or adopted) panel account: active, password erased from the
/// job, and the job done, all in one transaction (one commit per provisioned account).
async fn adopt(
    ctx: &JobContext,
    actor: &Actor,
    job: &JobRow,
    account: &AccountRow,
    panel_id: &str,
) -> Result<Outcome, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    let current = accounts::load(&mut tx, account.id).await?;
    let mut next = current.clone();
    next.panel_account_id = Some(panel_id.to_owned());
    next.state = AccountState::Active.as_str().to_owned();
    next.failure_reason = None;
    next.updated_at = store::now();
    let saved = save_change(&mut tx, actor, &current, &next, "account.provisioned").await?;
    let customer = store::users::find(&mut tx, saved.customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let license = store::licenses::find(&mut tx, saved.license_id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    let server = match saved.server_id {
        Some(id) => store::servers::find(&mut tx, id).await?,
        None => None,
    };
    let panel_url = server
        .as_ref()
        .map(|s| s.base_url.as_str())
        .unwrap_or_default();
    queue_welcome(
        &mut tx,
        &ctx.settings,
        job,
        &saved,
        &customer,
        &license,
        panel_url,
    )
    .await?;
    crate::service::capture::on_account_active(&mut tx, &ctx.settings, saved.id).await?;
    erase_password(&mut tx, job).await?;
    let report = format!("created with NextPanel id {panel_id}");
    // Fenced by the claim's token like the runner's own settling: a worker that lost its
    // lease records its result (the account exists) but does not touch the job.
    let settled = match job.locked_by.as_deref() {
        Some(token) => {
            let held = store::jobs::finish(
                &mut tx,
                job.id,
                token,
                &store::jobs::Finish {
                    state: "done",
                    error: None,
                    result: Some(&report),
                },
                store::now(),
            )
            .await?;
            if !held {
                tracing::warn!(
                    job = job.id,
                    "the job's lease was taken over by another worker; its result stands"
                );
            }
            true
        }
        None => false,
    };
    tx.commit().await?;
    accounts::append_log(
        &ctx.settings.provisioning_log,
        actor,
        &saved,
        "account.provisioned",
        &accounts::LogNames {
            customer_email: &customer.email,
            license_key: &license.license_key,
            server: server.as_ref().map(|s| s.name.as_str()).unwrap_or_default(),
        },
    );
    tracing::info!(account = account.id, username = %account.username, panel_id, "hosting account provisioned");
    Ok(if settled {
        Outcome::Settled
    } else {
        Outcome::Done(Some(report))
    })
}

/// Queues the welcome message with the credentials, in the transaction that makes the
/// account active: the sealed password moves from the job to the message.
async fn queue_welcome(
    tx: &mut Tx,
    settings: &crate::config::Settings,
    job: &JobRow,
    account: &AccountRow,
    customer: &crate::store::users::UserRow,
    license: &crate::store::licenses::LicenseRow,
    panel_url: &str,
) -> Result<(), ServiceError> {
    let payload: serde_json::Value =
        serde_json::from_str(&job.payload).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let sealed = payload.get("password").and_then(serde_json::Value::as_str);
    let mut data = notifications::welcome_data(
        &customer.full_name,
        &account.username,
        panel_url,
        &license.license_key,
    );
    // By link: the password stays here, sealed, until the customer opens the link once.
    let sealed = match (settings.welcome_by_link, sealed) {
        (true, Some(sealed)) => {
            let url = crate::service::credential_links::create(
                tx,
                settings,
                account.id,
                account.customer_id,
                sealed,
            )
            .await?;
            data["credentials_url"] = serde_json::json!(url);
            data["credentials_hours"] = serde_json::json!(settings.credential_link_hours);
            None
        }
        (_, sealed) => sealed,
    };
    let to = account
        .email
        .clone()
        .unwrap_or_else(|| customer.email.clone());
    notifications::queue_sealed(
        tx,
        &format!("welcome:account:{}", account.id),
        &to,
        "welcome",
        data,
        "password",
        sealed,
    )
    .await
}

/// Drops the sealed password from the job's payload once it has served.
pub(crate) async fn erase_password(tx: &mut Tx, job: &JobRow) -> Result<(), ServiceError> {
    let mut payload: serde_json::Value =
        serde_json::from_str(&job.payload).map_err(|e| ServiceError::Internal(e.to_string()))?;
    if let Some(p) = payload.get_mut("password") {
        *p = serde_json::Value::Null;
    }
    store::jobs::set_payload(tx, job.id, &payload.to_string()).await?;
    Ok(())
}

/// Decides retry, failover or failure from a panel error.
async fn on_panel_error(
    ctx: &JobContext,
    actor: &Actor,
    account: &AccountRow,
    server: &str,
    e: PanelError,
) -> Result<Outcome, ServiceError> {
    let message = format!("{server}: {}", e.message);
    if e.kind.outcome_unknown() {
        return Ok(Outcome::retry(message));
    }
    let moves = matches!(
        e.kind,
        PanelErrorKind::Unreachable
            | PanelErrorKind::Tls
            | PanelErrorKind::BadCredentials
            | PanelErrorKind::NoPermission
            | PanelErrorKind::IpNotAllowed
    );
    if moves && !account.pinned_server {
        if let Some(outcome) = failover(ctx, actor, account, &message).await? {
            return Ok(outcome);
        }
    }
    if e.kind.is_retryable() {
        // Unreachable with nowhere else to go: the server may come back.
        return Ok(Outcome::retry(message));
    }
    fail(ctx, actor, account.id, &message).await
}

/// Moves the account to the next usable server; `None` when there is none or the limit is reached.
async fn failover(
    ctx: &JobContext,
    actor: &Actor,
    account: &AccountRow,
    reason: &str,
) -> Result<Option<Outcome>, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    let current = accounts::load(&mut tx, account.id).await?;
    let mut tried: Vec<i64> = serde_json::from_str(&current.tried_servers).unwrap_or_default();
    if let Some(id) = current.server_id {
        if !tried.contains(&id) {
            tried.push(id);
        }
    }
    if tried.len() >= ctx.settings.provision_max_servers {
        return Ok(None);
    }
    let Some(next_server) = choose_server_for(&mut tx, &current, &tried).await? else {
        return Ok(None);
    };
    let mut next = current.clone();
    next.server_id = Some(next_server);
    next.tried_servers =
        serde_json::to_string(&tried).map_err(|e| ServiceError::Internal(e.to_string()))?;
    next.failure_reason = Some(format!("moved from a server that refused: {reason}"));
    next.updated_at = store::now();
    save_change(&mut tx, actor, &current, &next, "account.failover").await?;
    tx.commit().await?;
    tracing::warn!(account = account.id, to = next_server, %reason, "provisioning moves to another server");
    Ok(Some(Outcome::Retry {
        error: reason.to_owned(),
        immediate: true,
    }))
}

/// Picks a server for an account recorded without one (a paid order while every
/// server was full or down); waits with backoff until one is usable.
async fn assign_server(
    ctx: &JobContext,
    actor: &Actor,
    account_id: i64,
) -> Result<Outcome, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    let current = accounts::load(&mut tx, account_id).await?;
    let Some(server_id) = choose_server_for(&mut tx, &current, &[]).await? else {
        // A paid account waits for capacity as long as it takes; admins hear of it once
        // per wait (the reason stays on the account until a server is assigned).
        let reason = WAITING_FOR_SERVER;
        if current.failure_reason.as_deref() != Some(reason) {
            let mut next = current.clone();
            next.failure_reason = Some(reason.to_owned());
            next.updated_at = store::now();
            save_change(
                &mut tx,
                actor,
                &current,
                &next,
                "account.waiting_for_server",
            )
            .await?;
            let data = alert_data(&mut tx, &next, reason).await?;
            notifications::queue_to_admins(
                &mut tx,
                &format!(
                    "provisioning_waiting:{}:{}",
                    next.id,
                    next.updated_at.timestamp_micros()
                ),
                "provisioning_waiting",
                data,
            )
            .await?;
            tx.commit().await?;
        }
        return Ok(Outcome::Wait {
            reason: reason.to_owned(),
            after_ms: ctx.settings.jobs.backoff_cap_ms.min(30_000),
        });
    };
    let mut next = current.clone();
    next.server_id = Some(server_id);
    next.failure_reason = None;
    next.updated_at = store::now();
    save_change(&mut tx, actor, &current, &next, "account.server_assigned").await?;
    tx.commit().await?;
    Ok(Outcome::Retry {
        error: "a server was assigned".to_owned(),
        immediate: true,
    })
}

async fn fail(
    ctx: &JobContext,
    actor: &Actor,
    account_id: i64,
    reason: &str,
) -> Result<Outcome, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    let current = accounts::load(&mut tx, account_id).await?;
    let mut next = current.clone();
    next.state = AccountState::Failed.as_str().to_owned();
    next.failure_reason = Some(reason.to_owned());
    next.updated_at = store::now();
    save_change(&mut tx, actor, &current, &next, "account.failed").await?;
    alert_admins(&mut tx, &next, reason).await?;
    crate::service::capture::on_account_failed(&mut tx, &ctx.settings, account_id).await?;
    tx.commit().await?;
    Ok(Outcome::Fail(reason.to_owned()))
}

/// Marks an account failed when its provision job died (called in the runner's transaction).
pub async fn mark_failed(tx: &mut Tx, account_id: i64, reason: &str) -> Result<(), ServiceError> {
    let current = accounts::load(tx, account_id).await?;
    if !matches!(
        state_of(&current),
        AccountState::Pending | AccountState::Provisioning
    ) {
        return Ok(());
    }
    let mut next = current.clone();
    next.state = AccountState::Failed.as_str().to_owned();
    next.failure_reason = Some(reason.to_owned());
    next.updated_at = store::now();
    save_change(tx, &Actor::system(), &current, &next, "account.failed").await?;
    alert_admins(tx, &next, reason).await
}

/// Why a paid account has no server yet (kept on the account while it waits).
const WAITING_FOR_SERVER: &str =
    "waiting for a usable server: every matching server is offline, disabled, full or already uses this username";

/// What admin alerts about an account say: who, which account, why, and the paid invoice.
async fn alert_data(
    tx: &mut Tx,
    account: &AccountRow,
    reason: &str,
) -> Result<serde_json::Value, ServiceError> {
    let customer = store::users::find(tx, account.customer_id)
        .await?
        .map_or_else(|| account.customer_id.to_string(), |c| c.email);
    let paid_invoice_id = account
        .idempotency_key
        .as_deref()
        .and_then(|k| k.strip_prefix("invoice:"))
        .and_then(|id| id.parse::<i64>().ok());
    let paid_invoice = match paid_invoice_id {
        Some(id) => store::invoices::find(tx, id)
            .await?
            .map(|row| crate::service::invoices::number_of(&row)),
        None => None,
    };
    Ok(serde_json::json!({
        "username": account.username,
        "account_id": account.id,
        "customer": customer,
        "reason": reason,
        "paid_invoice": paid_invoice,
    }))
}

/// Tells every admin that an account could not be created (and whether it was paid for),
/// so a paying customer is never left waiting unnoticed.
async fn alert_admins(tx: &mut Tx, failed: &AccountRow, reason: &str) -> Result<(), ServiceError> {
    let data = alert_data(tx, failed, reason).await?;
    notifications::queue_to_admins(
        tx,
        &format!(
            "provisioning_failed:{}:{}",
            failed.id,
            failed.updated_at.timestamp_micros()
        ),
        "provisioning_failed",
        data,
    )
    .await
}

/// Whether the client's panel supports an extension, treating a failed health call as "no".
pub(crate) async fn supports(client: &NextPanelClient, ext: crate::panel::Extension) -> bool {
    client.supports(ext).await.unwrap_or(false)
}
