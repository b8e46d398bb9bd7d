//! The `payments` and `stripe_events` tables.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `payments`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    /// Primary key.
    pub id: i64,
    /// The invoice paid (or tried).
    pub invoice_id: i64,
    /// `stripe` or `manual`.
    pub provider: String,
    /// The provider's reference (a PaymentIntent id, or the admin's note).
    pub provider_ref: String,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Why it failed, or what was odd about it.
    pub message: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Whether it paid its invoice (at most one per invoice); a succeeded payment that did
    /// not (the invoice was paid or void already, or the amount was wrong) is owed back.
    pub applied: bool,
}

const COLUMNS: &str =
    "id, invoice_id, provider, provider_ref, status, amount_minor, currency, message, created_at, applied";

/// Records a payment; a second succeeded payment with the same reference is a `Duplicate`.
pub async fn insert(tx: &mut Tx, p: &PaymentRow) -> Result<PaymentRow, StoreError> {
    let sql = format!(
        "INSERT INTO payments (invoice_id, provider, provider_ref, status, amount_minor, currency, message, created_at, applied) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, PaymentRow>(&sql)
        .bind(p.invoice_id)
        .bind(&p.provider)
        .bind(&p.provider_ref)
        .bind(&p.status)
        .bind(p.amount_minor)
        .bind(&p.currency)
        .bind(&p.message)
        .bind(p.created_at)
        .bind(p.applied)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// The payments of an invoice, oldest first.
pub async fn for_invoice(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Vec<PaymentRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE invoice_id = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, PaymentRow>(&sql)
        .bind(invoice_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Claims a Stripe event id in the caller's transaction; `false` when it was applied before.
pub async fn claim_event(
    tx: &mut Tx,
    event_id: &str,
    event_type: &str,
    outcome: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // ON CONFLICT DO NOTHING reads the same on both engines and never aborts the transaction.
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO stripe_events (event_id, event_type, outcome, received_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (event_id) DO NOTHING"
    )
    .bind(event_id)
    .bind(event_type)
    .bind(outcome)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Stores what applying a claimed event did.
pub async fn set_event_outcome(
    tx: &mut Tx,
    event_id: &str,
    outcome: &str,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE stripe_events SET outcome = $2 WHERE event_id = $1"
    )
    .bind(event_id)
    .bind(outcome)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether a succeeded payment with this provider reference is recorded.
pub async fn succeeded_exists(
    conn: &mut impl AsConn,
    provider: &str,
    provider_ref: &str,
) -> Result<bool, StoreError> {
    let n: i64 = on_conn!(conn, |c| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM payments WHERE provider = $1 AND provider_ref = $2 AND status = 'succeeded'"
    )
    .bind(provider)
    .bind(provider_ref)
    .fetch_one(c)
    .await
    })?;
    Ok(n > 0)
}

/// When the last Stripe event arrived.
pub async fn last_event_at(conn: &mut impl AsConn) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at = on_conn!(conn, |c| sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "SELECT MAX(received_at) FROM stripe_events"
    )
    .fetch_one(c)
    .await)?;
    Ok(at)
}

/// A payment by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE id = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, PaymentRow>(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// The succeeded payment with this provider reference (a PaymentIntent id).
pub async fn find_succeeded(
    conn: &mut impl AsConn,
    provider: &str,
    provider_ref: &str,
) -> Result<Option<PaymentRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE provider = $1 AND provider_ref = $2 AND status = 'succeeded'"
    );
    let row = on_conn!(conn, |c| sqlx::query_as::<_, PaymentRow>(&sql)
        .bind(provider)
        .bind(provider_ref)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}
