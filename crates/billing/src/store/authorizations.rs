//! The `payment_authorizations` table: card payments authorized for an order and
//! captured once its hosting account is active (or released when it cannot be).

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `payment_authorizations`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthorizationRow {
    /// The order invoice (one authorization each).
    pub invoice_id: i64,
    /// Stripe's PaymentIntent, in `requires_capture` while authorized.
    pub payment_intent_id: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// `authorized`, `captured`, `released` or `failed`.
    pub state: String,
    /// What went wrong, for `failed`.
    pub message: Option<String>,
    /// When it was authorized.
    pub created_at: DateTime<Utc>,
    /// When it was captured, released or given up.
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "invoice_id, payment_intent_id, amount_minor, currency, state, message, created_at, finished_at";

/// Records an authorization; `false` when the invoice or the PaymentIntent has one already.
pub async fn insert(tx: &mut Tx, a: &AuthorizationRow) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO payment_authorizations (invoice_id, payment_intent_id, amount_minor, currency, state, message, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
    )
    .bind(a.invoice_id)
    .bind(&a.payment_intent_id)
    .bind(a.amount_minor)
    .bind(&a.currency)
    .bind(&a.state)
    .bind(&a.message)
    .bind(a.created_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// The authorization of an invoice.
pub async fn of_invoice(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Option<AuthorizationRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payment_authorizations WHERE invoice_id = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, AuthorizationRow>(&sql)
        .bind(invoice_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// The authorization still waiting for the hosting account `account_id`, with its invoice id.
pub async fn waiting_for_account(
    conn: &mut impl AsConn,
    account_id: i64,
) -> Result<Option<AuthorizationRow>, StoreError> {
    let sql = format!(
        "SELECT {} FROM payment_authorizations a JOIN invoices i ON i.id = a.invoice_id \
         WHERE i.hosting_account_id = $1 AND a.state = 'authorized'",
        super::qualified("a", COLUMNS)
    );
    let row = on_conn!(conn, |c| sqlx::query_as::<_, AuthorizationRow>(&sql)
        .bind(account_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Ends an authorization; `false` when it was not `authorized` any more.
pub async fn finish(
    tx: &mut Tx,
    invoice_id: i64,
    state: &str,
    message: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE payment_authorizations SET state = $2, message = $3, finished_at = $4 \
         WHERE invoice_id = $1 AND state = 'authorized'"
    )
    .bind(invoice_id)
    .bind(state)
    .bind(message)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
