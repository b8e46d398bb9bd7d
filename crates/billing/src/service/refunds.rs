//! Refunds and their credit notes. An admin refunds a payment in full or in part with a
//! reason; a card payment goes back through Stripe, a manual one is recorded as given
//! back by hand. Each refund is recorded once (its idempotency key and Stripe's refund
//! id are unique), documented by a credit note with its own gapless number
//! (`CN-{year}-{seq:06}`), shown to the customer, and may suspend or terminate the
//! service it paid for. Refunds made in the Stripe dashboard arrive as
//! `charge.refunded` and are recorded the same way, once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::payments::PaymentContext;
use super::{cards, invoices, Actor, Paginated, ServiceError};
use crate::domain::{text, Invalid};
use crate::jobs::{self, Payload};
use crate::payments::stripe::StripeRefund;
use crate::payments::stripe_client::{RefundRequest, StripeError};
use crate::store::invoices::InvoiceRow;
use crate::store::refunds::{CreditNoteRow, RefundRow};
use crate::store::{self, Db, Page, StoreError, Tx};

/// A refund still pending this long was not answered by Stripe: the sweep asks again.
const PENDING_RETRY_SECS: i64 = 120;

/// What happens to the service a refunded payment paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    /// Leave it running.
    #[default]
    None,
    /// Suspend its hosting accounts.
    Suspend,
    /// Terminate its hosting accounts.
    Terminate,
}

impl ServiceAction {
    fn as_str(self) -> &'static str {
        match self {
            ServiceAction::None => "none",
            ServiceAction::Suspend => "suspend",
            ServiceAction::Terminate => "terminate",
        }
    }
}

/// Body of `POST /api/v1/payments/{id}/refund`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefund {
    /// Minor units; default: all that is not refunded yet.
    pub amount: Option<i64>,
    /// If sent, must be the payment's currency.
    pub currency: Option<String>,
    /// Why, 1 to 500 characters (on the credit note and in the audit log).
    pub reason: String,
    /// `none` (default), `suspend` or `terminate` the hosting the payment paid for.
    #[serde(default)]
    pub service_action: ServiceAction,
}

/// A refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refund {
    /// Refund id.
    pub id: i64,
    /// The payment refunded.
    pub payment_id: i64,
    /// Its invoice.
    pub invoice_id: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// The amount for people, e.g. `4.99 USD`.
    pub amount_display: String,
    /// Why.
    pub reason: String,
    /// `stripe` or `manual`.
    pub provider: String,
    /// Stripe's refund id.
    pub reference: Option<String>,
    /// `pending` (Stripe has not answered yet), `succeeded` or `failed`.
    pub state: String,
    /// Why it failed.
    pub message: Option<String>,
    /// What happened to the service.
    pub service_action: String,
    /// Who asked for it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The credit note documenting it, once it succeeded.
    pub credit_note: Option<CreditNote>,
}

/// A credit note: the document of a refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditNote {
    /// Credit note id.
    pub id: i64,
    /// `CN-2026-000001`.
    pub number: String,
    /// The customer credited.
    pub customer_id: i64,
    /// The invoice it corrects.
    pub invoice_id: i64,
    /// Its invoice number.
    pub invoice_number: String,
    /// The refund it documents.
    pub refund_id: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// The amount for people.
    pub amount_display: String,
    /// Why.
    pub reason: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
}

impl From<&CreditNoteRow> for CreditNote {
    fn from(n: &CreditNoteRow) -> Self {
        CreditNote {
            id: n.id,
            number: n.number.clone(),
            customer_id: n.customer_id,
            invoice_id: n.invoice_id,
            invoice_number: n.invoice_number.clone(),
            refund_id: n.refund_id,
            amount: n.amount_minor,
            currency: n.currency.clone(),
            amount_display: invoices::amount_text(n.amount_minor, &n.currency),
            reason: n.reason.clone(),
            created_at: n.created_at,
        }
    }
}

fn view(r: &RefundRow, note: Option<&CreditNoteRow>) -> Refund {
    Refund {
        id: r.id,
        payment_id: r.payment_id,
        invoice_id: r.invoice_id,
        amount: r.amount_minor,
        currency: r.currency.clone(),
        amount_display: invoices::amount_text(r.amount_minor, &r.currency),
        reason: r.reason.clone(),
        provider: r.provider.clone(),
        reference: r.provider_ref.clone(),
        state: r.state.clone(),
        message: r.message.clone(),
        service_action: r.service_action.clone(),
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        credit_note: note.map(CreditNote::from),
    }
}

/// Refunds a payment (admins). `idempotency_key`: the client's `Idempotency-Key`; a
/// second refund under one key is refused, so a retried request cannot refund twice.
pub async fn refund(
    ctx: &PaymentContext<'_>,
    actor: &Actor,
    payment_id: i64,
    idempotency_key: Option<&str>,
    body: NewRefund,
) -> Result<Refund, ServiceError> {
    actor.require_admin()?;
    let reason = text::bounded("reason", &body.reason, 1, 500)?;
    let key = match idempotency_key {
        Some(k) => format!(
            "nextpanel-bill-refund-{}",
            text::bounded("Idempotency-Key", k, 1, 200)?
        ),
        None => format!(
            "nextpanel-bill-refund-{payment_id}-{}",
            hex::encode(super::random_bytes::<8>()?)
        ),
    };
    let pending = start(ctx, actor, payment_id, &key, &reason, &body).await?;
    if pending.provider == "manual" {
        complete(ctx, &pending, None).await?;
        return load(ctx.db, pending.id).await;
    }
    ask_stripe(ctx, &pending).await?;
    load(ctx.db, pending.id).await
}

/// Checks the request against the payment and what was refunded of it, and records the
/// refund (pending) under its key.
async fn start(
    ctx: &PaymentContext<'_>,
    actor: &Actor,
    payment_id: i64,
    key: &str,
    reason: &str,
    body: &NewRefund,
) -> Result<RefundRow, ServiceError> {
    let mut conn = ctx.db.conn().await?;
    let payment = store::payments::find(&mut conn, payment_id)
        .await?
        .ok_or(ServiceError::NotFound("payment"))?;
    drop(conn);
    let mut tx = ctx.db.begin().await?;
    // The invoice's lock serialises refunds of its payments, so two at once cannot both
    // fit under what was paid.
    store::invoices::lock(&mut tx, payment.invoice_id).await?;
    if let Some(earlier) = store::refunds::find_by_key(&mut tx, key).await? {
        return Err(ServiceError::Conflict {
            field: Some("Idempotency-Key".into()),
            message: format!(
                "refund {} was already made with this Idempotency-Key ({})",
                earlier.id, earlier.state
            ),
        });
    }
    if payment.status != "succeeded" {
        return Err(ServiceError::Conflict {
            field: Some("payment".into()),
            message: "this payment did not succeed: there is nothing to refund".into(),
        });
    }
    let refunded = store::refunds::refunded_of(&mut tx, payment_id).await?;
    let left = payment.amount_minor - refunded;
    if left <= 0 {
        return Err(ServiceError::Conflict {
            field: Some("payment".into()),
            message: "this payment is refunded in full already".into(),
        });
    }
    if let Some(currency) = &body.currency {
        if !currency.eq_ignore_ascii_case(&payment.currency) {
            return Err(Invalid::new(
                "currency",
                format!("must be {}, the currency of the payment", payment.currency),
            )
            .into());
        }
    }
    let amount = body.amount.unwrap_or(left);
    if amount <= 0 {
        return Err(Invalid::new("amount", "must be more than 0 (minor units)").into());
    }
    if amount > left {
        return Err(Invalid::new(
            "amount",
            format!(
                "must be at most {} ({} of the {} paid is refunded already)",
                invoices::amount_text(left, &payment.currency),
                invoices::amount_text(refunded, &payment.currency),
                invoices::amount_text(payment.amount_minor, &payment.currency)
            ),
        )
        .into());
    }
    if payment.provider == "stripe" {
        // Without the key we could not refund the card; say so before recording anything.
        cards::stripe(ctx.settings)?;
    }
    let row = RefundRow {
        id: 0,
        payment_id,
        invoice_id: payment.invoice_id,
        amount_minor: amount,
        currency: payment.currency.clone(),
        reason: reason.to_owned(),
        provider: payment.provider.clone(),
        provider_ref: None,
        idempotency_key: key.to_owned(),
        state: "pending".into(),
        message: None,
        service_action: body.service_action.as_str().into(),
        created_by: actor.label.clone(),
        created_at: store::now(),
        finished_at: None,
    };
    let row = match store::refunds::insert(&mut tx, &row).await {
        Ok(row) => row,
        Err(StoreError::Duplicate { .. }) => {
            return Err(ServiceError::Conflict {
                field: Some("Idempotency-Key".into()),
                message: "a refund was already made with this Idempotency-Key".into(),
            })
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "refund.requested",
            entity_type: "invoice",
            entity_id: Some(payment.invoice_id),
            before: None,
            after: Some(
                &json!({"refund_id": row.id, "payment_id": payment_id, "amount": amount,
                "currency": row.currency, "reason": reason, "service_action": row.service_action}),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Sends a pending refund to Stripe (again, under its key) and records the answer.
async fn ask_stripe(ctx: &PaymentContext<'_>, pending: &RefundRow) -> Result<(), ServiceError> {
    let client = cards::stripe(ctx.settings)?;
    let mut conn = ctx.db.conn().await?;
    let payment = store::payments::find(&mut conn, pending.payment_id)
        .await?
        .ok_or(ServiceError::NotFound("payment"))?;
    drop(conn);
    let answer = client
        .refund(&RefundRequest {
            payment_intent: payment.provider_ref.clone(),
            amount: pending.amount_minor,
            refund_id: pending.id,
            reason: pending.reason.clone(),
            idempotency_key: pending.idempotency_key.clone(),
        })
        .await;
    match answer {
        Ok(refund) if refund.status.as_deref() == Some("failed") => {
            fail(ctx, pending, "Stripe could not send the money back").await
        }
        Ok(refund) => complete(ctx, pending, Some(&refund.id)).await,
        Err(e @ StripeError::Unreachable(_)) => Err(ServiceError::PaymentProvider(format!(
            "{e}; the refund stays pending and is asked for again, under the same key, by the payment sweep"
        ))),
        Err(e) => {
            fail(ctx, pending, &e.to_string()).await?;
            Err(cards::provider(e))
        }
    }
}

async fn fail(
    ctx: &PaymentContext<'_>,
    pending: &RefundRow,
    why: &str,
) -> Result<(), ServiceError> {
    let mut tx = ctx.db.begin().await?;
    store::refunds::finish(&mut tx, pending.id, "failed", None, Some(why), store::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a pending refund as made: the credit note, the customer's email, the
/// service action. Nothing happens twice: only a pending refund completes.
async fn complete(
    ctx: &PaymentContext<'_>,
    pending: &RefundRow,
    stripe_ref: Option<&str>,
) -> Result<(), ServiceError> {
    let mut tx = ctx.db.begin().await?;
    store::invoices::lock(&mut tx, pending.invoice_id).await?;
    if !store::refunds::finish(
        &mut tx,
        pending.id,
        "succeeded",
        stripe_ref,
        None,
        store::now(),
    )
    .await?
    {
        return Ok(());
    }
    let actor = Actor::system_as(pending.created_by.clone());
    document(ctx, &mut tx, &actor, pending).await?;
    tx.commit().await?;
    ctx.wake.notify_waiters();
    Ok(())
}

/// The credit note, the email and the service action of a refund that went through.
async fn document(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    actor: &Actor,
    refund: &RefundRow,
) -> Result<CreditNoteRow, ServiceError> {
    let invoice = store::invoices::find(tx, refund.invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let now = store::now();
    let format = &ctx.settings.invoicing.credit_note_numbers;
    let seq = store::refunds::next_in_sequence(tx, "credit_note", format.counter_year(now)).await?;
    let note = store::refunds::insert_credit_note(
        tx,
        &CreditNoteRow {
            id: 0,
            number: format.render(seq, now),
            invoice_number: super::invoices::number_of(&invoice),
            customer_id: invoice.customer_id,
            invoice_id: invoice.id,
            refund_id: refund.id,
            amount_minor: refund.amount_minor,
            currency: refund.currency.clone(),
            reason: refund.reason.clone(),
            created_at: now,
        },
    )
    .await?;
    invoices::queue_message(
        tx,
        &invoice,
        "refund_issued",
        &format!("refund:{}", refund.id),
        json!({
            "refund_amount": invoices::amount_text(refund.amount_minor, &refund.currency),
            "credit_note": note.number,
            "reason": refund.reason,
        }),
    )
    .await?;
    let action = match refund.service_action.as_str() {
        "suspend" => Some("suspend"),
        "terminate" => Some("terminate"),
        _ => None,
    };
    let mut queued = 0;
    if let Some(action) = action {
        queued = stop_service(
            ctx,
            tx,
            &invoice,
            action,
            &format!("refunded: {}", refund.reason),
            &format!("refund:{}", refund.id),
        )
        .await?;
    }
    audit::record(
        tx,
        actor,
        Change::<(), _> {
            action: "refund.made",
            entity_type: "invoice",
            entity_id: Some(invoice.id),
            before: None,
            after: Some(
                &json!({"refund_id": refund.id, "amount": refund.amount_minor,
                "currency": refund.currency, "credit_note": note.number,
                "reference": refund.provider_ref, "accounts": queued}),
            ),
        },
    )
    .await?;
    Ok(note)
}

/// Queues suspension (or termination) of the live hosting accounts an invoice paid for;
/// returns how many.
pub(crate) async fn stop_service(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    invoice: &InvoiceRow,
    action: &str,
    reason: &str,
    cause: &str,
) -> Result<i64, ServiceError> {
    let accounts = match (invoice.license_id, invoice.hosting_account_id) {
        (Some(license), _) => store::hosting_accounts::under_license(tx, license).await?,
        (None, Some(account)) => store::hosting_accounts::find(tx, account)
            .await?
            .into_iter()
            .collect(),
        (None, None) => Vec::new(),
    };
    let mut queued = 0;
    for account in accounts {
        let live = matches!(
            account.state.as_str(),
            "active" | "suspended" | "pending" | "provisioning"
        );
        if !live || (action == "suspend" && account.state != "active") {
            continue;
        }
        let payload = if action == "terminate" {
            Payload::Terminate {
                account_id: account.id,
            }
        } else {
            Payload::Suspend {
                account_id: account.id,
                reason: reason.to_owned(),
            }
        };
        let key = format!("{action}:{}:{cause}", account.id);
        jobs::enqueue(tx, ctx.settings, &payload, &key).await?;
        queued += 1;
    }
    Ok(queued)
}

/// Records refunds Stripe reports for a payment (`charge.refunded`): ours complete if
/// still pending; ones made in the dashboard are recorded with their credit note, once.
pub(crate) async fn record_from_stripe(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    payment_intent: &str,
    refunds: &[StripeRefund],
) -> Result<String, ServiceError> {
    let Some(payment) = store::payments::find_succeeded(tx, "stripe", payment_intent).await? else {
        return Ok(format!("ignored: no payment of ours is {payment_intent}"));
    };
    let actor = Actor::system_as("stripe");
    let mut recorded = 0;
    for r in refunds {
        if store::refunds::ref_recorded(tx, &r.id).await? {
            continue;
        }
        if let Some(ours) = r.ours {
            if let Some(pending) = store::refunds::find(tx, ours).await? {
                if pending.payment_id == payment.id
                    && store::refunds::finish(
                        tx,
                        ours,
                        "succeeded",
                        Some(&r.id),
                        None,
                        store::now(),
                    )
                    .await?
                {
                    let actor = Actor::system_as(pending.created_by.clone());
                    document(ctx, tx, &actor, &pending).await?;
                    recorded += 1;
                }
                continue;
            }
        }
        if !r.currency.eq_ignore_ascii_case(&payment.currency) {
            tracing::error!(refund = %r.id, "a Stripe refund in another currency than its payment; not recorded");
            continue;
        }
        let row = store::refunds::insert(
            tx,
            &RefundRow {
                id: 0,
                payment_id: payment.id,
                invoice_id: payment.invoice_id,
                amount_minor: r.amount,
                currency: payment.currency.clone(),
                reason: "refunded in the Stripe dashboard".into(),
                provider: "stripe".into(),
                provider_ref: Some(r.id.clone()),
                idempotency_key: format!("stripe-{}", r.id),
                state: "succeeded".into(),
                message: None,
                service_action: "none".into(),
                created_by: "stripe".into(),
                created_at: store::now(),
                finished_at: Some(store::now()),
            },
        )
        .await?;
        document(ctx, tx, &actor, &row).await?;
        recorded += 1;
    }
    Ok(format!("{recorded} refund(s) of {payment_intent} recorded"))
}

/// Up to 200 refunds of `provider` pending for more than `secs`, oldest first.
async fn stale_of(
    ctx: &PaymentContext<'_>,
    now: DateTime<Utc>,
    secs: i64,
    provider: &str,
) -> Result<Vec<RefundRow>, ServiceError> {
    let mut conn = ctx.db.conn().await?;
    let stale =
        store::refunds::stale_pending(&mut conn, now - chrono::Duration::seconds(secs), 200)
            .await?;
    Ok(stale
        .into_iter()
        .filter(|r| r.provider == provider)
        .collect())
}

/// A manual refund pending this long was cut off between its two transactions (the
/// process died): there is no outside party to ask, so it is completed.
const MANUAL_PENDING_SECS: i64 = 10;

/// Completes manual refunds left pending by a crash (they were recorded, the money is
/// given back by hand): each gets its credit note once, as if the request had finished.
pub(crate) async fn settle_manual(
    ctx: &PaymentContext<'_>,
    now: DateTime<Utc>,
) -> Result<i64, ServiceError> {
    let mut settled = 0;
    for pending in &stale_of(ctx, now, MANUAL_PENDING_SECS, "manual").await? {
        complete(ctx, pending, None).await?;
        tracing::info!(
            refund = pending.id,
            "a manual refund left pending by a crash was completed"
        );
        settled += 1;
    }
    Ok(settled)
}

/// Asks Stripe again about refunds it did not answer (the payment sweep, which runs
/// only with Stripe configured).
pub(crate) async fn retry_pending(
    ctx: &PaymentContext<'_>,
    now: DateTime<Utc>,
) -> Result<i64, ServiceError> {
    let mut settled = 0;
    for pending in &stale_of(ctx, now, PENDING_RETRY_SECS, "stripe").await? {
        match ask_stripe(ctx, pending).await {
            Ok(()) => settled += 1,
            Err(e) => tracing::warn!(refund = pending.id, error = %e, "refund still not answered"),
        }
    }
    Ok(settled)
}

async fn load(db: &Db, id: i64) -> Result<Refund, ServiceError> {
    let mut conn = db.conn().await?;
    let row = store::refunds::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("refund"))?;
    let note = store::refunds::credit_note_of(&mut conn, id).await?;
    Ok(view(&row, note.as_ref()))
}

/// The refunds of an invoice with their credit notes.
pub(crate) async fn of_invoice(
    conn: &mut impl store::AsConn,
    invoice_id: i64,
) -> Result<Vec<Refund>, ServiceError> {
    let mut out = Vec::new();
    for row in store::refunds::for_invoice(conn, invoice_id).await? {
        let note = store::refunds::credit_note_of(conn, row.id).await?;
        out.push(view(&row, note.as_ref()));
    }
    Ok(out)
}

/// Credit notes, newest first: a customer's (admin and staff may name one, or see all).
pub async fn credit_notes(
    db: &Db,
    actor: &Actor,
    customer_id: Option<i64>,
    page: Page,
) -> Result<Paginated<CreditNote>, ServiceError> {
    actor.require_staff()?;
    notes_page(db.read().await?, customer_id, page).await
}

/// The caller's own credit notes.
pub async fn my_credit_notes(
    db: &Db,
    actor: &Actor,
    page: Page,
) -> Result<Paginated<CreditNote>, ServiceError> {
    let me = actor.user_id.ok_or(ServiceError::NotFound("customer"))?;
    // A customer's own list stays on the primary: they look right after a refund.
    notes_page(db.conn().await?, Some(me), page).await
}

async fn notes_page(
    mut conn: store::Conn,
    customer_id: Option<i64>,
    page: Page,
) -> Result<Paginated<CreditNote>, ServiceError> {
    let listed = store::refunds::credit_notes(&mut conn, customer_id, page).await?;
    Ok(Paginated::of(page, listed, |r| CreditNote::from(&r)))
}
