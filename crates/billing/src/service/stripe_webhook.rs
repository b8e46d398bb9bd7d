//! The verified Stripe webhook: the signature is checked before anything is read, the
//! event id is claimed in the transaction that applies it (a redelivery changes
//! nothing), and what Stripe must be asked first (the card a Checkout saved, whether a
//! card is only authorized) is asked before the claim, so an unreachable Stripe makes
//! Stripe deliver the event again.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::invoices;
use super::payments::{apply_payment, payment_row, record_note, PaymentContext};
use super::{Actor, ServiceError};
use crate::domain::invoice::InvoiceStatus;
use crate::payments::stripe::{self, PaymentEvent, Settlement};
use crate::payments::stripe_client::{PaymentMethod, StripeClient, StripeError};
use crate::store::{self, Tx};

/// What the webhook did with an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// Always true: the event was verified and recorded.
    pub received: bool,
    /// True when this event id was applied before (nothing changed now).
    pub duplicate: bool,
    /// What applying it did.
    pub outcome: String,
}

/// Verifies and applies one Stripe webhook delivery.
pub async fn apply(
    ctx: &PaymentContext<'_>,
    signature: Option<&str>,
    payload: &[u8],
) -> Result<WebhookReceipt, ServiceError> {
    let Some(secret) = &ctx.settings.stripe.webhook_secret else {
        // 503 makes Stripe retry, so no event is lost while the secret is being set up.
        return Err(ServiceError::Unavailable(
            "the Stripe webhook secret is not configured (stripe_webhook_secret)",
        ));
    };
    stripe::verify_signature(signature, payload, secret, store::now().timestamp()).map_err(
        |e| {
            tracing::warn!(error = %e, "Stripe webhook refused");
            ServiceError::BadRequest {
                field: "Stripe-Signature",
                message: e.to_string(),
            }
        },
    )?;
    let event: stripe::Event = serde_json::from_slice(payload)
        .map_err(|e| crate::domain::Invalid::new("body", format!("not a Stripe event: {e}")))?;
    // Read from Stripe before anything is claimed: if Stripe cannot be asked now, the
    // error makes Stripe deliver the event again later, and nothing is lost.
    let card = match stripe::card_source(&event) {
        Some(source) => fetch_card(ctx, &source).await?,
        None => None,
    };
    let interpreted = stripe::interpret(&event);
    let authorized = match &interpreted {
        PaymentEvent::Pending {
            invoice_id,
            payment_intent: Some(pi),
        } => authorization(ctx, *invoice_id, pi).await?,
        _ => None,
    };
    let actor = Actor::system_as("stripe");
    let mut tx = ctx.db.begin().await?;
    if !store::payments::claim_event(&mut tx, &event.id, &event.kind, "applying", store::now())
        .await?
    {
        tx.commit().await?;
        tracing::info!(event = %event.id, kind = %event.kind, "Stripe event seen before; nothing to do");
        return Ok(WebhookReceipt {
            received: true,
            duplicate: true,
            outcome: "this event was applied before".into(),
        });
    }
    let outcome = match interpreted {
        PaymentEvent::Paid(s) => apply_payment(ctx, &mut tx, &actor, "stripe", &s).await?,
        PaymentEvent::Failed(s) => record_failure(&mut tx, &actor, &event.id, &s).await?,
        PaymentEvent::Pending { invoice_id, .. } => match &authorized {
            Some(s) => super::capture::authorize(ctx, &mut tx, s).await?,
            None => format!("invoice id {invoice_id} awaits a delayed payment"),
        },
        PaymentEvent::CardSetup { .. } => "card setup".to_owned(),
        PaymentEvent::Refunded {
            payment_intent,
            refunds,
        } => super::refunds::record_from_stripe(ctx, &mut tx, &payment_intent, &refunds).await?,
        PaymentEvent::DisputeOpened(d) => super::disputes::opened(ctx, &mut tx, &d).await?,
        PaymentEvent::DisputeClosed(d) => super::disputes::closed(ctx, &mut tx, &d).await?,
        PaymentEvent::Ignored(what) => format!("ignored: {what}"),
    };
    let outcome = match card {
        Some((customer_id, pm)) => {
            if super::cards::store_card(&mut tx, &actor, customer_id, &pm).await? {
                format!("{outcome}; card saved for automatic renewals")
            } else {
                format!(
                    "{outcome}; card not saved (not attached to this customer's Stripe account)"
                )
            }
        }
        None => outcome,
    };
    store::payments::set_event_outcome(&mut tx, &event.id, &outcome).await?;
    tx.commit().await?;
    ctx.wake.notify_waiters();
    tracing::info!(event = %event.id, kind = %event.kind, %outcome, "Stripe event applied");
    Ok(WebhookReceipt {
        received: true,
        duplicate: false,
        outcome,
    })
}

/// The authorization a not-yet-paid Checkout made, when the shop captures after
/// provisioning and Stripe holds the card's money (`requires_capture`); asked before
/// anything is claimed, so an unreachable Stripe makes Stripe deliver the event again.
pub(crate) async fn authorization(
    ctx: &PaymentContext<'_>,
    invoice_id: i64,
    payment_intent: &str,
) -> Result<Option<Settlement>, ServiceError> {
    if !ctx.settings.collection.capture_after_provisioning {
        return Ok(None);
    }
    let Ok(client) = super::cards::stripe(ctx.settings) else {
        return Ok(None);
    };
    let pi = client
        .payment_intent(payment_intent)
        .await
        .map_err(super::cards::provider)?;
    Ok((pi.status == "requires_capture").then_some(Settlement {
        invoice_id,
        reference: pi.id,
        amount: pi.amount,
        currency: pi.currency,
        message: None,
    }))
}

/// The card a completed Checkout used, with the customer of ours it belongs to; `None`
/// when payments are not configured here, the Stripe Customer is not one of ours, or
/// Stripe does not know the objects (the payment is applied all the same).
pub(crate) async fn fetch_card(
    ctx: &PaymentContext<'_>,
    source: &stripe::CardSource,
) -> Result<Option<(i64, PaymentMethod)>, ServiceError> {
    let Ok(client) = super::cards::stripe(ctx.settings) else {
        return Ok(None);
    };
    let mut conn = ctx.db.conn().await?;
    let Some(customer_id) =
        store::autopay::customer_of(&mut conn, source.stripe_customer()).await?
    else {
        tracing::warn!("a Checkout of a Stripe customer that is not ours; no card saved");
        return Ok(None);
    };
    drop(conn);
    match read_card(&client, source).await {
        Ok(card) => Ok(card.map(|pm| (customer_id, pm))),
        // Unknown outcome: answer an error so that Stripe delivers the event again.
        Err(e @ StripeError::Unreachable(_)) => Err(super::cards::provider(e)),
        // Stripe says no: retrying cannot help, and the payment must still be applied;
        // the customer can save a card from the portal.
        Err(e) => {
            tracing::warn!(error = %e, "the card of a completed Checkout could not be read; not saved");
            Ok(None)
        }
    }
}

/// The PaymentMethod behind a PaymentIntent or SetupIntent.
async fn read_card(
    client: &StripeClient,
    source: &stripe::CardSource,
) -> Result<Option<PaymentMethod>, StripeError> {
    let payment_method = match source {
        stripe::CardSource::Payment { payment_intent, .. } => {
            client.payment_intent(payment_intent).await?.payment_method
        }
        stripe::CardSource::Setup { setup_intent, .. } => {
            client.setup_intent(setup_intent).await?.payment_method
        }
    };
    match payment_method {
        Some(id) => Ok(Some(client.payment_method(&id).await?)),
        None => Ok(None),
    }
}

/// Records a failed payment attempt and tells the customer.
async fn record_failure(
    tx: &mut Tx,
    actor: &Actor,
    event_id: &str,
    s: &Settlement,
) -> Result<String, ServiceError> {
    let Some(row) = store::invoices::find(tx, s.invoice_id).await? else {
        return Ok(format!("ignored: no invoice with id {}", s.invoice_id));
    };
    let number = super::invoices::number_of(&row);
    let reason = s
        .message
        .clone()
        .unwrap_or_else(|| "the payment was declined".into());
    store::payments::insert(
        tx,
        &payment_row(row.id, "stripe", s, "failed", Some(reason.clone()), false),
    )
    .await?;
    if row.status == InvoiceStatus::Open.as_str() {
        invoices::queue_message(
            tx,
            &row,
            "payment_failed",
            event_id,
            json!({ "reason": reason }),
        )
        .await?;
    }
    record_note(tx, actor, row.id, "payment.failed", &reason).await?;
    Ok(format!("payment for {number} failed: {reason}"))
}
