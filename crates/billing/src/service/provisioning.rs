//! `POST /provision`: validates everything first, then records the hosting account
//! and its provision job in one transaction (taking the server slot there), and
//! waits a short while for the job to finish.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::{self, HostingAccount};
use super::audit::{self, Change};
use super::{customers, random_bytes, Actor, ServiceError};
use crate::config::Settings;
use crate::domain::hosting::{self, rank_servers, AccountState, Candidate, Username};
use crate::domain::license::LicenseStatus;
use crate::domain::plan::{AccountType, BillingCycle};
use crate::domain::Invalid;
use crate::jobs::{self, Payload};
use crate::store::hosting_accounts::AccountRow;
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// Body of `POST /api/v1/nextpanel/provision` (the seed system's body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// The customer who will own the account.
    #[serde(deserialize_with = "super::wire::id")]
    #[schema(value_type = i64)]
    pub customer_id: i64,
    /// Hosting login: 3 to 32 of a-z0-9, starting with a letter.
    pub username: String,
    /// Email for the panel (default: the customer's).
    pub email: Option<String>,
    /// Initial password (12+ characters with a letter and a digit); generated when absent.
    pub password: Option<String>,
    /// Accepted for compatibility; the customer's record is used.
    pub full_name: Option<String>,
    /// Accepted for compatibility; the customer's record is used.
    pub phone: Option<String>,
    /// Accepted for compatibility; the customer's record is used.
    pub company: Option<String>,
    /// NextPanel package (default: the plan's).
    #[serde(default, deserialize_with = "super::wire::opt_id")]
    #[schema(value_type = Option<i64>)]
    pub package_id: Option<i64>,
    /// A server to use (no failover then); default: the best usable one.
    #[serde(default, deserialize_with = "super::wire::opt_id")]
    #[schema(value_type = Option<i64>)]
    pub server_id: Option<i64>,
    /// The license the account counts against (default: the customer's newest active
    /// license with a free slot).
    #[serde(default, deserialize_with = "super::wire::opt_id")]
    #[schema(value_type = Option<i64>)]
    pub license_id: Option<i64>,
    /// Without a license: issue a monthly license of this plan first.
    #[serde(default, deserialize_with = "super::wire::opt_id")]
    #[schema(value_type = Option<i64>)]
    pub plan_id: Option<i64>,
    /// Account type (default: the plan's).
    pub account_type: Option<AccountType>,
}

/// Answer of `POST /provision`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Provisioned {
    /// The account.
    #[serde(flatten)]
    pub account: HostingAccount,
    /// The generated password, in this response only (when none was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
    /// The license key.
    pub license_key: String,
    /// The server's base URL.
    pub panel_url: Option<String>,
    /// The same URL under the older billing system's name.
    pub server_url: Option<String>,
    /// `true`: the account exists or is being created (the older system's scripts read it;
    /// failures are 4xx/5xx answers with an error body).
    pub success: bool,
    /// Where to poll while it is provisioning.
    pub status_url: String,
    /// The provision job.
    pub job_id: i64,
}

/// What the provision call resolved to.
pub enum ProvisionResult {
    /// Finished (active) within the wait: 201.
    Created(Provisioned),
    /// Still provisioning: 202.
    Accepted(Provisioned),
    /// The same `Idempotency-Key` was seen before: the first account, as it is now.
    Replayed(Provisioned),
}

/// Whether some usable server (active, online, with a free slot, in the plan's location
/// and group) could take an account of this plan now. Read-only: no slot is taken.
pub async fn can_host(
    conn: &mut impl store::AsConn,
    location: Option<&str>,
    group: Option<&str>,
) -> Result<bool, ServiceError> {
    let rows = store::servers::list(conn).await?;
    Ok(!rank_servers(&candidates(&rows), location, group, &[]).is_empty())
}

fn candidates(rows: &[store::servers::ServerRow]) -> Vec<Candidate> {
    rows.iter()
        .map(|r| Candidate {
            id: r.id,
            is_active: r.is_active,
            is_online: r.is_online,
            capacity: r.capacity,
            current_accounts: r.current_accounts,
            last_latency_ms: r.last_latency_ms,
            location: r.location.clone(),
            group: r.server_group.clone(),
        })
        .collect()
}

/// Picks the best usable server in the caller's transaction and checks its slot under its lock.
pub async fn choose_server(
    tx: &mut Tx,
    location: Option<&str>,
    group: Option<&str>,
    exclude: &[i64],
    username: &str,
) -> Result<Option<i64>, ServiceError> {
    store::servers::lock_slots(tx).await?;
    // Read under the lock, so each row's live count already holds for the check below
    // (every slot-taker waits for the lock until the one before it has committed).
    let rows = store::servers::list(tx).await?;
    for id in rank_servers(&candidates(&rows), location, group, exclude) {
        let Some(server) = rows.iter().find(|r| r.id == id) else {
            continue;
        };
        if slot_free(tx, server, username).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Picks a server for an existing account by its plan's placement, skipping `exclude`.
pub(crate) async fn choose_server_for(
    tx: &mut Tx,
    account: &AccountRow,
    exclude: &[i64],
) -> Result<Option<i64>, ServiceError> {
    let license = store::licenses::find(tx, account.license_id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    let plan = store::plans::find(tx, license.plan_id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    choose_server(
        tx,
        plan.location.as_deref(),
        plan.server_group.as_deref(),
        exclude,
        &account.username,
    )
    .await
}

/// Checks, under the slot lock, that the server has a free slot and the username is free there.
async fn take_slot(tx: &mut Tx, server_id: i64, username: &str) -> Result<bool, ServiceError> {
    store::servers::lock_slots(tx).await?;
    let server = store::servers::find(tx, server_id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    slot_free(tx, &server, username).await
}

/// Whether `server`, read under the slot lock (so its live count holds until commit),
/// has a free slot and no account named `username`.
async fn slot_free(
    tx: &mut Tx,
    server: &store::servers::ServerRow,
    username: &str,
) -> Result<bool, ServiceError> {
    Ok(server.current_accounts < server.capacity
        && !store::hosting_accounts::username_taken(tx, server.id, username).await?)
}

/// Validates, records and runs a provisioning (admin only).
pub async fn provision(
    db: &Db,
    vault: &Vault,
    settings: &Settings,
    wake: &tokio::sync::Notify,
    actor: &Actor,
    body: ProvisionRequest,
    idempotency_key: Option<String>,
) -> Result<ProvisionResult, ServiceError> {
    actor.require_admin()?;
    if let Some(key) = &idempotency_key {
        crate::domain::text::bounded("Idempotency-Key", key, 1, 200)?;
        let mut conn = db.conn().await?;
        if let Some(existing) =
            store::hosting_accounts::find_by_idempotency_key(&mut conn, key).await?
        {
            drop(conn);
            if existing.username != body.username || existing.customer_id != body.customer_id {
                return Err(ServiceError::Conflict {
                    field: Some("Idempotency-Key".into()),
                    message: "this Idempotency-Key was used for a different provisioning request"
                        .into(),
                });
            }
            return Ok(ProvisionResult::Replayed(
                describe(db, &existing, None).await?,
            ));
        }
    }
    let username = Username::parse(&body.username)?;
    let email = body
        .email
        .as_deref()
        .map(crate::domain::customer::Email::parse)
        .transpose()?;
    let (password, generated) = match body.password {
        Some(p) => {
            hosting::check_password(&p)?;
            (p, false)
        }
        None => (hosting::password_from_entropy(random_bytes()?), true),
    };
    let sealed = vault
        .seal(&password)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    crate::domain::plan::package_id(body.package_id)?;

    let mut tx = db.begin().await?;
    let customer = customers::load(&mut tx, body.customer_id)
        .await
        .map_err(|_| {
            Invalid::new(
                "customer_id",
                format!("no customer with id {}", body.customer_id),
            )
        })?;
    if !customer.is_active {
        return Err(Invalid::new("customer_id", "the customer is deactivated").into());
    }
    let license = match (body.license_id, body.plan_id) {
        (Some(id), _) => {
            let license = store::licenses::find_owned(&mut tx, id, customer.id)
                .await?
                .ok_or_else(|| Invalid::new("license_id", "no such license for this customer"))?;
            if license.status != LicenseStatus::Active.as_str() {
                return Err(Invalid::new(
                    "license_id",
                    format!("the license is {}", license.status),
                )
                .into());
            }
            license
        }
        (None, Some(plan_id)) => issue_license(&mut tx, actor, customer.id, plan_id).await?,
        // The older system's scripts add a product, then provision without naming it.
        (None, None) => store::licenses::newest_with_room(&mut tx, customer.id)
            .await?
            .ok_or_else(|| {
                Invalid::new(
                    "license_id",
                    "the customer has no active license with a free slot: give license_id, or plan_id to issue a new license",
                )
            })?,
    };
    let live = store::hosting_accounts::live_under_license(&mut tx, license.id).await?;
    if license.max_accounts != crate::domain::plan::UNLIMITED && live >= license.max_accounts {
        return Err(Invalid::new(
            "license_id",
            format!(
                "the license allows {} account(s) and has no free slot",
                license.max_accounts
            ),
        )
        .into());
    }
    let plan = store::plans::find(&mut tx, license.plan_id)
        .await?
        .ok_or(ServiceError::NotFound("plan"))?;
    store::hosting_accounts::lock_username(&mut tx, username.as_str()).await?;
    if let Some(order) = store::invoices::open_order_for(&mut tx, username.as_str()).await? {
        return Err(ServiceError::Conflict {
            field: Some("username".into()),
            message: format!(
                "the hosting username '{}' is held by the open order {}; void it or choose another username",
                username.as_str(),
                super::invoices::number_of(&order)
            ),
        });
    }
    let server_id = match body.server_id {
        Some(id) => {
            let server = store::servers::find(&mut tx, id).await?.ok_or_else(|| Invalid::new("server_id", format!("no server with id {id}")))?;
            if !server.is_active {
                return Err(Invalid::new("server_id", "the server is disabled").into());
            }
            if !server.is_online {
                return Err(Invalid::new("server_id", "the server is offline").into());
            }
            if !take_slot(&mut tx, id, username.as_str()).await? {
                return Err(ServiceError::Conflict { field: Some("server_id".into()), message: "the server is full or already has an account with this username".into() });
            }
            id
        }
        None => choose_server(&mut tx, plan.location.as_deref(), plan.server_group.as_deref(), &[], username.as_str())
            .await?
            .ok_or_else(|| ServiceError::Conflict { field: Some("server_id".into()), message: "no usable server: every matching server is offline, disabled, full or already uses this username".into() })?,
    };
    let (account, job) = record(
        &mut tx,
        settings,
        actor,
        NewAccount {
            customer_id: customer.id,
            license_id: license.id,
            server_id: Some(server_id),
            pinned_server: body.server_id.is_some(),
            username: username.as_str().to_owned(),
            email: email.map_or(customer.email.clone(), |e| e.into_string()),
            account_type: body
                .account_type
                .map_or(plan.account_type.clone(), |t| t.as_str().to_owned()),
            package_id: body.package_id.or(plan.package_id),
            idempotency_key: idempotency_key.clone(),
            sealed_password: sealed,
        },
    )
    .await?;
    tx.commit().await?;
    wake.notify_waiters();

    let finished = wait_for(
        db,
        account.id,
        Duration::from_secs(settings.provision_wait_secs),
        |s| s != AccountState::Pending && s != AccountState::Provisioning,
    )
    .await?;
    let shown_password = generated.then_some(password);
    let answer = describe(db, &finished, shown_password).await?;
    let answer = Provisioned {
        job_id: job.id,
        ..answer
    };
    match state_of_answer(&answer) {
        AccountState::Active => Ok(ProvisionResult::Created(answer)),
        AccountState::Failed => Err(ServiceError::Conflict {
            field: None,
            message: format!(
                "provisioning failed: {}",
                finished
                    .failure_reason
                    .as_deref()
                    .unwrap_or("unknown reason")
            ),
        }),
        _ => Ok(ProvisionResult::Accepted(answer)),
    }
}

/// A hosting account about to be recorded with its provision job.
pub(crate) struct NewAccount {
    pub customer_id: i64,
    pub license_id: i64,
    /// `None`: the job picks a server when one is usable.
    pub server_id: Option<i64>,
    pub pinned_server: bool,
    pub username: String,
    pub email: String,
    pub account_type: String,
    pub package_id: Option<i64>,
    pub idempotency_key: Option<String>,
    /// The initial password, sealed by the vault until the job has used it.
    pub sealed_password: String,
}

/// Records a pending account, its audit entry and its provision job in the caller's transaction.
pub(crate) async fn record(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    new: NewAccount,
) -> Result<(AccountRow, store::jobs::JobRow), ServiceError> {
    // Usernames are unique across servers: checked under the username's lock, and the
    // live-username index refuses a second account should a lock ever be missed.
    store::hosting_accounts::lock_username(tx, &new.username).await?;
    if store::hosting_accounts::username_in_use(tx, &new.username).await? {
        return Err(ServiceError::Conflict {
            field: Some("username".into()),
            message: format!(
                "the hosting username '{}' is taken; choose another",
                new.username
            ),
        });
    }
    let now = store::now();
    let account = store::hosting_accounts::insert(
        tx,
        &AccountRow {
            id: 0,
            customer_id: new.customer_id,
            license_id: new.license_id,
            server_id: new.server_id,
            username: new.username,
            panel_account_id: None,
            account_type: new.account_type,
            state: AccountState::Pending.as_str().to_owned(),
            failure_reason: None,
            created_at: now,
            updated_at: now,
            email: Some(new.email),
            package_id: new.package_id,
            pinned_server: new.pinned_server,
            tried_servers: "[]".to_owned(),
            idempotency_key: new.idempotency_key,
            suspend_reason: None,
        },
    )
    .await?;
    let view = HostingAccount::from(&account);
    audit::record(
        tx,
        actor,
        Change::<(), _> {
            action: "account.requested",
            entity_type: "hosting_account",
            entity_id: Some(account.id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    let job = jobs::enqueue(
        tx,
        settings,
        &Payload::Provision {
            account_id: account.id,
            password: Some(new.sealed_password),
        },
        &format!("provision:{}", account.id),
    )
    .await?;
    Ok((account, job))
}

fn state_of_answer(p: &Provisioned) -> AccountState {
    p.account.state
}

async fn issue_license(
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    plan_id: i64,
) -> Result<store::licenses::LicenseRow, ServiceError> {
    let plan = store::plans::find(tx, plan_id)
        .await?
        .ok_or_else(|| Invalid::new("plan_id", format!("no plan with id {plan_id}")))?;
    if !plan.is_active {
        return Err(Invalid::new("plan_id", "the plan is not active").into());
    }
    let prices = super::plans::prices_of(&plan)?;
    let cycle = BillingCycle::ALL
        .into_iter()
        .find(|c| prices.price(*c).is_some())
        .ok_or_else(|| Invalid::new("plan_id", "the plan has no price"))?;
    super::licenses::issue_in(tx, actor, customer_id, &plan, cycle).await
}

/// Polls the account until `done` holds for its state or the wait runs out.
pub async fn wait_for(
    db: &Db,
    account_id: i64,
    wait: Duration,
    done: impl Fn(AccountState) -> bool,
) -> Result<AccountRow, ServiceError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut conn = db.conn().await?;
        let row = accounts::load(&mut conn, account_id).await?;
        drop(conn);
        if done(accounts::state_of(&row)) || tokio::time::Instant::now() >= deadline {
            return Ok(row);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn describe(
    db: &Db,
    account: &AccountRow,
    generated_password: Option<String>,
) -> Result<Provisioned, ServiceError> {
    let mut conn = db.conn().await?;
    let license = store::licenses::find(&mut conn, account.license_id)
        .await?
        .ok_or(ServiceError::NotFound("license"))?;
    let server = match account.server_id {
        Some(id) => store::servers::find(&mut conn, id).await?,
        None => None,
    };
    let job_id = store::jobs::latest_for_account(&mut conn, account.id, "provision")
        .await?
        .map_or(0, |j| j.id);
    let mut view = HostingAccount::from(account);
    view.server_name = server.as_ref().map(|s| s.name.clone());
    let panel_url = server.map(|s| s.base_url);
    Ok(Provisioned {
        account: view,
        generated_password,
        license_key: license.license_key,
        server_url: panel_url.clone(),
        success: true,
        panel_url,
        status_url: format!("/api/v1/nextpanel/accounts/{}", account.id),
        job_id,
    })
}
