//! Charging for hosting only once it exists (`capture = "after_provisioning"`): an
//! order's Checkout authorizes the card; the authorization fulfils the order (license,
//! hosting account, provision job) while the invoice stays open; once the account is
//! active a job captures the payment, which pays the invoice through the usual path;
//! if provisioning gives up, a job releases the authorization, voids the invoice and
//! tells the customer that nothing was charged.

use serde_json::json;

use super::audit::{self, Change};
use super::payments::{self, PaymentContext};
use super::{cards, invoices, Actor, ServiceError};
use crate::config::Settings;
use crate::domain::invoice::{self as invoice_rules, InvoiceStatus};
use crate::jobs::{self, Payload};
use crate::payments::stripe::Settlement;
use crate::payments::stripe_client::{StripeClient, StripeError};
use crate::store::authorizations::AuthorizationRow;
use crate::store::{self, Tx};

/// Records a card authorization for an open order and fulfils the order (in the
/// webhook's transaction); the money is captured once the hosting account is active.
pub(crate) async fn authorize(
    ctx: &PaymentContext<'_>,
    tx: &mut Tx,
    s: &Settlement,
) -> Result<String, ServiceError> {
    store::invoices::lock(tx, s.invoice_id).await?;
    let Some(row) = store::invoices::find(tx, s.invoice_id).await? else {
        return Ok(format!(
            "not applied: no invoice with id {}; release {} in Stripe",
            s.invoice_id, s.reference
        ));
    };
    let number = invoices::number_of(&row);
    let problem = if row.status != InvoiceStatus::Open.as_str() {
        Some(format!("{number} is {} already", row.status))
    } else {
        invoice_rules::check_amount(row.total_minor, &row.currency, s.amount, &s.currency).err()
    };
    let state = if problem.is_some() {
        "failed"
    } else {
        "authorized"
    };
    let recorded = store::authorizations::insert(
        tx,
        &AuthorizationRow {
            invoice_id: row.id,
            payment_intent_id: s.reference.clone(),
            amount_minor: s.amount,
            currency: s.currency.to_ascii_uppercase(),
            state: state.into(),
            message: problem.clone(),
            created_at: store::now(),
            finished_at: None,
        },
    )
    .await?;
    if !recorded {
        return Ok(format!("the authorization of {number} was recorded before"));
    }
    if let Some(problem) = problem {
        tracing::error!(invoice = row.id, %problem, "card authorization not applied; release it in Stripe");
        return Ok(format!(
            "authorization not applied: {problem}; release {} in Stripe",
            s.reference
        ));
    }
    let actor = Actor::system_as("stripe");
    let fulfilled = payments::fulfil_order(ctx, tx, &actor, &row).await?;
    audit::record(
        tx,
        &actor,
        Change::<(), _> {
            action: "invoice.authorized",
            entity_type: "invoice",
            entity_id: Some(row.id),
            before: None,
            after: Some(
                &json!({"reference": s.reference, "amount": s.amount, "result": fulfilled}),
            ),
        },
    )
    .await?;
    Ok(format!(
        "{number} authorized: {fulfilled}; captured once the hosting account is active"
    ))
}

/// Whether an invoice's card authorization is still waiting (it cannot be paid or
/// voided meanwhile).
pub(crate) async fn pending_for(
    conn: &mut impl store::AsConn,
    invoice_id: i64,
) -> Result<bool, ServiceError> {
    Ok(store::authorizations::of_invoice(conn, invoice_id)
        .await?
        .is_some_and(|a| a.state == "authorized"))
}

/// The account is active: queue the capture of the authorization that paid for it.
pub(crate) async fn on_account_active(
    tx: &mut Tx,
    settings: &Settings,
    account_id: i64,
) -> Result<(), ServiceError> {
    settle_later(
        tx,
        settings,
        Payload::CapturePayment { account_id },
        "capture",
    )
    .await
}

/// The account could not be created: queue the release of the authorization.
pub(crate) async fn on_account_failed(
    tx: &mut Tx,
    settings: &Settings,
    account_id: i64,
) -> Result<(), ServiceError> {
    settle_later(
        tx,
        settings,
        Payload::ReleasePayment { account_id },
        "release",
    )
    .await
}

/// Queues `job` (a capture or a release, once per invoice) when an authorization waits
/// for its account.
async fn settle_later(
    tx: &mut Tx,
    settings: &Settings,
    job: Payload,
    what: &str,
) -> Result<(), ServiceError> {
    if let Some(a) = store::authorizations::waiting_for_account(tx, job.account_id()).await? {
        jobs::enqueue(tx, settings, &job, &format!("{what}:{}", a.invoice_id)).await?;
    }
    Ok(())
}

/// The authorization still waiting for `account_id`, with the Stripe client to settle it.
async fn waiting(
    ctx: &PaymentContext<'_>,
    account_id: i64,
) -> Result<Option<(AuthorizationRow, StripeClient)>, ServiceError> {
    let mut conn = ctx.db.conn().await?;
    let Some(auth) = store::authorizations::waiting_for_account(&mut conn, account_id).await?
    else {
        return Ok(None);
    };
    Ok(Some((auth, cards::stripe(ctx.settings)?)))
}

/// Captures the authorization that paid for `account_id` and pays its invoice. An
/// error means "try again" (Stripe unreachable); a refusal is recorded and told to
/// admins, and is final.
pub async fn capture(ctx: &PaymentContext<'_>, account_id: i64) -> Result<String, ServiceError> {
    let Some((auth, client)) = waiting(ctx, account_id).await? else {
        return Ok("nothing to capture".into());
    };
    let key = format!("nextpanel-bill-capture-{}", auth.invoice_id);
    match client.capture(&auth.payment_intent_id, &key).await {
        Ok(pi) => {
            let mut tx = ctx.db.begin().await?;
            if !store::authorizations::finish(
                &mut tx,
                auth.invoice_id,
                "captured",
                None,
                store::now(),
            )
            .await?
            {
                return Ok("captured before".into());
            }
            let settlement = Settlement {
                invoice_id: auth.invoice_id,
                reference: pi.id.clone(),
                amount: pi.amount,
                currency: pi.currency.clone(),
                message: None,
            };
            let outcome = payments::apply_payment(
                ctx,
                &mut tx,
                &Actor::system_as("stripe"),
                "stripe",
                &settlement,
            )
            .await?;
            tx.commit().await?;
            Ok(outcome)
        }
        Err(e @ StripeError::Unreachable(_)) => Err(cards::provider(e)),
        Err(e) => {
            let why = format!("the capture was refused: {e}");
            let mut tx = ctx.db.begin().await?;
            let number = invoices::number_by_id(ctx.db, auth.invoice_id)
                .await
                .unwrap_or_else(|| format!("invoice id {}", auth.invoice_id));
            store::authorizations::finish(
                &mut tx,
                auth.invoice_id,
                "failed",
                Some(&why),
                store::now(),
            )
            .await?;
            super::notifications::queue_to_admins(
                &mut tx,
                &format!("capture_failed:{}", auth.invoice_id),
                "provisioning_failed",
                json!({"username": "", "reason": format!("{number}: {why}; the hosting runs unpaid")}),
            )
            .await?;
            tx.commit().await?;
            Ok(why)
        }
    }
}

/// Releases the authorization that was to pay for `account_id` (its creation failed for
/// good): nothing is charged, the invoice is void and the customer is told.
pub async fn release(ctx: &PaymentContext<'_>, account_id: i64) -> Result<String, ServiceError> {
    let Some((auth, client)) = waiting(ctx, account_id).await? else {
        return Ok("nothing to release".into());
    };
    let key = format!("nextpanel-bill-release-{}", auth.invoice_id);
    match client.cancel(&auth.payment_intent_id, &key).await {
        Ok(_) => {}
        Err(e @ StripeError::Unreachable(_)) => return Err(cards::provider(e)),
        // Already released or expired at Stripe: nothing is held either way.
        Err(e) => {
            tracing::warn!(invoice = auth.invoice_id, error = %e, "Stripe refused the release")
        }
    }
    let mut tx = ctx.db.begin().await?;
    if !store::authorizations::finish(&mut tx, auth.invoice_id, "released", None, store::now())
        .await?
    {
        return Ok("released before".into());
    }
    let row = store::invoices::find(&mut tx, auth.invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let reason = "the hosting account could not be created; the card authorization was released and nothing was charged";
    invoices::void_in(&mut tx, &Actor::system(), &row, reason).await?;
    invoices::queue_message(
        &mut tx,
        &row,
        "payment_failed",
        &format!("released:{}", row.id),
        json!({ "reason": "we could not set up your hosting, so the payment was cancelled and nothing was charged" }),
    )
    .await?;
    tx.commit().await?;
    Ok(format!(
        "authorization of {} released",
        invoices::number_of(&row)
    ))
}
