//! The `licenses` table.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Filters, Listed, Page, StoreError, Tx};

/// A row of `licenses`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LicenseRow {
    /// Primary key.
    pub id: i64,
    /// `NP-XXXX-XXXX-XXXX-XXXX`, unique.
    pub license_key: String,
    /// Owner (a customer).
    pub customer_id: i64,
    /// The plan it was issued for.
    pub plan_id: i64,
    /// Billing cycle name.
    pub billing_cycle: String,
    /// Status name.
    pub status: String,
    /// Quota: accounts.
    pub max_accounts: i64,
    /// Quota: domains.
    pub max_domains: i64,
    /// Quota: databases.
    pub max_databases: i64,
    /// Quota: email accounts.
    pub max_emails: i64,
    /// Quota: storage MiB.
    pub storage_mb: i64,
    /// Quota: bandwidth MiB.
    pub bandwidth_mb: i64,
    /// When it became active.
    pub activated_at: DateTime<Utc>,
    /// Paid until.
    pub expires_at: DateTime<Utc>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Whether the billing run issues its renewal invoices.
    pub auto_renew: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, license_key, customer_id, plan_id, billing_cycle, status, max_accounts, max_domains, \
    max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, cancelled_at, created_at, updated_at, auto_renew";

/// Inserts a license (the row's `id` is ignored).
pub async fn insert(tx: &mut Tx, l: &LicenseRow) -> Result<LicenseRow, StoreError> {
    let sql = format!(
        "INSERT INTO licenses (license_key, customer_id, plan_id, billing_cycle, status, max_accounts, max_domains, \
         max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, cancelled_at, created_at, updated_at, auto_renew) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, LicenseRow>(&sql)
        .bind(&l.license_key)
        .bind(l.customer_id)
        .bind(l.plan_id)
        .bind(&l.billing_cycle)
        .bind(&l.status)
        .bind(l.max_accounts)
        .bind(l.max_domains)
        .bind(l.max_databases)
        .bind(l.max_emails)
        .bind(l.storage_mb)
        .bind(l.bandwidth_mb)
        .bind(l.activated_at)
        .bind(l.expires_at)
        .bind(l.cancelled_at)
        .bind(l.created_at)
        .bind(l.updated_at)
        .bind(l.auto_renew)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Writes the mutable fields (status, quotas, dates) of `l` back.
pub async fn update(tx: &mut Tx, l: &LicenseRow) -> Result<LicenseRow, StoreError> {
    let sql = format!(
        "UPDATE licenses SET status = $2, max_accounts = $3, max_domains = $4, max_databases = $5, max_emails = $6, \
         storage_mb = $7, bandwidth_mb = $8, expires_at = $9, cancelled_at = $10, updated_at = $11, auto_renew = $12 \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, LicenseRow>(&sql)
        .bind(l.id)
        .bind(&l.status)
        .bind(l.max_accounts)
        .bind(l.max_domains)
        .bind(l.max_databases)
        .bind(l.max_emails)
        .bind(l.storage_mb)
        .bind(l.bandwidth_mb)
        .bind(l.expires_at)
        .bind(l.cancelled_at)
        .bind(l.updated_at)
        .bind(l.auto_renew)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Locks the license until the transaction ends (see [`super::lock_row`]).
pub async fn lock(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    super::lock_row(tx, "licenses", id).await
}

/// Finds a license by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<LicenseRow>, StoreError> {
    super::find_row(conn, "licenses", COLUMNS, id, None).await
}

/// The licenses with these ids, in no particular order (absent ids are left out).
pub async fn find_many(conn: &mut impl AsConn, ids: &[i64]) -> Result<Vec<LicenseRow>, StoreError> {
    super::rows_in(conn, "licenses", COLUMNS, "id", ids, "").await
}

/// Finds a license by id only if `customer_id` owns it.
pub async fn find_owned(
    conn: &mut impl AsConn,
    id: i64,
    customer_id: i64,
) -> Result<Option<LicenseRow>, StoreError> {
    super::find_row(conn, "licenses", COLUMNS, id, Some(customer_id)).await
}

/// Whether a key is already taken (keys are random; a clash is astronomically rare but checked).
pub async fn key_exists(conn: &mut impl AsConn, key: &str) -> Result<bool, StoreError> {
    let found: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM licenses WHERE license_key = $1"
    )
    .bind(key)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Lists licenses, newest first, optionally of one customer and/or one status.
pub async fn list(
    conn: &mut impl AsConn,
    customer_id: Option<i64>,
    status: Option<&str>,
    page: Page,
) -> Result<Listed<LicenseRow>, StoreError> {
    let filters = Filters::new()
        .eq("customer_id", customer_id)
        .eq("status", status);
    super::list_page(conn, "licenses", COLUMNS, filters, page).await
}

/// Moves a license to another plan with that plan's quotas.
pub async fn update_plan(tx: &mut Tx, l: &LicenseRow) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE licenses SET plan_id = $2, max_accounts = $3, max_domains = $4, max_databases = $5, max_emails = $6, \
         storage_mb = $7, bandwidth_mb = $8, updated_at = $9 WHERE id = $1"
    )
    .bind(l.id)
    .bind(l.plan_id)
    .bind(l.max_accounts)
    .bind(l.max_domains)
    .bind(l.max_databases)
    .bind(l.max_emails)
    .bind(l.storage_mb)
    .bind(l.bandwidth_mb)
    .bind(l.updated_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Finds a license by its key (as stored: upper case).
pub async fn find_by_key(
    conn: &mut impl AsConn,
    key: &str,
) -> Result<Option<LicenseRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM licenses WHERE license_key = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, LicenseRow>(&sql)
        .bind(key)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// The customer's newest active license with a free account slot (-1 quotas are unlimited).
pub async fn newest_with_room(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Option<LicenseRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM licenses l WHERE customer_id = $1 AND status = 'active' \
         AND (max_accounts = -1 OR max_accounts > (SELECT COUNT(*) FROM hosting_accounts a \
         WHERE a.license_id = l.id AND a.state IN ('pending', 'provisioning', 'active', 'suspended'))) \
         ORDER BY id DESC LIMIT 1"
    );
    let row = on_conn!(conn, |c| sqlx::query_as::<_, LicenseRow>(&sql)
        .bind(customer_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}
