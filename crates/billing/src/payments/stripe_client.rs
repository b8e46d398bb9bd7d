//! The calls we make to Stripe's API: Checkout Sessions (payment and setup mode),
//! Customers, off-session PaymentIntents, and reading back PaymentIntents, SetupIntents
//! and PaymentMethods. Form-encoded requests with the secret key; every creating call
//! carries an idempotency key, so a retry returns what the first call created.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// Why Stripe could not be asked, or said no.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error.
    #[error("Stripe refused: {0}")]
    Refused(String),
    /// Stripe declined a card (HTTP 402): the charge did not happen.
    #[error("the card was declined: {}", .0.message)]
    Declined(Box<Decline>),
    /// Stripe could not be reached or answered nonsense: the outcome is unknown.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
}

/// A card error as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    /// `card_declined`, `authentication_required`, `expired_card`, ...
    pub code: Option<String>,
    /// The bank's reason, e.g. `insufficient_funds`.
    pub decline_code: Option<String>,
    /// Stripe's message.
    pub message: String,
    /// The PaymentIntent the attempt made, when Stripe names it.
    pub payment_intent: Option<String>,
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
    /// The Stripe Customer paying; the card is then saved to it for renewals.
    pub customer: Option<String>,
    /// Pre-filled on the payment page when there is no Stripe Customer.
    pub customer_email: String,
    /// Authorize only; the payment is captured later (once the hosting exists).
    pub manual_capture: bool,
    /// Where Stripe sends the customer after paying.
    pub success_url: String,
    /// Where Stripe sends the customer after giving up.
    pub cancel_url: String,
    /// Repeats of the same request return the same session.
    pub idempotency_key: String,
}

/// What a setup-mode Checkout Session (saving a card, no payment) is created with.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    /// Our customer id (metadata and client reference).
    pub customer_id: i64,
    /// Their Stripe Customer.
    pub stripe_customer: String,
    /// The currency the card will pay in.
    pub currency: String,
    /// Where Stripe sends the customer after saving the card.
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

/// A refund of a payment.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// The PaymentIntent refunded.
    pub payment_intent: String,
    /// Minor units.
    pub amount: i64,
    /// Our refund id (metadata, so Stripe's `charge.refunded` names it).
    pub refund_id: i64,
    /// The admin's reason (metadata).
    pub reason: String,
    /// Our refund's key: a repeat is the same refund.
    pub idempotency_key: String,
}

/// A refund as Stripe reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    /// `re_...`.
    pub id: String,
    /// `succeeded`, `pending`, `failed`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// Minor units.
    pub amount: i64,
}

/// A Checkout Session as read back from Stripe.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSessionState {
    /// `cs_...`.
    pub id: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// The PaymentIntent the session paid with.
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// The Stripe Customer.
    #[serde(default)]
    pub customer: Option<String>,
    /// Minor units.
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// Lower-case ISO code.
    #[serde(default)]
    pub currency: Option<String>,
}

/// An off-session charge of a saved card.
#[derive(Debug, Clone)]
pub struct OffSessionCharge {
    /// Our invoice (metadata, so webhooks about it find the invoice).
    pub invoice_id: i64,
    /// Our attempt number (metadata).
    pub attempt: i64,
    /// Minor units.
    pub amount: i64,
    /// ISO code.
    pub currency: String,
    /// The Stripe Customer.
    pub customer: String,
    /// The saved PaymentMethod.
    pub payment_method: String,
    /// Derived from the invoice and the attempt: a repeat is the same charge.
    pub idempotency_key: String,
}

/// A PaymentIntent, as far as we read it.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    /// `pi_...`.
    pub id: String,
    /// `succeeded`, `processing`, `requires_action`, `requires_payment_method`, ...
    pub status: String,
    /// Minor units.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// The PaymentMethod used, when there is one.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// The Stripe Customer.
    #[serde(default)]
    pub customer: Option<String>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub last_payment_error: Option<Value>,
}

/// A SetupIntent (a card saved without paying).
#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntent {
    /// `seti_...`.
    pub id: String,
    /// `succeeded` once the card is saved.
    pub status: String,
    /// The saved PaymentMethod.
    #[serde(default)]
    pub payment_method: Option<String>,
}

/// A saved card as Stripe describes it: never the number, only what identifies it.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    /// `pm_...`.
    pub id: String,
    /// The Stripe Customer it is attached to.
    #[serde(default)]
    pub customer: Option<String>,
    /// Card details (absent for other kinds of payment method).
    #[serde(default)]
    pub card: Option<CardDetails>,
}

/// Brand, last four digits and expiry of a card.
#[derive(Debug, Clone, Deserialize)]
pub struct CardDetails {
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// 1 to 12.
    pub exp_month: i64,
    /// Four digits.
    pub exp_year: i64,
}

#[derive(Deserialize)]
struct Created {
    id: String,
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

    /// Creates a one-off payment Checkout Session for an invoice. With a Stripe
    /// Customer, the card is kept for off-session renewals (`setup_future_usage`).
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, StripeError> {
        let invoice = req.invoice_id.to_string();
        let amount = req.amount.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let mut form: Vec<(&str, &str)> = vec![
            ("mode", "payment"),
            ("success_url", &req.success_url),
            ("cancel_url", &req.cancel_url),
            ("client_reference_id", &invoice),
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
        if req.manual_capture {
            form.push(("payment_intent_data[capture_method]", "manual"));
        }
        match &req.customer {
            Some(customer) => {
                form.push(("customer", customer));
                form.push(("payment_intent_data[setup_future_usage]", "off_session"));
            }
            None => form.push(("customer_email", &req.customer_email)),
        }
        self.post("/v1/checkout/sessions", &form, &req.idempotency_key)
            .await
    }

    /// Creates a setup-mode Checkout Session: the customer enters a card, Stripe saves
    /// it to their Customer for off-session use, nothing is charged.
    pub async fn create_setup_session(
        &self,
        req: &SetupRequest,
    ) -> Result<CheckoutSession, StripeError> {
        let customer_id = req.customer_id.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let form: Vec<(&str, &str)> = vec![
            ("mode", "setup"),
            ("customer", &req.stripe_customer),
            ("currency", &currency),
            ("payment_method_types[0]", "card"),
            ("success_url", &req.success_url),
            ("cancel_url", &req.cancel_url),
            ("client_reference_id", &customer_id),
            ("metadata[customer_id]", &customer_id),
            ("setup_intent_data[metadata][customer_id]", &customer_id),
        ];
        self.post("/v1/checkout/sessions", &form, &req.idempotency_key)
            .await
    }

    /// Creates the Stripe Customer of one of our customers and returns its id.
    pub async fn create_customer(
        &self,
        customer_id: i64,
        email: &str,
        name: &str,
    ) -> Result<String, StripeError> {
        let ours = customer_id.to_string();
        let form = [
            ("email", email),
            ("name", name),
            ("metadata[customer_id]", ours.as_str()),
        ];
        // One Stripe Customer per customer of ours, however many requests race.
        let key = format!("nextpanel-bill-customer-{customer_id}");
        let created: Created = self.post("/v1/customers", &form, &key).await?;
        Ok(created.id)
    }

    /// Charges a saved card without the customer present. A decline is
    /// [`StripeError::Declined`]; a card that needs its holder (3-D Secure) comes back
    /// as a PaymentIntent in `requires_action`, or as a decline with the code
    /// `authentication_required`, depending on the bank.
    pub async fn charge_off_session(
        &self,
        req: &OffSessionCharge,
    ) -> Result<PaymentIntent, StripeError> {
        let invoice = req.invoice_id.to_string();
        let attempt = req.attempt.to_string();
        let amount = req.amount.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let form = [
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("customer", req.customer.as_str()),
            ("payment_method", req.payment_method.as_str()),
            ("off_session", "true"),
            ("confirm", "true"),
            ("metadata[invoice_id]", invoice.as_str()),
            ("metadata[attempt]", attempt.as_str()),
        ];
        self.post("/v1/payment_intents", &form, &req.idempotency_key)
            .await
    }

    /// Refunds (part of) a payment.
    pub async fn refund(&self, req: &RefundRequest) -> Result<Refund, StripeError> {
        let amount = req.amount.to_string();
        let ours = req.refund_id.to_string();
        let form = [
            ("payment_intent", req.payment_intent.as_str()),
            ("amount", amount.as_str()),
            ("metadata[refund_id]", ours.as_str()),
            ("metadata[reason]", req.reason.as_str()),
        ];
        self.post("/v1/refunds", &form, &req.idempotency_key).await
    }

    /// Captures an authorized PaymentIntent in full.
    pub async fn capture(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let path = format!("/v1/payment_intents/{}/capture", path_part(id)?);
        self.post(&path, &[], idempotency_key).await
    }

    /// Cancels a PaymentIntent: an authorization is released, nothing is charged.
    pub async fn cancel(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, StripeError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_part(id)?);
        self.post(&path, &[], idempotency_key).await
    }

    /// Reads a Checkout Session.
    pub async fn checkout_session(&self, id: &str) -> Result<CheckoutSessionState, StripeError> {
        self.get(&format!("/v1/checkout/sessions/{}", path_part(id)?))
            .await
    }

    /// Reads a PaymentIntent.
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, StripeError> {
        self.get(&format!("/v1/payment_intents/{}", path_part(id)?))
            .await
    }

    /// Reads a SetupIntent.
    pub async fn setup_intent(&self, id: &str) -> Result<SetupIntent, StripeError> {
        self.get(&format!("/v1/setup_intents/{}", path_part(id)?))
            .await
    }

    /// Reads a PaymentMethod.
    pub async fn payment_method(&self, id: &str) -> Result<PaymentMethod, StripeError> {
        self.get(&format!("/v1/payment_methods/{}", path_part(id)?))
            .await
    }

    /// Detaches a PaymentMethod from its Customer: it can no longer be charged.
    pub async fn detach_payment_method(&self, id: &str) -> Result<(), StripeError> {
        let path = format!("/v1/payment_methods/{}/detach", path_part(id)?);
        let key = format!("nextpanel-bill-detach-{id}");
        let _: PaymentMethod = self.post(&path, &[], &key).await?;
        Ok(())
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| StripeError::Unreachable(e.to_string()))?;
        let request = self
            .http
            .post(format!("{}{path}", self.api_base))
            .header("Idempotency-Key", idempotency_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(request).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, StripeError> {
        self.send(self.http.get(format!("{}{path}", self.api_base)))
            .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, StripeError> {
        let response = request
            .bearer_auth(self.secret_key.expose_secret())
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
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(StripeError::Unreachable(format!(
                "Stripe answered HTTP {status}"
            )));
        }
        if !status.is_success() {
            let error = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").cloned())
                .unwrap_or(Value::Null);
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| format!("HTTP {status}"), scrub_keys);
            if status == reqwest::StatusCode::PAYMENT_REQUIRED {
                let text_of = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
                return Err(StripeError::Declined(Box::new(Decline {
                    code: text_of("code"),
                    decline_code: text_of("decline_code"),
                    message,
                    payment_intent: error
                        .pointer("/payment_intent/id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })));
            }
            return Err(StripeError::Refused(message));
        }
        serde_json::from_str(&text)
            .map_err(|e| StripeError::Unreachable(format!("unexpected answer from Stripe: {e}")))
    }
}

/// An id from our database or a webhook, checked before it goes into a URL path.
fn path_part(id: &str) -> Result<&str, StripeError> {
    if !id.is_empty()
        && id.len() <= 255
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(id)
    } else {
        Err(StripeError::Refused(format!("not a Stripe id: {id:?}")))
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
    use super::*;

    #[test]
    fn keys_in_stripe_messages_are_redacted() {
        assert_eq!(
            scrub_keys("No such key: 'sk_test_abc123' for this account"),
            "No such key: [redacted] for this account"
        );
        assert_eq!(scrub_keys("Amount too small."), "Amount too small.");
    }

    #[test]
    fn only_plain_stripe_ids_go_into_paths() {
        assert_eq!(path_part("pi_3Nabc").ok(), Some("pi_3Nabc"));
        assert!(path_part("../v1/customers").is_err());
        assert!(path_part("pi_1?expand=x").is_err());
        assert!(path_part("").is_err());
    }
}
