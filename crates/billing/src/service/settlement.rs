//! Payments confirmed without webhooks. A webhook can be lost (a misconfigured endpoint,
//! a firewall, an expired secret), so the Checkout return page asks Stripe about the
//! invoice's session itself, and a periodic sweep (leased, so one instance runs it) asks
//! about every recent open session and every unsettled automatic charge. Whatever
//! Stripe already decided is applied through the same idempotent path as the webhook;
//! the webhook that comes later changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::payments::{self, PaymentContext};
use super::{cards, Actor, ServiceError};
use crate::domain::invoice::InvoiceStatus;
use crate::payments::stripe::{CardSource, Settlement};
use crate::store::{self, Db};

/// Checkout Sessions live a day at Stripe; older ones cannot be paid any more.
const SESSION_HOURS: i64 = 24;
/// The return page asks Stripe about one invoice at most this often (it is public).
const ASK_EVERY_SECS: i64 = 10;
/// Invoices one sweep looks at; the next sweep continues.
const BATCH: i64 = 200;

/// What asking Stripe about an invoice's Checkout Session found.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Stripe says it is paid; this is what applying it did.
    Paid(String),
    /// Not paid (yet), or asked too recently.
    NotYet,
    /// Nothing to ask: no card payments here, no session, or the invoice is not open.
    NothingToAsk,
}

/// What one sweep did.
#[derive(Debug, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct SweepReport {
    /// Open Checkout Sessions asked about.
    pub sessions_checked: i64,
    /// Invoices found paid at Stripe and settled here.
    pub settled: i64,
    /// Automatic charges whose outcome was recorded.
    pub charges: super::autopay::CollectReport,
    /// Refunds Stripe had not answered that are now recorded.
    pub refunds: i64,
}

/// Asks Stripe whether the invoice's Checkout Session is paid and, if it is, applies the
/// payment (and saves the card) as the webhook would. `throttled`: at most one question
/// per invoice every 10 s (the public return page).
pub async fn confirm_checkout(
    ctx: &PaymentContext<'_>,
    invoice_id: i64,
    throttled: bool,
) -> Result<Confirmation, ServiceError> {
    let Ok(client) = cards::stripe(ctx.settings) else {
        return Ok(Confirmation::NothingToAsk);
    };
    let now = store::now();
    let mut conn = ctx.db.conn().await?;
    let Some(row) = store::invoices::find(&mut conn, invoice_id).await? else {
        return Ok(Confirmation::NothingToAsk);
    };
    let (Some(session_id), Some(created)) = (&row.checkout_session_id, row.checkout_created_at)
    else {
        return Ok(Confirmation::NothingToAsk);
    };
    if row.status != InvoiceStatus::Open.as_str()
        || now - created > chrono::Duration::hours(SESSION_HOURS)
    {
        return Ok(Confirmation::NothingToAsk);
    }
    if throttled
        && !store::invoices::claim_checkout_check(
            &mut conn,
            invoice_id,
            now,
            now - chrono::Duration::seconds(ASK_EVERY_SECS),
        )
        .await?
    {
        return Ok(Confirmation::NotYet);
    }
    drop(conn);
    let session = client
        .checkout_session(session_id)
        .await
        .map_err(cards::provider)?;
    if session.payment_status.as_deref() != Some("paid") {
        // A card only authorized (capture after provisioning) fulfils the order now.
        let authorized = match &session.payment_intent {
            Some(pi) => super::stripe_webhook::authorization(ctx, invoice_id, pi).await?,
            None => None,
        };
        let Some(authorized) = authorized else {
            return Ok(Confirmation::NotYet);
        };
        let mut tx = ctx.db.begin().await?;
        let outcome = super::capture::authorize(ctx, &mut tx, &authorized).await?;
        tx.commit().await?;
        ctx.wake.notify_waiters();
        return Ok(Confirmation::Paid(outcome));
    }
    let card = match (&session.customer, &session.payment_intent) {
        (Some(customer), Some(pi)) => {
            let source = CardSource::Payment {
                stripe_customer: customer.clone(),
                payment_intent: pi.clone(),
            };
            super::stripe_webhook::fetch_card(ctx, &source).await?
        }
        _ => None,
    };
    let settlement = Settlement {
        invoice_id,
        reference: session.payment_intent.clone().unwrap_or(session.id.clone()),
        amount: session.amount_total.unwrap_or(0),
        currency: session.currency.clone().unwrap_or_default(),
        message: None,
    };
    let actor = Actor::system_as("stripe");
    let mut tx = ctx.db.begin().await?;
    let outcome = payments::apply_payment(ctx, &mut tx, &actor, "stripe", &settlement).await?;
    if let Some((customer_id, pm)) = card {
        cards::store_card(&mut tx, &actor, customer_id, &pm).await?;
    }
    tx.commit().await?;
    ctx.wake.notify_waiters();
    tracing::info!(invoice = invoice_id, %outcome, "Checkout confirmed by asking Stripe");
    Ok(Confirmation::Paid(outcome))
}

/// One sweep at `now`: recent open Checkout Sessions, then unsettled automatic charges.
pub async fn sweep(
    ctx: &PaymentContext<'_>,
    now: DateTime<Utc>,
) -> Result<SweepReport, ServiceError> {
    let mut report = SweepReport::default();
    let Ok(client) = cards::stripe(ctx.settings) else {
        return Ok(report);
    };
    let mut conn = ctx.db.conn().await?;
    let open = store::invoices::open_with_checkout(
        &mut conn,
        now - chrono::Duration::hours(SESSION_HOURS),
        BATCH,
    )
    .await?;
    drop(conn);
    for invoice_id in open {
        report.sessions_checked += 1;
        match confirm_checkout(ctx, invoice_id, false).await {
            Ok(Confirmation::Paid(_)) => report.settled += 1,
            Ok(_) => {}
            // One unreachable answer must not stop the sweep; the next one asks again.
            Err(e) => {
                tracing::warn!(invoice = invoice_id, error = %e, "cannot ask Stripe about a Checkout")
            }
        }
    }
    super::autopay::settle_unsettled(ctx, &client, now, &mut report.charges).await?;
    report.refunds = super::refunds::retry_pending(ctx, now).await?;
    Ok(report)
}

/// Sweeps on a timer, once across the instances sharing the database.
#[derive(Clone)]
pub struct PaymentSweeper {
    /// The database.
    pub db: Db,
    /// Stripe settings.
    pub settings: std::sync::Arc<crate::config::Settings>,
    /// Seals passwords of accounts a late payment creates.
    pub vault: crate::vault::Vault,
    /// Wakes the job workers after a payment.
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

impl PaymentSweeper {
    /// Completes manual refunds a crash left pending, at once (start-up) and then every
    /// `interval`, with or without Stripe, until the task is dropped.
    pub async fn settle_manual_refunds(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let ctx = PaymentContext {
                db: &self.db,
                settings: &self.settings,
                vault: &self.vault,
                wake: &self.wake,
            };
            if let Err(e) = super::refunds::settle_manual(&ctx, store::now()).await {
                tracing::warn!(error = %e, "pending manual refunds could not be settled");
            }
        }
    }

    /// Runs every `interval` until the task is dropped.
    pub async fn run(self, interval: Duration) {
        let mut rounds = super::periodic::Rounds::new(self.db.clone(), "payment_sweep", interval);
        loop {
            rounds.next().await;
            let ctx = PaymentContext {
                db: &self.db,
                settings: &self.settings,
                vault: &self.vault,
                wake: &self.wake,
            };
            match sweep(&ctx, store::now()).await {
                Ok(r) if r.settled > 0 || r.charges != Default::default() => {
                    tracing::info!(
                        settled = r.settled,
                        charged = r.charges.charged,
                        "payment sweep settled payments"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "payment sweep failed"),
            }
        }
    }
}

/// How current the payment side is, for `/ready` and `/metrics`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsHealth {
    /// Seconds since the oldest automatic charge still waiting for its outcome started.
    pub oldest_unsettled_payment_secs: Option<i64>,
    /// Seconds since the last Stripe webhook arrived (none yet: absent).
    pub last_webhook_secs: Option<i64>,
}

/// The payment side's freshness now.
pub async fn health(db: &Db) -> Result<PaymentsHealth, ServiceError> {
    let now = store::now();
    let mut conn = db.conn().await?;
    let oldest = store::autopay::oldest_unsettled(&mut conn).await?;
    let last = store::payments::last_event_at(&mut conn).await?;
    Ok(PaymentsHealth {
        oldest_unsettled_payment_secs: oldest.map(|at| (now - at).num_seconds().max(0)),
        last_webhook_secs: last.map(|at| (now - at).num_seconds().max(0)),
    })
}
