//! The `refunds`, `credit_notes` and `document_sequences` tables.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `refunds`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRow {
    /// Primary key.
    pub id: i64,
    /// The payment refunded.
    pub payment_id: i64,
    /// Its invoice.
    pub invoice_id: i64,
    /// Minor units, more than 0.
    pub amount_minor: i64,
    /// ISO-4217 code (the payment's).
    pub currency: String,
    /// Why, in the admin's words.
    pub reason: String,
    /// `stripe` or `manual`.
    pub provider: String,
    /// Stripe's refund id (`re_...`), once known.
    pub provider_ref: Option<String>,
    /// Sent to Stripe with the refund.
    pub idempotency_key: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// Why it failed.
    pub message: Option<String>,
    /// `none`, `suspend` or `terminate`: what happens to the service paid for.
    pub service_action: String,
    /// Who asked for it (email, key name, `stripe` for refunds made at Stripe).
    pub created_by: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When its outcome was recorded.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A row of `credit_notes`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CreditNoteRow {
    /// Primary key.
    pub id: i64,
    /// `CN-2026-000001`.
    pub number: String,
    /// The customer credited.
    pub customer_id: i64,
    /// The invoice it corrects.
    pub invoice_id: i64,
    /// The number of that invoice.
    pub invoice_number: String,
    /// The refund it documents.
    pub refund_id: i64,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Why.
    pub reason: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

const REFUND_COLUMNS: &str =
    "id, payment_id, invoice_id, amount_minor, currency, reason, provider, provider_ref, \
    idempotency_key, state, message, service_action, created_by, created_at, finished_at";
const NOTE_COLUMNS: &str =
    "id, number, customer_id, invoice_id, invoice_number, refund_id, amount_minor, currency, reason, created_at";

/// Records a refund; a repeated idempotency key or Stripe refund id is a `Duplicate`.
pub async fn insert(tx: &mut Tx, r: &RefundRow) -> Result<RefundRow, StoreError> {
    let sql = format!(
        "INSERT INTO refunds (payment_id, invoice_id, amount_minor, currency, reason, provider, provider_ref, \
         idempotency_key, state, message, service_action, created_by, created_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING {REFUND_COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, RefundRow>(&sql)
        .bind(r.payment_id)
        .bind(r.invoice_id)
        .bind(r.amount_minor)
        .bind(&r.currency)
        .bind(&r.reason)
        .bind(&r.provider)
        .bind(&r.provider_ref)
        .bind(&r.idempotency_key)
        .bind(&r.state)
        .bind(&r.message)
        .bind(&r.service_action)
        .bind(&r.created_by)
        .bind(r.created_at)
        .bind(r.finished_at)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// A refund by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<RefundRow>, StoreError> {
    super::find_row(conn, "refunds", REFUND_COLUMNS, id, None).await
}

/// A refund by its idempotency key.
pub async fn find_by_key(
    conn: &mut impl AsConn,
    key: &str,
) -> Result<Option<RefundRow>, StoreError> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE idempotency_key = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, RefundRow>(&sql)
        .bind(key)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Whether Stripe's refund `re_...` is recorded.
pub async fn ref_recorded(conn: &mut impl AsConn, provider_ref: &str) -> Result<bool, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM refunds WHERE provider = 'stripe' AND provider_ref = $1"
    )
    .bind(provider_ref)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// What is refunded of a payment, or on its way (pending).
pub async fn refunded_of(conn: &mut impl AsConn, payment_id: i64) -> Result<i64, StoreError> {
    // PostgreSQL's SUM of BIGINT is NUMERIC: cast back to an integer.
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM refunds \
         WHERE payment_id = $1 AND state IN ('pending', 'succeeded')"
    )
    .bind(payment_id)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// The refunds of an invoice, oldest first.
pub async fn for_invoice(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Vec<RefundRow>, StoreError> {
    let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE invoice_id = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, RefundRow>(&sql)
        .bind(invoice_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Refunds still pending since before `before` (Stripe did not answer).
pub async fn stale_pending(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RefundRow>, StoreError> {
    let sql = format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE state = 'pending' AND created_at < $1 ORDER BY id LIMIT $2"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, RefundRow>(&sql)
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Records the outcome of a pending refund; `false` when it was not pending any more.
pub async fn finish(
    tx: &mut Tx,
    id: i64,
    state: &str,
    provider_ref: Option<&str>,
    message: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE refunds SET state = $2, provider_ref = COALESCE($3, provider_ref), message = $4, finished_at = $5 \
         WHERE id = $1 AND state = 'pending'"
    )
    .bind(id)
    .bind(state)
    .bind(provider_ref)
    .bind(message)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// The next number of a kind of document in `year`: 1, 2, 3 ... in the caller's
/// transaction, so a rolled-back document gives its number back.
pub async fn next_in_sequence(tx: &mut Tx, kind: &str, year: i64) -> Result<i64, StoreError> {
    take_from_sequence(tx, kind, year, 1).await
}

/// Takes the next `n` values of a sequence at once; returns the last of them (the first
/// is `last - n + 1`). Gapless as long as the caller uses all `n` in this transaction.
pub async fn take_from_sequence(
    tx: &mut Tx,
    kind: &str,
    year: i64,
    n: i64,
) -> Result<i64, StoreError> {
    let value: i64 = on_conn!(tx, |c| sqlx::query_scalar(
        "INSERT INTO document_sequences (kind, year, last_value) VALUES ($1, $2, $3) \
         ON CONFLICT (kind, year) DO UPDATE SET last_value = document_sequences.last_value + $3 \
         RETURNING last_value"
    )
    .bind(kind)
    .bind(year)
    .bind(n)
    .fetch_one(c)
    .await)?;
    Ok(value)
}

/// Issues a credit note.
pub async fn insert_credit_note(
    tx: &mut Tx,
    n: &CreditNoteRow,
) -> Result<CreditNoteRow, StoreError> {
    let sql = format!(
        "INSERT INTO credit_notes (number, customer_id, invoice_id, refund_id, amount_minor, currency, reason, created_at, \
         invoice_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {NOTE_COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, CreditNoteRow>(&sql)
        .bind(&n.number)
        .bind(n.customer_id)
        .bind(n.invoice_id)
        .bind(n.refund_id)
        .bind(n.amount_minor)
        .bind(&n.currency)
        .bind(&n.reason)
        .bind(n.created_at)
        .bind(&n.invoice_number)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Credit notes, newest first, of one customer or all.
pub async fn credit_notes(
    conn: &mut impl AsConn,
    customer_id: Option<i64>,
    page: super::Page,
) -> Result<super::Listed<CreditNoteRow>, StoreError> {
    let filters = super::Filters::new().eq("customer_id", customer_id);
    super::list_page(conn, "credit_notes", NOTE_COLUMNS, filters, page).await
}

/// The credit note of a refund.
pub async fn credit_note_of(
    conn: &mut impl AsConn,
    refund_id: i64,
) -> Result<Option<CreditNoteRow>, StoreError> {
    let sql = format!("SELECT {NOTE_COLUMNS} FROM credit_notes WHERE refund_id = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, CreditNoteRow>(&sql)
        .bind(refund_id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// One credit note.
pub async fn find_credit_note(
    conn: &mut impl AsConn,
    id: i64,
) -> Result<Option<CreditNoteRow>, StoreError> {
    super::find_row(conn, "credit_notes", NOTE_COLUMNS, id, None).await
}

/// The credit notes of an invoice.
pub async fn credit_notes_of_invoice(
    conn: &mut impl AsConn,
    invoice_id: i64,
) -> Result<Vec<CreditNoteRow>, StoreError> {
    let sql = format!("SELECT {NOTE_COLUMNS} FROM credit_notes WHERE invoice_id = $1 ORDER BY id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, CreditNoteRow>(&sql)
        .bind(invoice_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}
