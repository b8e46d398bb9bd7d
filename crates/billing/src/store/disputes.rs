//! The `disputes` table.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `disputes`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisputeRow {
    /// Primary key.
    pub id: i64,
    /// Stripe's dispute id (`dp_...`).
    pub stripe_dispute_id: String,
    /// The payment disputed.
    pub payment_id: i64,
    /// Its invoice.
    pub invoice_id: i64,
    /// That invoice's number.
    pub invoice_number: String,
    /// The customer.
    pub customer_id: i64,
    /// Minor units disputed.
    pub amount_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// The cardholder's reason as Stripe names it (`fraudulent`, `product_not_received`, ...).
    pub reason: String,
    /// Stripe's status: `needs_response`, `under_review`, `won`, `lost`, ...
    pub status: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, stripe_dispute_id, payment_id, invoice_id, invoice_number, customer_id, amount_minor, currency, \
    reason, status, opened_at, closed_at";

/// Records a new dispute; `None` when Stripe's dispute was recorded before.
pub async fn open(tx: &mut Tx, d: &DisputeRow) -> Result<Option<DisputeRow>, StoreError> {
    let sql = format!(
        "INSERT INTO disputes (stripe_dispute_id, payment_id, invoice_id, customer_id, amount_minor, currency, \
         reason, status, opened_at, invoice_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (stripe_dispute_id) DO NOTHING RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, DisputeRow>(&sql)
        .bind(&d.stripe_dispute_id)
        .bind(d.payment_id)
        .bind(d.invoice_id)
        .bind(d.customer_id)
        .bind(d.amount_minor)
        .bind(&d.currency)
        .bind(&d.reason)
        .bind(&d.status)
        .bind(d.opened_at)
        .bind(&d.invoice_number)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Records the end of a dispute; `None` when it is unknown or was closed before.
pub async fn close(
    tx: &mut Tx,
    stripe_dispute_id: &str,
    status: &str,
    at: DateTime<Utc>,
) -> Result<Option<DisputeRow>, StoreError> {
    let sql = format!(
        "UPDATE disputes SET status = $2, closed_at = $3 WHERE stripe_dispute_id = $1 AND closed_at IS NULL \
         RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, DisputeRow>(&sql)
        .bind(stripe_dispute_id)
        .bind(status)
        .bind(at)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Disputes, newest first, of one customer or all.
pub async fn list(
    conn: &mut impl AsConn,
    customer_id: Option<i64>,
    page: super::Page,
) -> Result<super::Listed<DisputeRow>, StoreError> {
    let filters = super::Filters::new().eq("customer_id", customer_id);
    super::list_page(conn, "disputes", COLUMNS, filters, page).await
}

/// The disputes of an invoice.
pub async fn for_invoice(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Vec<DisputeRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM disputes WHERE invoice_id = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, DisputeRow>(&sql)
        .bind(invoice_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}
