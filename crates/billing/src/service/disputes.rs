//! Card disputes (chargebacks). `charge.dispute.created` records the dispute once,
//! tells every admin, and (with `suspend_on_dispute`, the default) suspends the hosting
//! the payment paid for; `charge.dispute.closed` records the outcome, and a won
//! dispute lifts the suspension it caused.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::payments::PaymentContext;
use super::{invoices, Actor, Paginated, ServiceError};
use crate::jobs::{self, Payload};
use crate::payments::stripe;
use crate::store::disputes::DisputeRow;
use crate::store::{self, Db, Page, Tx};

/// Suspensions for a dispute start with this, so a won dispute lifts exactly those.
pub const DISPUTED: &str = "dispute";

/// A dispute as admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dispute {
    /// Dispute id.
    pub id: i64,
    /// Stripe's dispute id.
    pub stripe_dispute_id: String,
    /// The payment disputed.
    pub payment_id: i64,
    /// Its invoice.
    pub invoice_id: i64,
    /// Its invoice number.
    pub invoice_number: String,
    /// The customer.
    pub customer_id: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// The cardholder's reason (`fraudulent`, `product_not_received`, ...).
    pub reason: String,
    /// Stripe's status: `needs_response`, `under_review`, `won`, `lost`, ...
    pub status: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<&DisputeRow> for Dispute {
    fn from(d: &DisputeRow) -> Self {
        Dispute {
            id: d.id,
            stripe_dispute_id: d.stripe_dispute_id.clone(),
            payment_id: d.payment_id,
            invoice_id: d.invoice_id,
            invoice_number: d.invoice_number.clone(),
            customer_id: d.customer_id,
            amount: d.amount_minor,
            currency: d.currency.clone(),
            reason: d.reason.clone(),
            status: d.status.clone(),
            opened_at: d.opened_at,
            closed_at: d.closed_at,
        }
    }
}

/// `charge.dispute.created`.
pub(crate) async fn opened(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    d: &stripe::Dispute,
) -> Result<String, ServiceError> {
    let Some(payment) = store::payments::find_succeeded(tx, "stripe", &d.payment_intent).await?
    else {
        return Ok(format!(
            "ignored: dispute {} of a payment we did not take",
            d.id
        ));
    };
    let invoice = store::invoices::find(tx, payment.invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let row = DisputeRow {
        id: 0,
        stripe_dispute_id: d.id.clone(),
        payment_id: payment.id,
        invoice_id: invoice.id,
        invoice_number: super::invoices::number_of(&invoice),
        customer_id: invoice.customer_id,
        amount_minor: d.amount,
        currency: payment.currency.clone(),
        reason: d.reason.clone(),
        status: d.status.clone(),
        opened_at: store::now(),
        closed_at: None,
    };
    let Some(row) = store::disputes::open(tx, &row).await? else {
        return Ok(format!("dispute {} was recorded before", d.id));
    };
    let number = super::invoices::number_of(&invoice);
    let customer = store::users::find(tx, invoice.customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let suspended = if ctx.settings.collection.suspend_on_dispute {
        super::refunds::stop_service(
            ctx,
            tx,
            &invoice,
            "suspend",
            &format!(
                "{DISPUTED}: the payment of {number} is disputed ({})",
                d.reason
            ),
            &format!("dispute:{}", row.id),
        )
        .await?
    } else {
        0
    };
    super::notifications::queue_to_admins(
        tx,
        &format!("dispute:{}", row.id),
        "dispute_opened",
        json!({
            "number": number,
            "amount": invoices::amount_text(d.amount, &payment.currency),
            "reason": d.reason,
            "customer": customer.email,
            "suspended": suspended,
            "dispute": d.id,
        }),
    )
    .await?;
    audit::record(
        tx,
        &Actor::system_as("stripe"),
        Change::<(), _> {
            action: "payment.disputed",
            entity_type: "invoice",
            entity_id: Some(invoice.id),
            before: None,
            after: Some(
                &json!({"dispute": d.id, "amount": d.amount, "reason": d.reason,
                "customer_id": invoice.customer_id, "accounts_suspended": suspended}),
            ),
        },
    )
    .await?;
    Ok(format!(
        "dispute {} of {number} recorded; {suspended} account(s) suspended",
        d.id
    ))
}

/// `charge.dispute.closed`.
pub(crate) async fn closed(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    d: &stripe::Dispute,
) -> Result<String, ServiceError> {
    let Some(row) = store::disputes::close(tx, &d.id, &d.status, store::now()).await? else {
        return Ok(format!(
            "ignored: dispute {} is unknown or closed already",
            d.id
        ));
    };
    let mut lifted = 0;
    if d.status == "won" {
        let invoice = store::invoices::find(tx, row.invoice_id)
            .await?
            .ok_or(ServiceError::NotFound("invoice"))?;
        if let Some(license) = invoice.license_id {
            for account in store::hosting_accounts::under_license(tx, license).await? {
                let for_dispute = account.state == "suspended"
                    && account
                        .suspend_reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with(DISPUTED));
                if for_dispute {
                    jobs::enqueue(
                        tx,
                        ctx.settings,
                        &Payload::Unsuspend {
                            account_id: account.id,
                        },
                        &format!("unsuspend:{}:dispute-won:{}", account.id, row.id),
                    )
                    .await?;
                    lifted += 1;
                }
            }
        }
    }
    audit::record(
        tx,
        &Actor::system_as("stripe"),
        Change::<(), _> {
            action: "payment.dispute_closed",
            entity_type: "invoice",
            entity_id: Some(row.invoice_id),
            before: None,
            after: Some(
                &json!({"dispute": d.id, "status": d.status, "accounts_unsuspended": lifted}),
            ),
        },
    )
    .await?;
    Ok(format!(
        "dispute {} closed: {}{}",
        d.id,
        d.status,
        if lifted > 0 {
            format!(", {lifted} account(s) unsuspended")
        } else {
            String::new()
        }
    ))
}

/// Disputes, newest first, of one customer or all (admin and staff).
pub async fn list(
    db: &Db,
    actor: &Actor,
    customer_id: Option<i64>,
    page: Page,
) -> Result<Paginated<Dispute>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.read().await?;
    let listed = store::disputes::list(&mut conn, customer_id, page).await?;
    Ok(Paginated::of(page, listed, |r| Dispute::from(&r)))
}

/// The disputes of an invoice.
pub(crate) async fn of_invoice(
    conn: &mut impl store::AsConn,
    invoice_id: i64,
) -> Result<Vec<Dispute>, ServiceError> {
    Ok(store::disputes::for_invoice(conn, invoice_id)
        .await?
        .iter()
        .map(Dispute::from)
        .collect())
}
