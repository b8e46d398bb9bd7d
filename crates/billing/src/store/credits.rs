//! The `credit_entries` ledger and the `credit_balances` it sums to: what a customer is
//! owed, per currency. Every entry moves its balance row in the same statement pair, and
//! the row's `CHECK (balance_minor >= 0)` refuses an entry that would overspend it.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, RawConn, StoreError, Tx};

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

/// Adds an entry and moves the balance by its amount (refused, as
/// [`StoreError::Invariant`], when the balance would go below zero).
pub async fn insert(tx: &mut Tx, e: &CreditEntryRow) -> Result<CreditEntryRow, StoreError> {
    // Both engines check a CHECK constraint on the row an upsert proposes before they
    // look for a conflict, so a negative amount (spending a balance that must exist,
    // locked by the spender) is an UPDATE and only a positive one an upsert.
    let moved = if e.amount_minor < 0 {
        on_conn!(tx, |c| sqlx::query(
            "UPDATE credit_balances SET balance_minor = balance_minor + $3 \
             WHERE customer_id = $1 AND currency = $2"
        )
        .bind(e.customer_id)
        .bind(&e.currency)
        .bind(e.amount_minor)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?
    } else {
        on_conn!(tx, |c| {
            sqlx::query(
            "INSERT INTO credit_balances (customer_id, currency, balance_minor) VALUES ($1, $2, $3) \
             ON CONFLICT (customer_id, currency) DO UPDATE \
             SET balance_minor = credit_balances.balance_minor + excluded.balance_minor"
        )
        .bind(e.customer_id)
        .bind(&e.currency)
        .bind(e.amount_minor)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?
    };
    if moved != 1 {
        return Err(StoreError::Invariant {
            constraint: "credit_balances: no balance to spend".to_owned(),
        });
    }
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

/// The customer's balance in `currency`, locked until the transaction ends: whoever
/// decides from a balance (spends it, takes some away) holds it still until it commits.
/// On SQLite the transaction holds the write lock already.
pub async fn lock_balance(
    tx: &mut Tx,
    customer_id: i64,
    currency: &str,
) -> Result<i64, StoreError> {
    const LOCKED: &str =
        "SELECT balance_minor FROM credit_balances WHERE customer_id = $1 AND currency = $2 FOR UPDATE";
    let found: Option<i64> = match tx.raw() {
        RawConn::Sqlite(c) => sqlx::query_scalar(
            "SELECT balance_minor FROM credit_balances WHERE customer_id = $1 AND currency = $2",
        )
        .bind(customer_id)
        .bind(currency)
        .fetch_optional(c)
        .await?,
        RawConn::Postgres(c) => {
            let found: Option<i64> = sqlx::query_scalar(LOCKED)
                .bind(customer_id)
                .bind(currency)
                .fetch_optional(&mut *c)
                .await?;
            match found {
                Some(b) => Some(b),
                // No row yet: make one to lock, so a rival waits on it too.
                None => {
                    sqlx::query(
                        "INSERT INTO credit_balances (customer_id, currency, balance_minor) \
                         VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
                    )
                    .bind(customer_id)
                    .bind(currency)
                    .execute(&mut *c)
                    .await?;
                    sqlx::query_scalar(LOCKED)
                        .bind(customer_id)
                        .bind(currency)
                        .fetch_optional(&mut *c)
                        .await?
                }
            }
        }
    };
    Ok(found.unwrap_or(0))
}

/// Locks the balances of these customers (all currencies) in a fixed order and returns
/// those that are not zero: `(customer, currency, balance)`. A customer with no row has
/// nothing to spend, so nothing to hold.
pub async fn lock_balances_among(
    tx: &mut Tx,
    customer_ids: &[i64],
) -> Result<Vec<(i64, String, i64)>, StoreError> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let locking = match tx.raw() {
        RawConn::Sqlite(_) => "",
        RawConn::Postgres(_) => " FOR UPDATE",
    };
    let sql = format!(
        "SELECT customer_id, currency, balance_minor FROM credit_balances \
         WHERE customer_id IN ({}) ORDER BY customer_id, currency{locking}",
        super::placeholders(customer_ids.len())
    );
    let rows: Vec<(i64, String, i64)> = on_conn!(tx, |c| {
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(&sql);
        for id in customer_ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows.into_iter().filter(|(_, _, b)| *b != 0).collect())
}

/// The customer's balances by currency (only currencies with entries).
pub async fn balances(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = on_conn!(conn, |c| {
        sqlx::query_as(
            "SELECT currency, balance_minor FROM credit_balances WHERE customer_id = $1 \
         ORDER BY currency",
        )
        .bind(customer_id)
        .fetch_all(c)
        .await
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
