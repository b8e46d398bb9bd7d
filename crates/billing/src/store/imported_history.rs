//! `imported_invoices` and `imported_payments`: an older system's invoices and payments,
//! kept read-only as each customer's history.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// A row of `imported_invoices`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportedInvoiceRow {
    /// Primary key.
    pub id: i64,
    /// The customer.
    pub customer_id: i64,
    /// The old system's number.
    pub number: String,
    /// Its status there (`paid`, `open`, `void`...).
    pub status: String,
    /// ISO-4217 code.
    pub currency: String,
    /// Before tax, minor units.
    pub subtotal_minor: i64,
    /// Tax, minor units.
    pub tax_minor: i64,
    /// Total, minor units.
    pub total_minor: i64,
    /// Paid, minor units.
    pub paid_minor: i64,
    /// Still due, minor units.
    pub due_minor: i64,
    /// Invoice date.
    pub issued_at: Option<DateTime<Utc>>,
    /// Due date.
    pub due_at: Option<DateTime<Utc>>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// The old line items, JSON text.
    pub items: String,
    /// Notes.
    pub notes: Option<String>,
    /// When it was imported.
    pub imported_at: DateTime<Utc>,
}

/// A row of `imported_payments`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportedPaymentRow {
    /// Primary key.
    pub id: i64,
    /// The customer.
    pub customer_id: i64,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Its status there (`succeeded`, `failed`, `refunded`...).
    pub status: String,
    /// How it was paid (`card`, a gateway's name).
    pub method: Option<String>,
    /// The gateway's id of the payment.
    pub reference: Option<String>,
    /// What it was for.
    pub description: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// When it was made.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was settled.
    pub processed_at: Option<DateTime<Utc>>,
    /// When it was imported.
    pub imported_at: DateTime<Utc>,
}

const INVOICE_COLUMNS: &str =
    "id, customer_id, number, status, currency, subtotal_minor, tax_minor, total_minor, \
    paid_minor, due_minor, issued_at, due_at, paid_at, items, notes, imported_at";
const PAYMENT_COLUMNS: &str =
    "id, customer_id, amount_minor, currency, status, method, reference, description, \
    failure_reason, created_at, processed_at, imported_at";

/// Inserts an imported invoice and returns its id.
pub async fn insert_invoice(
    conn: &mut impl AsConn,
    r: &ImportedInvoiceRow,
) -> Result<i64, StoreError> {
    let id = on_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO imported_invoices (customer_id, number, status, currency, subtotal_minor, tax_minor, total_minor, \
             paid_minor, due_minor, issued_at, due_at, paid_at, items, notes, imported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
        )
        .bind(r.customer_id)
        .bind(&r.number)
        .bind(&r.status)
        .bind(&r.currency)
        .bind(r.subtotal_minor)
        .bind(r.tax_minor)
        .bind(r.total_minor)
        .bind(r.paid_minor)
        .bind(r.due_minor)
        .bind(r.issued_at)
        .bind(r.due_at)
        .bind(r.paid_at)
        .bind(&r.items)
        .bind(&r.notes)
        .bind(r.imported_at)
        .fetch_one(c)
        .await
    })?;
    Ok(id)
}

/// Inserts an imported payment and returns its id.
pub async fn insert_payment(
    conn: &mut impl AsConn,
    r: &ImportedPaymentRow,
) -> Result<i64, StoreError> {
    let id = on_conn!(conn, |c| {
        sqlx::query_scalar(
            "INSERT INTO imported_payments (customer_id, amount_minor, currency, status, method, reference, description, \
             failure_reason, created_at, processed_at, imported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(r.customer_id)
        .bind(r.amount_minor)
        .bind(&r.currency)
        .bind(&r.status)
        .bind(&r.method)
        .bind(&r.reference)
        .bind(&r.description)
        .bind(&r.failure_reason)
        .bind(r.created_at)
        .bind(r.processed_at)
        .bind(r.imported_at)
        .fetch_one(c)
        .await
    })?;
    Ok(id)
}

/// A customer's imported invoices, newest first.
pub async fn invoices_of(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Vec<ImportedInvoiceRow>, StoreError> {
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM imported_invoices WHERE customer_id = $1 ORDER BY issued_at DESC, id DESC"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, ImportedInvoiceRow>(&sql)
        .bind(customer_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// A customer's imported payments, newest first.
pub async fn payments_of(
    conn: &mut impl AsConn,
    customer_id: i64,
) -> Result<Vec<ImportedPaymentRow>, StoreError> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM imported_payments WHERE customer_id = $1 ORDER BY created_at DESC, id DESC"
    );
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, ImportedPaymentRow>(&sql)
        .bind(customer_id)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}
