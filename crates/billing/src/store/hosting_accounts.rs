//! The `hosting_accounts` table.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Filters, Listed, Page, RawConn, StoreError, Tx};

/// A row of `hosting_accounts`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    /// Primary key.
    pub id: i64,
    /// Owner.
    pub customer_id: i64,
    /// License (and so plan) it counts against.
    pub license_id: i64,
    /// Server it lives on (`None` once a removed server's terminated account is left behind).
    pub server_id: Option<i64>,
    /// Hosting login, unique per server.
    pub username: String,
    /// The panel's own id, once created.
    pub panel_account_id: Option<String>,
    /// `panel`, `reseller` or `master-reseller`.
    pub account_type: String,
    /// State name.
    pub state: String,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Contact email sent to the panel.
    pub email: Option<String>,
    /// NextPanel package.
    pub package_id: Option<i64>,
    /// The admin chose the server: no failover.
    pub pinned_server: bool,
    /// JSON array of server ids already tried.
    pub tried_servers: String,
    /// The `Idempotency-Key` of the request that created it.
    pub idempotency_key: Option<String>,
    /// Why it was suspended.
    pub suspend_reason: Option<String>,
}

const COLUMNS: &str = "id, customer_id, license_id, server_id, username, panel_account_id, account_type, state, failure_reason, \
    created_at, updated_at, email, package_id, pinned_server, tried_servers, idempotency_key, suspend_reason";

/// Inserts an account (the row's `id` is ignored) and returns it.
pub async fn insert(tx: &mut Tx, a: &AccountRow) -> Result<AccountRow, StoreError> {
    let sql = format!(
        "INSERT INTO hosting_accounts (customer_id, license_id, server_id, username, panel_account_id, account_type, state, \
         failure_reason, created_at, updated_at, email, package_id, pinned_server, tried_servers, idempotency_key, suspend_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(a.customer_id)
        .bind(a.license_id)
        .bind(a.server_id)
        .bind(&a.username)
        .bind(&a.panel_account_id)
        .bind(&a.account_type)
        .bind(&a.state)
        .bind(&a.failure_reason)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(&a.email)
        .bind(a.package_id)
        .bind(a.pinned_server)
        .bind(&a.tried_servers)
        .bind(&a.idempotency_key)
        .bind(&a.suspend_reason)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Writes the mutable fields back: server, panel id, state, reasons, package, tried servers.
pub async fn update(tx: &mut Tx, a: &AccountRow) -> Result<AccountRow, StoreError> {
    let sql = format!(
        "UPDATE hosting_accounts SET license_id = $2, server_id = $3, panel_account_id = $4, state = $5, failure_reason = $6, \
         updated_at = $7, package_id = $8, tried_servers = $9, suspend_reason = $10, account_type = $11 \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(a.id)
        .bind(a.license_id)
        .bind(a.server_id)
        .bind(&a.panel_account_id)
        .bind(&a.state)
        .bind(&a.failure_reason)
        .bind(a.updated_at)
        .bind(a.package_id)
        .bind(&a.tried_servers)
        .bind(&a.suspend_reason)
        .bind(&a.account_type)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Finds an account by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<AccountRow>, StoreError> {
    super::find_row(conn, "hosting_accounts", COLUMNS, id, None).await
}

/// Finds an account only if `customer_id` owns it.
pub async fn find_owned(
    conn: &mut impl AsConn,
    id: i64,
    customer_id: i64,
) -> Result<Option<AccountRow>, StoreError> {
    super::find_row(conn, "hosting_accounts", COLUMNS, id, Some(customer_id)).await
}

/// Finds the account created by a request with this `Idempotency-Key`.
pub async fn find_by_idempotency_key(
    conn: &mut impl AsConn,
    key: &str,
) -> Result<Option<AccountRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM hosting_accounts WHERE idempotency_key = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(key)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Whether a live or failed account on this server already uses the username.
pub async fn username_taken(
    conn: &mut impl AsConn,
    server_id: i64,
    username: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM hosting_accounts WHERE server_id = $1 AND username = $2"
    )
    .bind(server_id)
    .bind(username)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Live accounts under a license.
pub async fn live_under_license(
    conn: &mut impl AsConn,
    license_id: i64,
) -> Result<i64, StoreError> {
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM hosting_accounts WHERE license_id = $1 AND state IN ('pending', 'provisioning', 'active', 'suspended')"
    )
    .bind(license_id)
    .fetch_one(c)
    .await
    })?;
    Ok(n)
}

/// Filters of the account list.
#[derive(Debug, Default)]
pub struct AccountFilter<'a> {
    /// Only this customer's.
    pub customer_id: Option<i64>,
    /// Only on this server.
    pub server_id: Option<i64>,
    /// Only in this state.
    pub state: Option<&'a str>,
}

/// Lists accounts newest first.
pub async fn list(
    conn: &mut impl AsConn,
    f: &AccountFilter<'_>,
    page: Page,
) -> Result<Listed<AccountRow>, StoreError> {
    let filters = Filters::new()
        .eq("customer_id", f.customer_id)
        .eq("server_id", f.server_id)
        .eq("state", f.state);
    super::list_page(conn, "hosting_accounts", COLUMNS, filters, page).await
}

/// Live accounts counted by account type.
pub async fn count_by_type(conn: &mut impl AsConn) -> Result<Vec<(String, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = on_conn!(conn, |c| {
        // Kept by triggers as accounts change (migration 0026): a COUNT would read every
        // account.
        sqlx::query_as(
            "SELECT account_type, CAST(SUM(live) AS BIGINT) FROM account_type_counts \
         GROUP BY account_type ORDER BY account_type",
        )
        .fetch_all(c)
        .await
    })?;
    Ok(rows)
}

/// Every account on a server, whatever its state, by id (for reconciliation).
pub async fn all_on_server(
    conn: &mut impl AsConn,
    server_id: i64,
) -> Result<Vec<AccountRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM hosting_accounts WHERE server_id = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(server_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Accounts that exist on their panel (active or suspended, with a panel id): the ones
/// whose usage is polled.
pub async fn on_panels(conn: &mut impl AsConn) -> Result<Vec<AccountRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM hosting_accounts WHERE state IN ('active', 'suspended') \
         AND panel_account_id IS NOT NULL AND server_id IS NOT NULL ORDER BY id"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Every account under a license, by id (suspension for non-payment and its reversal).
pub async fn under_license(
    conn: &mut impl AsConn,
    license_id: i64,
) -> Result<Vec<AccountRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM hosting_accounts WHERE license_id = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(license_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Holds every decision about this hosting username (an order, the account a payment
/// creates, an admin's account) still until the transaction ends: one lock row per
/// username, made on first use. SQLite's transaction holds the write lock already.
pub async fn lock_username(tx: &mut Tx, username: &str) -> Result<(), StoreError> {
    if let RawConn::Postgres(c) = tx.raw() {
        sqlx::query(
            "INSERT INTO hosting_username_locks (username) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(username)
        .execute(&mut *c)
        .await?;
        sqlx::query("SELECT username FROM hosting_username_locks WHERE username = $1 FOR UPDATE")
            .bind(username)
            .fetch_optional(&mut *c)
            .await?;
    }
    Ok(())
}

/// Whether a live account (not terminated or failed) on any server has this username.
pub async fn username_in_use(conn: &mut impl AsConn, username: &str) -> Result<bool, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM hosting_accounts WHERE username = $1 \
         AND state IN ('pending', 'provisioning', 'active', 'suspended')"
    )
    .bind(username)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// The account with this username (usernames are unique across servers), if any.
pub async fn find_by_username(
    conn: &mut impl AsConn,
    username: &str,
) -> Result<Option<AccountRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM hosting_accounts WHERE username = $1 ORDER BY id LIMIT 1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(username)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}
