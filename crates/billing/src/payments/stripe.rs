//! Stripe: the `Stripe-Signature` check, the events we act on, and Checkout Sessions.
//!
//! The signature is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
//! (several `v1` while a secret is rolled); we accept any matching `v1` within the
//! tolerance, compared in constant time.

use std::time::Duration;

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
    /// Paid later (bank debit): nothing to do until it succeeds or fails.
    Pending {
        /// Our invoice.
        invoice_id: i64,
    },
    /// An event we do not act on (recorded and acknowledged).
    Ignored(String),
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
                return PaymentEvent::Pending { invoice_id };
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

/// Why Stripe could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error.
    #[error("Stripe refused: {0}")]
    Refused(String),
    /// Stripe could not be reached or answered nonsense.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
}

/// What a Checkout Session is created with.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Our invoice id (metadata and client reference).
    pub invoice_id: i64,
    /// Shown on the payment page.
    pub description: String,
    /// Minor units.
    pub amount: i64,
    /// ISO code.
    pub currency: String,
    /// Pre-filled on the payment page.
    pub customer_email: String,
    /// Where Stripe sends the customer after paying.
    pub success_url: String,
    /// Where Stripe sends the customer after giving up.
    pub cancel_url: String,
    /// Repeats of the same request return the same session.
    pub idempotency_key: String,
}

/// A created Checkout Session.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    /// `cs_...`.
    pub id: String,
    /// The payment page.
    pub url: String,
}

/// Calls the Stripe API with the secret key.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: String,
    secret_key: SecretString,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    /// A client for `api_base` (`https://api.stripe.com` in production).
    pub fn new(api_base: &str, secret_key: SecretString) -> Result<StripeClient, StripeError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StripeError::Unreachable(e.to_string()))?;
        Ok(StripeClient {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            secret_key,
        })
    }

    /// Creates a one-off payment Checkout Session for an invoice.
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, StripeError> {
        let invoice = req.invoice_id.to_string();
        let amount = req.amount.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let form: Vec<(&str, &str)> = vec![
            ("mode", "payment"),
            ("success_url", &req.success_url),
            ("cancel_url", &req.cancel_url),
            ("client_reference_id", &invoice),
            ("customer_email", &req.customer_email),
            ("metadata[invoice_id]", &invoice),
            ("payment_intent_data[metadata][invoice_id]", &invoice),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", &currency),
            ("line_items[0][price_data][unit_amount]", &amount),
            (
                "line_items[0][price_data][product_data][name]",
                &req.description,
            ),
        ];
        let body = serde_urlencoded::to_string(&form)
            .map_err(|e| StripeError::Unreachable(e.to_string()))?;
        let response = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.api_base))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Idempotency-Key", &req.idempotency_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| StripeError::Unreachable(e.without_url().to_string()))?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            // Stripe's own text quotes part of the key: never pass it on.
            return Err(StripeError::Refused(
                "Stripe rejected the secret key (check stripe_secret_key)".into(),
            ));
        }
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message")
                        .and_then(Value::as_str)
                        .map(scrub_keys)
                })
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(StripeError::Refused(message));
        }
        serde_json::from_str(&text).map_err(|e| {
            StripeError::Unreachable(format!("unexpected Checkout Session answer: {e}"))
        })
    }
}

/// Replaces anything that looks like a Stripe key (`sk_...`, `rk_...`, `whsec_...`) in a
/// message from Stripe, so it can be shown and logged.
fn scrub_keys(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            let bare = word.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
            if ["sk_", "rk_", "whsec_"].iter().any(|p| bare.starts_with(p)) {
                "[redacted]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(interpret(&unpaid), PaymentEvent::Pending { invoice_id: 7 });
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
    fn keys_in_stripe_messages_are_redacted() {
        assert_eq!(
            scrub_keys("No such key: 'sk_test_abc123' for this account"),
            "No such key: [redacted] for this account"
        );
        assert_eq!(scrub_keys("Amount too small."), "Amount too small.");
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
