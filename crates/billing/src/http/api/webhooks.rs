//! `POST /webhooks/stripe`: Stripe's events, authenticated by their signature.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::service::stripe_webhook::{self, WebhookReceipt};

/// Applies a Stripe event: a paid Checkout Session pays its invoice (an order then
/// gets its license and hosting account, a renewal extends its license); a failed
/// payment tells the customer; a completed Checkout of a Stripe Customer (or a
/// setup-mode one) saves its card for automatic renewals. Each event id is applied
/// once; redeliveries answer 200 with `duplicate: true`.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "invoices",
    description = "Called by Stripe, not people. Configure the endpoint in Stripe for `checkout.session.completed`, \
        `checkout.session.async_payment_succeeded`, `checkout.session.async_payment_failed`, \
        `payment_intent.succeeded`, `payment_intent.payment_failed`, `charge.refunded`, `charge.dispute.created` \
        and `charge.dispute.closed`, and set `stripe_webhook_secret` to its signing secret. The body must be \
        the raw event; `Stripe-Signature` is checked (HMAC-SHA256, 300 s tolerance) before anything is read.",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the body")),
    request_body(content = String, content_type = "application/json", description = "a Stripe event"),
    responses((status = 200, body = WebhookReceipt),
        (status = 400, description = "missing, malformed, stale or wrong signature", body = ErrorBody),
        (status = 422, description = "signed, but not a Stripe event", body = ErrorBody),
        (status = 502, description = "Stripe could not be asked about the card the session saved (Stripe retries)", body = ErrorBody),
        (status = 503, description = "the webhook secret is not configured (Stripe retries)", body = ErrorBody)))]
pub async fn stripe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookReceipt>, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let ctx = state.payment_context();
    Ok(Json(stripe_webhook::apply(&ctx, signature, &body).await?))
}
