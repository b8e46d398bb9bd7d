//! The `credit_entries` table: what a customer is owed, per currency, as a ledger.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `credit_entries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CreditEntryRow {
    /// Primary key.
    pub id: i64,
    /// The customer.
    pub customer_id: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Minor units added (positive) or used (negative).
    pub amount_minor: i64,
    /// Why, in words.
    pub reason: String,
    /// The invoice it paid part of, when used.
    pub invoice_id: Option<i64>,
    /// The plan change it came from.
    pub plan_change_id: Option<i64>,
    /// Who: a user's email, or `system`.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, customer_id, currency, amount_minor, reason, invoice_id, plan_change_id, created_by, created_at";

/// Adds an entry.
pub async fn insert(tx: &mut Tx, e: &CreditEntryRow) -> Result<CreditEntryRow, StoreError> {
    let sql = format!(
        "INSERT INTO credit_entries (customer_id, currency, amount_minor, reason, invoice_id, plan_change_id, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, CreditEntryRow>(&sql)
        .bind(e.customer_id)
        .bind(&e.currency)
        .bind(e.amount_minor)
        .bind(&e.reason)
        .bind(e.invoice_id)
        .bind(e.plan_change_id)
        .bind(&e.created_by)
        .bind(e.created_at)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// The customer's balance in `currency`.
pub async fn balance(
    conn: &mut impl AsConn,
    customer_id: i64,
    currency: &str,
) -> Result<i64, StoreError> {
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM credit_entries WHERE customer_id = $1 AND currency = $2"
    )
    .bind(customer_id)
    .bind(currency)
    .fetch_one(c)
    .await
    })?;
    Ok(n)
}

/// The customer's balances by currency (only currencies with entries).
pub async fn balances(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM credit_entries WHERE customer_id = $1 \
         GROUP BY currency ORDER BY currency"
    )
    .bind(customer_id)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// The balances of these customers that are not zero: `(customer, currency, balance)`.
pub async fn balances_among(
    conn: &mut impl AsConn,
    customer_ids: &[i64],
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT customer_id, currency, CAST(SUM(amount_minor) AS BIGINT) FROM credit_entries \
         WHERE customer_id IN ({}) GROUP BY customer_id, currency",
        super::placeholders(customer_ids.len())
    );
    let rows = on_conn!(conn, |c| {
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(&sql);
        for id in customer_ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows)
}

/// The customer's latest entries, newest first.
pub async fn entries(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Vec<CreditEntryRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM credit_entries WHERE customer_id = $1 ORDER BY id DESC LIMIT 100"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, CreditEntryRow>(&sql)
        .bind(customer_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}
