//! Automatic renewal charges: the billing run charges the saved card of a customer with
//! autopay on when a renewal falls due, off-session, and retries on the configured
//! schedule; it also tells customers whose card expires before their next renewal.
//!
//! Exactly once: an attempt is recorded (`pending`, with an idempotency key made of the
//! invoice and the attempt number) and committed before Stripe is asked, under the
//! invoice's lock and a unique (invoice, attempt) pair. A crash, a timeout or a second
//! instance therefore only ever repeats the same request, which Stripe answers with the
//! same PaymentIntent. A success is applied through the same path as a webhook.

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::cards;
use super::invoices;
use super::payments::{self, PaymentContext};
use super::{Actor, ServiceError};
use crate::domain::autopay::{card_valid_on, decline_in_words};
use crate::domain::invoice::{InvoiceKind, InvoiceStatus};
use crate::payments::stripe::Settlement;
use crate::payments::stripe_client::{OffSessionCharge, PaymentIntent, StripeClient, StripeError};
use crate::store::autopay::{AttemptEnd, AttemptRow};
use crate::store::{self, StoreError};

/// Invoices one run charges at most; the next run continues.
const BATCH: i64 = 200;
/// An attempt still pending this long after it started lost its instance (or Stripe did
/// not answer): it is asked again, with the same idempotency key.
const UNSETTLED_AFTER_SECS: i64 = 120;

/// What the automatic charges of one run did.
#[derive(Debug, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct CollectReport {
    /// Invoices paid by charging the saved card.
    pub charged: i64,
    /// Charges the bank declined.
    pub declined: i64,
    /// Charges that need the cardholder (3-D Secure): the customer was asked to pay.
    pub action_required: i64,
    /// Charges whose outcome is not known yet (Stripe unreachable, or processing).
    pub unsettled: i64,
    /// Customers told that their card expires before their next renewal.
    pub expiry_reminders: i64,
}

/// An automatic charge attempt, as admins see it on the invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChargeAttempt {
    /// 1, 2, ... per invoice.
    pub attempt: i64,
    /// `pending`, `succeeded`, `processing`, `action_required`, `declined` or `failed`.
    pub state: String,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// What happened, in words (the decline code in words for declines).
    pub outcome: Option<String>,
    /// The bank's decline code, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    /// Stripe's PaymentIntent.
    pub payment_intent: Option<String>,
    /// When it was made.
    pub started_at: DateTime<Utc>,
    /// When its outcome was recorded.
    pub finished_at: Option<DateTime<Utc>>,
}

impl CollectReport {
    fn add(&mut self, other: &CollectReport) {
        self.charged += other.charged;
        self.declined += other.declined;
        self.action_required += other.action_required;
        self.unsettled += other.unsettled;
        self.expiry_reminders += other.expiry_reminders;
    }
}

impl From<&AttemptRow> for ChargeAttempt {
    fn from(a: &AttemptRow) -> Self {
        ChargeAttempt {
            attempt: a.attempt,
            state: a.state.clone(),
            amount: a.amount_minor,
            currency: a.currency.clone(),
            outcome: a.message.clone(),
            decline_code: a.decline_code.clone(),
            payment_intent: a.payment_intent_id.clone(),
            started_at: a.started_at,
            finished_at: a.finished_at,
        }
    }
}

/// What Stripe made of one request.
enum Answer {
    Succeeded(PaymentIntent),
    Processing(PaymentIntent),
    ActionRequired(Option<String>, String),
    Declined(Option<String>, Option<String>, String),
    Refused(String),
    Unknown(String),
}

impl Answer {
    fn of(result: Result<PaymentIntent, StripeError>) -> Answer {
        match result {
            Ok(pi) => match pi.status.as_str() {
                "succeeded" => Answer::Succeeded(pi),
                "processing" => Answer::Processing(pi),
                "requires_action" | "requires_confirmation" => Answer::ActionRequired(
                    Some(pi.id),
                    "the bank asks the cardholder to confirm the payment".into(),
                ),
                _ => {
                    let code = pi
                        .last_payment_error
                        .as_ref()
                        .and_then(|e| e.get("decline_code").or_else(|| e.get("code")))
                        .and_then(|c| c.as_str())
                        .map(str::to_owned);
                    let words = decline_in_words(code.as_deref().unwrap_or("card_declined"));
                    Answer::Declined(Some(pi.id), code, words.to_owned())
                }
            },
            Err(StripeError::Declined(d)) => {
                let code = d.decline_code.clone().or_else(|| d.code.clone());
                if d.code.as_deref() == Some("authentication_required") {
                    return Answer::ActionRequired(
                        d.payment_intent,
                        decline_in_words("authentication_required").into(),
                    );
                }
                let words = decline_in_words(code.as_deref().unwrap_or("card_declined"));
                Answer::Declined(d.payment_intent, code, words.to_owned())
            }
            Err(StripeError::Refused(message)) => Answer::Refused(message),
            Err(StripeError::Unreachable(message)) => Answer::Unknown(message),
        }
    }
}

/// Runs the automatic charges of one billing run.
pub async fn collect(
    ctx: &PaymentContext<'_>,
    now: DateTime<Utc>,
) -> Result<CollectReport, ServiceError> {
    let mut report = CollectReport::default();
    let Ok(client) = cards::stripe(ctx.settings) else {
        return Ok(report);
    };
    remind_expiring_cards(ctx, now, &mut report).await?;
    settle_unsettled(ctx, &client, now, &mut report).await?;
    let max_tries = i64::try_from(ctx.settings.collection.retry.len()).unwrap_or(i64::MAX);
    let concurrency = ctx.settings.collection.concurrency;
    let mut after = 0;
    loop {
        let mut conn = ctx.db.conn().await?;
        let due =
            store::autopay::invoices_to_charge(&mut conn, now, max_tries, after, BATCH).await?;
        drop(conn);
        let Some(last) = due.last() else {
            break;
        };
        after = *last;
        // Stripe's latency dominates a charge, so several are in flight at once; each
        // still records its attempt before asking and its outcome after, on its own.
        let outcomes: Vec<Result<CollectReport, ServiceError>> = stream::iter(due)
            .map(|invoice_id| charge(ctx, &client, invoice_id, now))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for outcome in outcomes {
            report.add(&outcome?);
        }
    }
    Ok(report)
}

/// Charges one invoice's next attempt, if it is still to be charged now.
async fn charge(
    ctx: &PaymentContext<'_>,
    client: &StripeClient,
    invoice_id: i64,
    now: DateTime<Utc>,
) -> Result<CollectReport, ServiceError> {
    let mut report = CollectReport::default();
    if let Some(attempt) = start(ctx, invoice_id, now).await? {
        let request = request_of(ctx, &attempt).await?;
        let answer = Answer::of(client.charge_off_session(&request).await);
        settle(ctx, &attempt, answer, &mut report).await?;
    }
    Ok(report)
}

/// Asks Stripe again about attempts left pending (their instance died mid-call, or
/// Stripe did not answer) or processing, and records what it decided.
pub(crate) async fn settle_unsettled(
    ctx: &PaymentContext<'_>,
    client: &StripeClient,
    now: DateTime<Utc>,
    report: &mut CollectReport,
) -> Result<(), ServiceError> {
    let stale = now - Duration::seconds(UNSETTLED_AFTER_SECS);
    let mut conn = ctx.db.conn().await?;
    let unsettled = store::autopay::unsettled_attempts(&mut conn, stale, BATCH).await?;
    drop(conn);
    for attempt in unsettled {
        let answer = match (&attempt.state[..], &attempt.payment_intent_id) {
            ("processing", Some(pi)) => Answer::of(client.payment_intent(pi).await),
            // The same request under the same key: Stripe answers with what it did.
            _ => Answer::of(
                client
                    .charge_off_session(&request_of(ctx, &attempt).await?)
                    .await,
            ),
        };
        settle(ctx, &attempt, answer, report).await?;
    }
    Ok(())
}

/// Records the next attempt of an invoice, or `None` when it is not to be charged now
/// (paid meanwhile, autopay turned off, an attempt under way, not yet its time).
async fn start(
    ctx: &PaymentContext<'_>,
    invoice_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<AttemptRow>, ServiceError> {
    let mut tx = ctx.db.begin().await?;
    store::invoices::lock(&mut tx, invoice_id).await?;
    let Some(row) = store::invoices::find(&mut tx, invoice_id).await? else {
        return Ok(None);
    };
    if row.status != InvoiceStatus::Open.as_str() || row.kind != InvoiceKind::Renewal.as_str() {
        return Ok(None);
    }
    let Some((Some(_), true)) = store::autopay::billing_profile(&mut tx, row.customer_id).await?
    else {
        return Ok(None);
    };
    let Some(card) = store::autopay::card(&mut tx, row.customer_id).await? else {
        return Ok(None);
    };
    let earlier = store::autopay::attempts(&mut tx, invoice_id).await?;
    if earlier
        .iter()
        .any(|a| a.state == "pending" || a.state == "processing")
    {
        return Ok(None);
    }
    let (tries, next_at) = store::autopay::schedule_of(&mut tx, invoice_id).await?;
    let last = earlier.last().map(|a| a.started_at);
    let scheduled = ctx.settings.collection.retry.next_at(
        row.due_at,
        usize::try_from(tries).unwrap_or(usize::MAX),
        last,
    );
    if scheduled.is_none_or(|at| at > now) || next_at.is_some_and(|at| at > now) {
        return Ok(None);
    }
    let number = i64::try_from(earlier.len()).unwrap_or(i64::MAX) + 1;
    let attempt = AttemptRow {
        id: 0,
        invoice_id,
        attempt: number,
        idempotency_key: format!("nextpanel-bill-invoice-{invoice_id}-charge-{number}"),
        payment_method_id: card.payment_method_id,
        amount_minor: row.total_minor,
        currency: row.currency.clone(),
        state: "pending".into(),
        payment_intent_id: None,
        decline_code: None,
        message: None,
        started_at: now,
        finished_at: None,
    };
    let attempt = match store::autopay::start_attempt(&mut tx, &attempt).await {
        Ok(a) => a,
        // Another instance recorded this attempt first: it charges, we do not.
        Err(StoreError::Duplicate { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(Some(attempt))
}

/// The Stripe request of an attempt: always built from the recorded attempt, so a
/// repeat is byte-for-byte the first request.
async fn request_of(
    ctx: &PaymentContext<'_>,
    attempt: &AttemptRow,
) -> Result<OffSessionCharge, ServiceError> {
    let mut conn = ctx.db.conn().await?;
    let row = store::invoices::find(&mut conn, attempt.invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let customer = store::autopay::billing_profile(&mut conn, row.customer_id)
        .await?
        .and_then(|(id, _)| id)
        .ok_or(ServiceError::NotFound("Stripe customer"))?;
    Ok(OffSessionCharge {
        invoice_id: attempt.invoice_id,
        attempt: attempt.attempt,
        amount: attempt.amount_minor,
        currency: attempt.currency.clone(),
        customer,
        payment_method: attempt.payment_method_id.clone(),
        idempotency_key: attempt.idempotency_key.clone(),
    })
}

/// Records what Stripe answered, in one transaction with its consequences.
async fn settle(
    ctx: &PaymentContext<'_>,
    attempt: &AttemptRow,
    answer: Answer,
    report: &mut CollectReport,
) -> Result<(), ServiceError> {
    let now = store::now();
    let (state, pi, code, message) = match &answer {
        Answer::Succeeded(pi) => ("succeeded", Some(pi.id.clone()), None, "paid".to_owned()),
        Answer::Processing(pi) => (
            "processing",
            Some(pi.id.clone()),
            None,
            "the bank is processing the payment".to_owned(),
        ),
        Answer::ActionRequired(pi, words) => ("action_required", pi.clone(), None, words.clone()),
        Answer::Declined(pi, code, words) => ("declined", pi.clone(), code.clone(), words.clone()),
        Answer::Refused(message) => (
            "failed",
            None,
            None,
            format!("Stripe refused the charge: {message}"),
        ),
        Answer::Unknown(message) => {
            // Left pending: the next run asks again with the same key.
            tracing::warn!(invoice = attempt.invoice_id, attempt = attempt.attempt, error = %message,
                "automatic charge outcome unknown; will ask Stripe again");
            report.unsettled += 1;
            return Ok(());
        }
    };
    let mut tx = ctx.db.begin().await?;
    store::invoices::lock(&mut tx, attempt.invoice_id).await?;
    let end = AttemptEnd {
        state,
        payment_intent_id: pi.as_deref(),
        decline_code: code.as_deref(),
        message: Some(&message),
        at: now,
    };
    if !store::autopay::finish_attempt(&mut tx, attempt.id, &end).await? {
        // Another instance recorded it.
        return Ok(());
    }
    let row = store::invoices::find(&mut tx, attempt.invoice_id)
        .await?
        .ok_or(ServiceError::NotFound("invoice"))?;
    let actor = Actor::system_as("autopay");
    let (tries, _) = store::autopay::schedule_of(&mut tx, row.id).await?;
    match answer {
        Answer::Succeeded(pi) => {
            let settlement = Settlement {
                invoice_id: row.id,
                reference: pi.id.clone(),
                amount: pi.amount,
                currency: pi.currency.clone(),
                message: None,
            };
            payments::apply_payment(ctx, &mut tx, &actor, "stripe", &settlement).await?;
            store::autopay::set_schedule(&mut tx, row.id, tries + 1, None).await?;
            report.charged += 1;
        }
        Answer::Processing(_) => {
            // Stays unsettled: a later run reads the PaymentIntent again.
            report.unsettled += 1;
        }
        Answer::ActionRequired(..) | Answer::Declined(..) | Answer::Refused(_) => {
            let next = ctx.settings.collection.retry.next_at(
                row.due_at,
                usize::try_from(tries + 1).unwrap_or(usize::MAX),
                Some(now),
            );
            store::autopay::set_schedule(&mut tx, row.id, tries + 1, next).await?;
            if row.status == InvoiceStatus::Open.as_str() {
                let (template, extra) = if state == "action_required" {
                    report.action_required += 1;
                    ("payment_action_required", json!({}))
                } else {
                    report.declined += 1;
                    ("payment_failed", json!({ "reason": message }))
                };
                let mut extra = extra;
                extra["pay_url"] = json!(pay_url(ctx, row.id));
                extra["next_attempt"] = json!(next.map(|n| n.format("%Y-%m-%d").to_string()));
                invoices::queue_message(&mut tx, &row, template, &attempt.idempotency_key, extra)
                    .await?;
            }
            super::audit::record(
                &mut tx,
                &actor,
                super::audit::Change::<(), _> {
                    action: "invoice.autopay_failed",
                    entity_type: "invoice",
                    entity_id: Some(row.id),
                    before: None,
                    after: Some(&json!({"attempt": attempt.attempt, "state": state,
                        "decline_code": code, "outcome": message})),
                },
            )
            .await?;
        }
        Answer::Unknown(_) => {}
    }
    tx.commit().await?;
    ctx.wake.notify_waiters();
    tracing::info!(
        invoice = attempt.invoice_id,
        attempt = attempt.attempt,
        state,
        "automatic charge recorded"
    );
    Ok(())
}

/// Where the customer pays an invoice by hand, in the portal.
fn pay_url(ctx: &PaymentContext<'_>, invoice_id: i64) -> String {
    format!("{}/ui/#/my/invoices/{invoice_id}", ctx.settings.public_url)
}

/// Tells customers with autopay whose saved card expires before their next renewal,
/// `card_expiry_notice_days` ahead of it, once per renewal.
async fn remind_expiring_cards(
    ctx: &PaymentContext<'_>,
    now: DateTime<Utc>,
    report: &mut CollectReport,
) -> Result<(), ServiceError> {
    let horizon = now + Duration::days(ctx.settings.collection.card_expiry_notice_days);
    let mut conn = ctx.db.conn().await?;
    let candidates = store::autopay::renewals_with_cards(&mut conn, now, horizon, BATCH).await?;
    drop(conn);
    for (renews_at, card) in candidates {
        if card_valid_on(card.exp_month, card.exp_year, renews_at)
            || card.expiry_reminded_for == Some(renews_at)
        {
            continue;
        }
        let mut tx = ctx.db.begin().await?;
        if !store::autopay::mark_expiry_reminded(&mut tx, card.customer_id, renews_at).await? {
            continue;
        }
        let customer = store::users::find(&mut tx, card.customer_id)
            .await?
            .ok_or(ServiceError::NotFound("customer"))?;
        super::notifications::queue_sealed(
            &mut tx,
            &format!(
                "card_expiring:{}:{}",
                card.customer_id,
                renews_at.timestamp()
            ),
            &customer.email,
            "card_expiring",
            json!({
                "name": customer.full_name,
                "brand": card.brand,
                "last4": card.last4,
                "expiry": format!("{:02}/{}", card.exp_month, card.exp_year),
                "renewal_date": renews_at.format("%Y-%m-%d").to_string(),
                "card_url": format!("{}/ui/#/my/payment", ctx.settings.public_url),
            }),
            "",
            None,
        )
        .await?;
        tx.commit().await?;
        report.expiry_reminders += 1;
    }
    Ok(())
}

/// The automatic charge attempts of an invoice, first first.
pub(crate) async fn attempts_of(
    conn: &mut impl store::AsConn,
    invoice_id: i64,
) -> Result<Vec<ChargeAttempt>, ServiceError> {
    Ok(store::autopay::attempts(conn, invoice_id)
        .await?
        .iter()
        .map(ChargeAttempt::from)
        .collect())
}
