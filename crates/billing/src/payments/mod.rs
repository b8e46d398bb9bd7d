//! Payment providers: Stripe Checkout for card payments, verified webhooks for the result.

pub mod stripe;

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
}

/// Stripe's API base URL.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
