//! Stripe webhooks: the `Stripe-Signature` check and the events we act on. The calls
//! we make to Stripe's API are in [`super::stripe_client`].
//!
//! The signature is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
//! (several `v1` while a secret is rolled); we accept any matching `v1` within the
//! tolerance, compared in constant time.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// Oldest signature timestamp accepted, as Stripe's own libraries do.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Why a webhook was refused before its content was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    Missing,
    /// The header has no timestamp or no `v1` signature.
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    /// The timestamp is too far from our clock (a replay, or a wrong clock).
    #[error(
        "the Stripe-Signature timestamp is outside the {SIGNATURE_TOLERANCE_SECS} s tolerance"
    )]
    Stale,
    /// No `v1` signature matches the body and our secret.
    #[error("no Stripe-Signature signature matches the payload")]
    Mismatch,
}

/// Checks `header` against the raw `payload` at `now` (Unix seconds).
pub fn verify_signature(
    header: Option<&str>,
    payload: &[u8],
    secret: &SecretString,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    for candidate in signatures {
        let Ok(expected) = hex::decode(candidate) else {
            continue;
        };
        let mac = mac_for(secret, timestamp, payload);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The `Stripe-Signature` header Stripe would send for `payload` at `timestamp` (tests, tools).
pub fn sign(payload: &[u8], secret: &SecretString, timestamp: i64) -> String {
    let mac = mac_for(secret, timestamp, payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn mac_for(secret: &SecretString, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// A Stripe event as delivered to the webhook.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// `evt_...`, unique per event (a redelivery has the same id).
    pub id: String,
    /// e.g. `checkout.session.completed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The object the event is about.
    pub data: EventData,
}

/// The `data` member of an event.
#[derive(Debug, Deserialize)]
pub struct EventData {
    /// A Checkout Session, PaymentIntent, ...
    pub object: Value,
}

/// What an event means for our invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    /// The customer paid the invoice.
    Paid(Settlement),
    /// A payment attempt for the invoice failed.
    Failed(Settlement),
    /// Not paid yet: a delayed method (bank debit), or a card only authorized
    /// (manual capture); the service tells them apart by asking Stripe.
    Pending {
        /// Our invoice.
        invoice_id: i64,
        /// The session's PaymentIntent, when it has one.
        payment_intent: Option<String>,
    },
    /// A customer saved a card without paying (setup-mode Checkout).
    CardSetup {
        /// Their Stripe Customer.
        stripe_customer: String,
        /// The SetupIntent that saved it.
        setup_intent: String,
    },
    /// Money went back to the cardholder (from this service, or the Stripe dashboard).
    Refunded {
        /// The PaymentIntent refunded.
        payment_intent: String,
        /// Each refund of the charge so far.
        refunds: Vec<StripeRefund>,
    },
    /// The cardholder disputed a payment with their bank.
    DisputeOpened(Dispute),
    /// A dispute ended (`won`, `lost`, ...).
    DisputeClosed(Dispute),
    /// An event we do not act on (recorded and acknowledged).
    Ignored(String),
}

/// One refund listed in a `charge.refunded` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRefund {
    /// `re_...`.
    pub id: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// Our refund id, when we asked for it.
    pub ours: Option<i64>,
}

/// A dispute as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    /// `dp_...`.
    pub id: String,
    /// The PaymentIntent disputed.
    pub payment_intent: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// `fraudulent`, `product_not_received`, ...
    pub reason: String,
    /// `needs_response`, `won`, `lost`, ...
    pub status: String,
}

/// The refund and dispute events, which carry no invoice of ours (they are found by
/// their PaymentIntent).
fn money_back(event: &Event) -> Option<PaymentEvent> {
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let amount = object.get("amount").and_then(Value::as_i64).unwrap_or(0);
    match event.kind.as_str() {
        "charge.refunded" => {
            let refunds = object
                .pointer("/refunds/data")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|r| {
                            Some(StripeRefund {
                                id: r.get("id")?.as_str()?.to_owned(),
                                amount: r.get("amount")?.as_i64()?,
                                currency: r
                                    .get("currency")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                ours: r
                                    .pointer("/metadata/refund_id")
                                    .and_then(Value::as_str)
                                    .and_then(|v| v.parse().ok()),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(PaymentEvent::Refunded {
                payment_intent: text("payment_intent")?,
                refunds,
            })
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let dispute = Dispute {
                id: text("id")?,
                payment_intent: text("payment_intent")?,
                amount,
                currency: text("currency").unwrap_or_default(),
                reason: text("reason").unwrap_or_else(|| "general".into()),
                status: text("status").unwrap_or_default(),
            };
            Some(if event.kind == "charge.dispute.created" {
                PaymentEvent::DisputeOpened(dispute)
            } else {
                PaymentEvent::DisputeClosed(dispute)
            })
        }
        _ => None,
    }
}

/// Where to read the card a customer just used, to save it for renewals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSource {
    /// A paid Checkout Session of a Stripe Customer: the card of its PaymentIntent.
    Payment {
        /// The Stripe Customer.
        stripe_customer: String,
        /// The PaymentIntent.
        payment_intent: String,
    },
    /// A setup-mode Checkout Session: the card of its SetupIntent.
    Setup {
        /// The Stripe Customer.
        stripe_customer: String,
        /// The SetupIntent.
        setup_intent: String,
    },
}

impl CardSource {
    /// The Stripe Customer the card belongs to.
    pub fn stripe_customer(&self) -> &str {
        match self {
            CardSource::Payment {
                stripe_customer, ..
            }
            | CardSource::Setup {
                stripe_customer, ..
            } => stripe_customer,
        }
    }
}

/// The card an event tells us to save, if any.
pub fn card_source(event: &Event) -> Option<CardSource> {
    let object = &event.data.object;
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    if event.kind != "checkout.session.completed" {
        return None;
    }
    let stripe_customer = text("customer")?;
    match text("mode").as_deref() {
        Some("setup") => Some(CardSource::Setup {
            stripe_customer,
            setup_intent: text("setup_intent")?,
        }),
        _ if text("payment_status").as_deref() == Some("paid") => Some(CardSource::Payment {
            stripe_customer,
            payment_intent: text("payment_intent")?,
        }),
        _ => None,
    }
}

/// The money side of a payment event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Our invoice (from the metadata we set on the session and PaymentIntent).
    pub invoice_id: i64,
    /// The PaymentIntent (or session) the money moved in.
    pub reference: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code, as Stripe sends it.
    pub currency: String,
    /// Stripe's explanation of a failure.
    pub message: Option<String>,
}

/// Maps an event to what it means for us.
pub fn interpret(event: &Event) -> PaymentEvent {
    let object = &event.data.object;
    if let Some(money_back) = money_back(event) {
        return money_back;
    }
    if let Some(CardSource::Setup {
        stripe_customer,
        setup_intent,
    }) = card_source(event)
    {
        return PaymentEvent::CardSetup {
            stripe_customer,
            setup_intent,
        };
    }
    if object.get("mode").and_then(Value::as_str) == Some("setup") {
        return PaymentEvent::Ignored(format!("{}: a card setup not completed", event.kind));
    }
    let automatic = object.pointer("/metadata/attempt").is_some();
    let Some(invoice_id) = invoice_id_of(object) else {
        return PaymentEvent::Ignored(format!(
            "{}: no nextpanel-bill invoice in its metadata",
            event.kind
        ));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let reference = text("payment_intent")
        .or_else(|| text("id"))
        .unwrap_or_default();
    let amount = |key: &str| object.get(key).and_then(Value::as_i64).unwrap_or(0);
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if text("payment_status").as_deref() != Some("paid") {
                return PaymentEvent::Pending {
                    invoice_id,
                    payment_intent: text("payment_intent"),
                };
            }
            PaymentEvent::Paid(Settlement {
                invoice_id,
                reference,
                amount: amount("amount_total"),
                currency: text("currency").unwrap_or_default(),
                message: None,
            })
        }
        "checkout.session.async_payment_failed" => PaymentEvent::Failed(Settlement {
            invoice_id,
            reference,
            amount: amount("amount_total"),
            currency: text("currency").unwrap_or_default(),
            message: Some("the delayed payment did not go through".into()),
        }),
        "payment_intent.succeeded" => PaymentEvent::Paid(Settlement {
            invoice_id,
            reference: text("id").unwrap_or_default(),
            amount: object
                .get("amount_received")
                .and_then(Value::as_i64)
                .unwrap_or_else(|| amount("amount")),
            currency: text("currency").unwrap_or_default(),
            message: None,
        }),
        // The billing run records the outcome of its own charges, and tells the customer.
        "payment_intent.payment_failed" if automatic => PaymentEvent::Ignored(
            "payment_intent.payment_failed: an automatic charge, recorded by the billing run"
                .into(),
        ),
        "payment_intent.payment_failed" => PaymentEvent::Failed(Settlement {
            invoice_id,
            reference: text("id").unwrap_or_default(),
            amount: amount("amount"),
            currency: text("currency").unwrap_or_default(),
            message: Some(
                object
                    .pointer("/last_payment_error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the card was declined")
                    .to_owned(),
            ),
        }),
        other => PaymentEvent::Ignored(other.to_owned()),
    }
}

fn invoice_id_of(object: &Value) -> Option<i64> {
    let raw = object
        .pointer("/metadata/invoice_id")
        .or_else(|| object.get("client_reference_id"))?;
    match raw {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn secret() -> SecretString {
        SecretString::from("whsec_test_secret")
    }

    #[test]
    fn a_signature_made_with_the_secret_verifies_and_nothing_else_does() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, &secret(), 1_000);
        assert_eq!(
            verify_signature(Some(&header), body, &secret(), 1_010),
            Ok(())
        );
        assert_eq!(
            verify_signature(Some(&header), br#"{"id":"evt_2"}"#, &secret(), 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(
                Some(&header),
                body,
                &SecretString::from("whsec_other"),
                1_010
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&header), body, &secret(), 1_000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(None, body, &secret(), 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(Some("v1=abc"), body, &secret(), 1_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some("t=1000"), body, &secret(), 1_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn any_of_several_signatures_may_match_while_a_secret_is_rolled() {
        let body = b"{}";
        let good = sign(body, &secret(), 50);
        let good_v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=50,v1=00ff,v1=nothex,v1={good_v1}");
        assert_eq!(verify_signature(Some(&header), body, &secret(), 60), Ok(()));
    }

    fn event(kind: &str, object: Value) -> Event {
        serde_json::from_value(json!({"id": "evt_1", "type": kind, "data": {"object": object}}))
            .unwrap()
    }

    #[test]
    fn completed_sessions_pay_the_invoice_in_their_metadata() {
        let paid = event(
            "checkout.session.completed",
            json!({"id": "cs_1", "payment_intent": "pi_1", "payment_status": "paid",
                   "amount_total": 1499, "currency": "usd", "metadata": {"invoice_id": "7"}}),
        );
        assert_eq!(
            interpret(&paid),
            PaymentEvent::Paid(Settlement {
                invoice_id: 7,
                reference: "pi_1".into(),
                amount: 1499,
                currency: "usd".into(),
                message: None
            })
        );
        let unpaid = event(
            "checkout.session.completed",
            json!({"id": "cs_1", "payment_status": "unpaid", "client_reference_id": "7"}),
        );
        assert_eq!(
            interpret(&unpaid),
            PaymentEvent::Pending {
                invoice_id: 7,
                payment_intent: None
            }
        );
    }

    #[test]
    fn failed_intents_carry_stripes_reason() {
        let failed = event(
            "payment_intent.payment_failed",
            json!({"id": "pi_2", "amount": 1499, "currency": "usd", "metadata": {"invoice_id": "7"},
                   "last_payment_error": {"message": "Your card has insufficient funds."}}),
        );
        match interpret(&failed) {
            PaymentEvent::Failed(s) => {
                assert_eq!(s.reference, "pi_2");
                assert_eq!(
                    s.message.as_deref(),
                    Some("Your card has insufficient funds.")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn setup_sessions_save_a_card_and_paid_sessions_of_customers_too() {
        let setup = event(
            "checkout.session.completed",
            json!({"id": "cs_2", "mode": "setup", "customer": "cus_1", "setup_intent": "seti_1",
                   "client_reference_id": "7", "metadata": {"customer_id": "7"}}),
        );
        assert_eq!(
            interpret(&setup),
            PaymentEvent::CardSetup {
                stripe_customer: "cus_1".into(),
                setup_intent: "seti_1".into()
            }
        );
        let paid = event(
            "checkout.session.completed",
            json!({"id": "cs_3", "mode": "payment", "customer": "cus_1", "payment_intent": "pi_9",
                   "payment_status": "paid", "amount_total": 100, "currency": "usd",
                   "metadata": {"invoice_id": "3"}}),
        );
        assert_eq!(
            card_source(&paid),
            Some(CardSource::Payment {
                stripe_customer: "cus_1".into(),
                payment_intent: "pi_9".into()
            })
        );
        assert!(matches!(interpret(&paid), PaymentEvent::Paid(_)));
    }

    #[test]
    fn succeeded_intents_pay_and_failed_automatic_charges_are_left_to_the_billing_run() {
        let ok = event(
            "payment_intent.succeeded",
            json!({"id": "pi_5", "amount": 900, "amount_received": 900, "currency": "eur",
                   "metadata": {"invoice_id": "4", "attempt": "1"}}),
        );
        assert!(
            matches!(interpret(&ok), PaymentEvent::Paid(ref s) if s.reference == "pi_5" && s.amount == 900)
        );
        let failed = event(
            "payment_intent.payment_failed",
            json!({"id": "pi_5", "amount": 900, "currency": "eur",
                   "metadata": {"invoice_id": "4", "attempt": "1"}}),
        );
        assert!(matches!(interpret(&failed), PaymentEvent::Ignored(_)));
    }

    #[test]
    fn refunds_and_disputes_are_found_by_their_payment_intent() {
        let refunded = event(
            "charge.refunded",
            json!({"id": "ch_1", "payment_intent": "pi_1", "amount": 999, "amount_refunded": 500,
                   "refunds": {"data": [
                       {"id": "re_1", "amount": 300, "currency": "usd", "metadata": {"refund_id": "4"}},
                       {"id": "re_2", "amount": 200, "currency": "usd", "metadata": {}}]}}),
        );
        match interpret(&refunded) {
            PaymentEvent::Refunded {
                payment_intent,
                refunds,
            } => {
                assert_eq!(payment_intent, "pi_1");
                assert_eq!(refunds.len(), 2);
                assert_eq!(refunds[0].ours, Some(4));
                assert_eq!(refunds[1].ours, None);
                assert_eq!(refunds[1].amount, 200);
            }
            other => panic!("{other:?}"),
        }
        let opened = event(
            "charge.dispute.created",
            json!({"id": "dp_1", "payment_intent": "pi_1", "amount": 999, "currency": "usd",
                   "reason": "fraudulent", "status": "needs_response"}),
        );
        assert!(
            matches!(interpret(&opened), PaymentEvent::DisputeOpened(d) if d.reason == "fraudulent")
        );
        let closed = event(
            "charge.dispute.closed",
            json!({"id": "dp_1", "payment_intent": "pi_1", "amount": 999, "currency": "usd", "status": "won"}),
        );
        assert!(matches!(interpret(&closed), PaymentEvent::DisputeClosed(d) if d.status == "won"));
    }

    #[test]
    fn foreign_and_unknown_events_are_ignored() {
        let foreign = event("checkout.session.completed", json!({"id": "cs_x"}));
        assert!(matches!(interpret(&foreign), PaymentEvent::Ignored(_)));
        let other = event("customer.created", json!({"metadata": {"invoice_id": "1"}}));
        assert_eq!(
            interpret(&other),
            PaymentEvent::Ignored("customer.created".into())
        );
    }
}
