//! Payment providers: Stripe Checkout for card payments, verified webhooks for the result.

pub mod stripe;
pub mod stripe_client;

use secrecy::SecretString;

/// Stripe settings; each part may be missing, and what needs it then says so.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `sk_live_...` / `sk_test_...`: needed to create Checkout Sessions.
    pub secret_key: Option<SecretString>,
    /// `whsec_...`: needed to accept webhooks.
    pub webhook_secret: Option<SecretString>,
    /// The API base URL (`https://api.stripe.com`).
    pub api_base: String,
    /// Where Stripe sends a customer after paying; `{public_url}` and `{invoice_id}` are replaced.
    pub success_url: String,
    /// Where Stripe sends a customer who gave up; same placeholders.
    pub cancel_url: String,
}

/// Default return page after paying (served by this binary).
pub const DEFAULT_SUCCESS_URL: &str = "{public_url}/checkout/complete?invoice={invoice_id}";
/// Default return page after giving up.
pub const DEFAULT_CANCEL_URL: &str = "{public_url}/checkout/cancelled?invoice={invoice_id}";

/// Stripe's API base URL.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
