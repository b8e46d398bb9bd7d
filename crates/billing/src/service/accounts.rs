//! Hosting accounts as the API shows them, their audit trail, and the queries on them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::provisioning_log::{self, LogLine};
use super::{Actor, Paginated, ServiceError};
use crate::domain::hosting::AccountState;
use crate::domain::plan::AccountType;
use crate::store::hosting_accounts::{AccountFilter, AccountRow};
use crate::store::{self, AsConn, Db, Page, Tx};

/// A hosting account as the API shows it (never a password).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostingAccount {
    /// Account id.
    pub id: i64,
    /// Owner.
    pub customer_id: i64,
    /// The owner's email (in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// The server's name (in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// License it counts against.
    pub license_id: i64,
    /// Server it lives on.
    pub server_id: Option<i64>,
    /// Hosting login.
    pub username: String,
    /// NextPanel's id of the account, once created.
    pub nextpanel_user_id: Option<String>,
    /// Kind of account.
    pub account_type: AccountType,
    /// State.
    pub state: AccountState,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Why it is suspended.
    pub suspend_reason: Option<String>,
    /// NextPanel package.
    pub package_id: Option<i64>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&AccountRow> for HostingAccount {
    fn from(r: &AccountRow) -> Self {
        HostingAccount {
            id: r.id,
            customer_id: r.customer_id,
            customer_email: None,
            server_name: None,
            license_id: r.license_id,
            server_id: r.server_id,
            username: r.username.clone(),
            nextpanel_user_id: r.panel_account_id.clone(),
            account_type: AccountType::parse(&r.account_type).unwrap_or(AccountType::Panel),
            state: AccountState::parse(&r.state).unwrap_or(AccountState::Failed),
            failure_reason: r.failure_reason.clone(),
            suspend_reason: r.suspend_reason.clone(),
            package_id: r.package_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The state of a stored account.
pub fn state_of(row: &AccountRow) -> AccountState {
    AccountState::parse(&row.state).unwrap_or(AccountState::Failed)
}

/// Writes `after` (a changed copy of `before`) with its audit entry, in the caller's transaction.
pub async fn save_change(
    tx: &mut Tx,
    actor: &Actor,
    before: &AccountRow,
    after: &AccountRow,
    action: &str,
) -> Result<AccountRow, ServiceError> {
    let saved = store::hosting_accounts::update(tx, after).await?;
    let (b, a) = (HostingAccount::from(before), HostingAccount::from(&saved));
    audit::record(
        tx,
        actor,
        Change {
            action,
            entity_type: "hosting_account",
            entity_id: Some(saved.id),
            before: Some(&b),
            after: Some(&a),
        },
    )
    .await?;
    Ok(saved)
}

/// Appends the provisioning-log line of a committed change.
pub async fn log_change(
    db: &Db,
    path: &std::path::Path,
    actor: &Actor,
    account: &AccountRow,
    action: &str,
) {
    let mut conn = match db.conn().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "provisioning log skipped");
            return;
        }
    };
    let email = store::users::find(&mut conn, account.customer_id)
        .await
        .ok()
        .flatten()
        .map(|u| u.email)
        .unwrap_or_default();
    let key = store::licenses::find(&mut conn, account.license_id)
        .await
        .ok()
        .flatten()
        .map(|l| l.license_key)
        .unwrap_or_default();
    let server = match account.server_id {
        Some(id) => store::servers::find(&mut conn, id)
            .await
            .ok()
            .flatten()
            .map(|s| s.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    append_log(
        path,
        actor,
        account,
        action,
        &LogNames {
            customer_email: &email,
            license_key: &key,
            server: &server,
        },
    );
}

/// What a provisioning-log line names besides the account.
pub struct LogNames<'a> {
    /// The customer's email.
    pub customer_email: &'a str,
    /// The license key.
    pub license_key: &'a str,
    /// The server's name.
    pub server: &'a str,
}

/// Appends the provisioning-log line of a committed change whose names the caller has
/// at hand (no look-ups).
pub fn append_log(
    path: &std::path::Path,
    actor: &Actor,
    account: &AccountRow,
    action: &str,
    names: &LogNames<'_>,
) {
    provisioning_log::append(
        path,
        &LogLine {
            time: Utc::now().to_rfc3339(),
            account_id: account.id,
            customer_email: names.customer_email,
            username: &account.username,
            license_key: names.license_key,
            server: names.server,
            state: &account.state,
            actor: &actor.label,
            action,
        },
    );
}

/// Loads an account or "hosting account not found".
pub async fn load(conn: &mut impl AsConn, id: i64) -> Result<AccountRow, ServiceError> {
    store::hosting_accounts::find(conn, id)
        .await?
        .ok_or(ServiceError::NotFound("hosting account"))
}

/// Lists accounts (admin and staff).
pub async fn list(
    db: &Db,
    actor: &Actor,
    filter: &AccountFilter<'_>,
    page: Page,
) -> Result<Paginated<HostingAccount>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.read().await?;
    let mut list = Paginated::of(
        page,
        store::hosting_accounts::list(&mut conn, filter, page).await?,
        |r| HostingAccount::from(&r),
    );
    let items = &mut list.items;
    let distinct = |mut ids: Vec<i64>| {
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let customers = store::users::labels(
        &mut conn,
        &distinct(items.iter().map(|a| a.customer_id).collect()),
    )
    .await?;
    let servers = store::servers::names(
        &mut conn,
        &distinct(items.iter().filter_map(|a| a.server_id).collect()),
    )
    .await?;
    for item in items.iter_mut() {
        item.customer_email = customers
            .iter()
            .find(|(id, _, _)| *id == item.customer_id)
            .map(|(_, _, email)| email.clone());
        item.server_name = servers
            .iter()
            .find(|(id, _)| Some(*id) == item.server_id)
            .map(|(_, name)| name.clone());
    }
    Ok(list)
}

/// One account (admin and staff).
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<HostingAccount, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    Ok(HostingAccount::from(&load(&mut conn, id).await?))
}

/// The caller's own accounts.
pub async fn list_mine(
    db: &Db,
    actor: &Actor,
    page: Page,
) -> Result<Paginated<MyAccount>, ServiceError> {
    let id = actor.user_id.ok_or(ServiceError::NotFound("user"))?;
    let mut list = list_for_customer(db, id, page).await?;
    let accounts = std::mem::take(&mut list.items);
    let mut conn = db.conn().await?;
    let mut items = Vec::with_capacity(accounts.len());
    for account in accounts {
        items.push(MyAccount::with_panel(&mut conn, account).await?);
    }
    Ok(list.with_items(items))
}

/// A hosting account as its owner sees it: where to log in besides.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyAccount {
    /// The account.
    #[serde(flatten)]
    pub account: HostingAccount,
    /// The control panel to log in to (as in the welcome message); none before placement.
    pub panel_url: Option<String>,
}

impl MyAccount {
    async fn with_panel(
        conn: &mut impl AsConn,
        account: HostingAccount,
    ) -> Result<MyAccount, ServiceError> {
        let panel_url = panel_url(conn, account.server_id).await?;
        Ok(MyAccount { account, panel_url })
    }
}

/// The control panel an account's customer logs in to: its server's address (none
/// before the account is placed, or if the server is gone).
pub async fn panel_url(
    conn: &mut impl AsConn,
    server_id: Option<i64>,
) -> Result<Option<String>, ServiceError> {
    Ok(match server_id {
        Some(id) => store::servers::find(conn, id).await?.map(|s| s.base_url),
        None => None,
    })
}

/// One customer's accounts (no role check: callers scope it).
pub async fn list_for_customer(
    db: &Db,
    customer_id: i64,
    page: Page,
) -> Result<Paginated<HostingAccount>, ServiceError> {
    let mut conn = db.conn().await?;
    let filter = AccountFilter {
        customer_id: Some(customer_id),
        ..AccountFilter::default()
    };
    let listed = store::hosting_accounts::list(&mut conn, &filter, page).await?;
    Ok(Paginated::of(page, listed, |r| HostingAccount::from(&r)))
}

/// One of the caller's own accounts; someone else's is "not found".
pub async fn get_mine(db: &Db, actor: &Actor, id: i64) -> Result<MyAccount, ServiceError> {
    let owner = actor
        .user_id
        .ok_or(ServiceError::NotFound("hosting account"))?;
    let mut conn = db.conn().await?;
    let row = store::hosting_accounts::find_owned(&mut conn, id, owner)
        .await?
        .ok_or(ServiceError::NotFound("hosting account"))?;
    MyAccount::with_panel(&mut conn, HostingAccount::from(&row)).await
}

/// Live accounts per account type (admin and staff).
pub async fn counts_by_type(
    db: &Db,
    actor: &Actor,
) -> Result<std::collections::BTreeMap<String, i64>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.read().await?;
    let mut counts: std::collections::BTreeMap<String, i64> =
        ["panel", "reseller", "master-reseller"]
            .iter()
            .map(|t| ((*t).to_owned(), 0))
            .collect();
    for (kind, n) in store::hosting_accounts::count_by_type(&mut conn).await? {
        counts.insert(kind, n);
    }
    Ok(counts)
}
