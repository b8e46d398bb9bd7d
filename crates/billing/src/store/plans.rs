//! The `plans` table.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `plans`; prices are minor units of `currency`, `None` where a cycle is not offered.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    /// Primary key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Description for customers.
    pub description: String,
    /// ISO-4217 code.
    pub currency: String,
    /// Monthly price.
    pub price_monthly: Option<i64>,
    /// Quarterly price.
    pub price_quarterly: Option<i64>,
    /// Semiannual price.
    pub price_semiannual: Option<i64>,
    /// Annual price.
    pub price_annual: Option<i64>,
    /// One-off setup fee.
    pub setup_fee: i64,
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
    /// `panel`, `reseller` or `master-reseller`.
    pub account_type: String,
    /// NextPanel package id.
    pub package_id: Option<i64>,
    /// Server group the plan's accounts go to.
    pub server_group: Option<String>,
    /// Location the plan's accounts go to.
    pub location: Option<String>,
    /// Whether customers can buy it.
    pub is_active: bool,
    /// Display order, lowest first.
    pub sort_order: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, currency, price_monthly, price_quarterly, price_semiannual, price_annual, \
    setup_fee, max_accounts, max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, account_type, \
    package_id, server_group, location, is_active, sort_order, created_at, updated_at";

/// Inserts a plan (the row's `id` is ignored) and returns the stored row.
pub async fn insert(tx: &mut Tx, p: &PlanRow) -> Result<PlanRow, StoreError> {
    let sql = format!(
        "INSERT INTO plans (name, description, currency, price_monthly, price_quarterly, price_semiannual, price_annual, \
         setup_fee, max_accounts, max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, account_type, \
         package_id, server_group, location, is_active, sort_order, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
         RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| bind_fields(sqlx::query_as::<_, PlanRow>(&sql), p)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Writes every field of `p` to the plan with `p.id`.
pub async fn update(tx: &mut Tx, p: &PlanRow) -> Result<PlanRow, StoreError> {
    let sql = format!(
        "UPDATE plans SET name = $1, description = $2, currency = $3, price_monthly = $4, price_quarterly = $5, \
         price_semiannual = $6, price_annual = $7, setup_fee = $8, max_accounts = $9, max_domains = $10, \
         max_databases = $11, max_emails = $12, storage_mb = $13, bandwidth_mb = $14, account_type = $15, \
         package_id = $16, server_group = $17, location = $18, is_active = $19, sort_order = $20, \
         created_at = $21, updated_at = $22 WHERE id = $23 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| bind_fields(sqlx::query_as::<_, PlanRow>(&sql), p)
        .bind(p.id)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Binds the 22 data fields of a plan in column order; generic so one list serves both engines.
fn bind_fields<'q, DB, O>(
    q: sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>,
    p: &'q PlanRow,
) -> sqlx::query::QueryAs<'q, DB, O, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(p.name.clone())
        .bind(p.description.clone())
        .bind(p.currency.clone())
        .bind(p.price_monthly)
        .bind(p.price_quarterly)
        .bind(p.price_semiannual)
        .bind(p.price_annual)
        .bind(p.setup_fee)
        .bind(p.max_accounts)
        .bind(p.max_domains)
        .bind(p.max_databases)
        .bind(p.max_emails)
        .bind(p.storage_mb)
        .bind(p.bandwidth_mb)
        .bind(p.account_type.clone())
        .bind(p.package_id)
        .bind(p.server_group.clone())
        .bind(p.location.clone())
        .bind(p.is_active)
        .bind(p.sort_order)
        .bind(p.created_at)
        .bind(p.updated_at)
}

/// Finds a plan by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<PlanRow>, StoreError> {
    super::find_row(conn, "plans", COLUMNS, id, None).await
}

/// Lists plans in display order; inactive ones only when asked.
pub async fn list(
    conn: &mut impl AsConn,
    include_inactive: bool,
) -> Result<Vec<PlanRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plans WHERE ($1 OR is_active = TRUE) ORDER BY sort_order, id"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, PlanRow>(&sql)
        .bind(include_inactive)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// The id of the plan called `name` (exactly), if any.
pub async fn id_by_name(conn: &mut impl AsConn, name: &str) -> Result<Option<i64>, StoreError> {
    let id = on_conn!(conn, |c| {
        sqlx::query_scalar("SELECT id FROM plans WHERE name = $1 ORDER BY id LIMIT 1")
            .bind(name)
            .fetch_optional(c)
            .await
    })?;
    Ok(id)
}
