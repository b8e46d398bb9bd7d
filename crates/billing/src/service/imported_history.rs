//! The invoices and payments a customer had in the older billing system, kept read-only
//! by `import seed`: admins and staff see anyone's, customers their own.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, ServiceError};
use crate::store::imported_history::{ImportedInvoiceRow, ImportedPaymentRow};
use crate::store::{self, Db};

/// A customer's history from the older system.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedHistory {
    /// Invoices, newest first.
    pub invoices: Vec<ImportedInvoice>,
    /// Payments, newest first.
    pub payments: Vec<ImportedPayment>,
}

/// An invoice of the older system, as it was there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedInvoice {
    /// Id here.
    pub id: i64,
    /// Its number there, unchanged.
    pub number: String,
    /// Its status there (`paid`, `open`, `void`...).
    pub status: String,
    /// ISO-4217 code.
    pub currency: String,
    /// Before tax, minor units.
    pub subtotal: i64,
    /// Tax, minor units.
    pub tax: i64,
    /// Total, minor units.
    pub total: i64,
    /// Paid, minor units.
    pub amount_paid: i64,
    /// Still due there, minor units (not collected here).
    pub amount_due: i64,
    /// Invoice date.
    pub issued_at: Option<DateTime<Utc>>,
    /// Due date.
    pub due_at: Option<DateTime<Utc>>,
    /// When it was paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Its line items as the older system stored them.
    #[schema(value_type = Object)]
    pub items: serde_json::Value,
}

/// A payment of the older system.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedPayment {
    /// Id here.
    pub id: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Its status there (`succeeded`, `failed`, `refunded`...).
    pub status: String,
    /// How it was paid.
    pub method: Option<String>,
    /// The gateway's id of the payment.
    pub reference: Option<String>,
    /// What it was for.
    pub description: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// When it was made.
    pub created_at: Option<DateTime<Utc>>,
}

impl From<ImportedInvoiceRow> for ImportedInvoice {
    fn from(r: ImportedInvoiceRow) -> Self {
        ImportedInvoice {
            id: r.id,
            number: r.number,
            status: r.status,
            currency: r.currency,
            subtotal: r.subtotal_minor,
            tax: r.tax_minor,
            total: r.total_minor,
            amount_paid: r.paid_minor,
            amount_due: r.due_minor,
            issued_at: r.issued_at,
            due_at: r.due_at,
            paid_at: r.paid_at,
            items: serde_json::from_str(&r.items).unwrap_or(serde_json::Value::Null),
        }
    }
}

impl From<ImportedPaymentRow> for ImportedPayment {
    fn from(r: ImportedPaymentRow) -> Self {
        ImportedPayment {
            id: r.id,
            amount: r.amount_minor,
            currency: r.currency,
            status: r.status,
            method: r.method,
            reference: r.reference,
            description: r.description,
            failure_reason: r.failure_reason,
            created_at: r.created_at,
        }
    }
}

async fn of(db: &Db, customer_id: i64) -> Result<ImportedHistory, ServiceError> {
    let mut conn = db.conn().await?;
    super::customers::load(&mut conn, customer_id).await?;
    let invoices = store::imported_history::invoices_of(&mut conn, customer_id).await?;
    let payments = store::imported_history::payments_of(&mut conn, customer_id).await?;
    Ok(ImportedHistory {
        invoices: invoices.into_iter().map(Into::into).collect(),
        payments: payments.into_iter().map(Into::into).collect(),
    })
}

/// A customer's imported history (admin and staff).
pub async fn of_customer(
    db: &Db,
    actor: &Actor,
    customer_id: i64,
) -> Result<ImportedHistory, ServiceError> {
    actor.require_staff()?;
    of(db, customer_id).await
}

/// The caller's own imported history.
pub async fn mine(db: &Db, actor: &Actor) -> Result<ImportedHistory, ServiceError> {
    let id = actor.user_id.ok_or(ServiceError::NotFound("customer"))?;
    of(db, id).await
}
