//! The pages Stripe Checkout sends a customer back to. They say what happens next and
//! reveal nothing: the invoice number is rebuilt from a number, never echoed as given.

use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::invoice;
use crate::service::settlement::{self, Confirmation};

/// `?invoice=42`.
#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    invoice: Option<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(state: &AppState, title: &str, body: &str) -> Html<String> {
    let company = escape(&state.settings.company.name);
    let support = state
        .settings
        .company
        .support_email
        .as_deref()
        .map(|a| {
            let a = escape(a);
            format!("<p>Questions? Write to <a href=\"mailto:{a}\">{a}</a>.</p>")
        })
        .unwrap_or_default();
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"/ui/icon.svg\" type=\"image/svg+xml\">\
         <title>{title} · {company}</title></head>\
         <body style=\"font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 600px; margin: 48px auto; padding: 0 24px; color: #222;\">\
         <h1>{title}</h1>{body}{support}<p style=\"color:#777\">{company}</p></body></html>"
    ))
}

/// "invoice INV-2026-000042" for the invoice the page is about, as far as it exists.
async fn number(state: &AppState, q: &ReturnQuery) -> String {
    let Some(id) = q.invoice.as_deref().and_then(invoice::id_from_number) else {
        return "your invoice".to_owned();
    };
    match crate::service::invoices::number_by_id(&state.db, id).await {
        Some(number) => format!("invoice {number}"),
        None => "your invoice".to_owned(),
    }
}

/// `GET /checkout/complete`: after paying on Stripe. Asks Stripe about the invoice's
/// session (at most every 10 s per invoice), so a lost webhook delays nothing.
pub async fn complete(State(state): State<AppState>, Query(q): Query<ReturnQuery>) -> Html<String> {
    let what = number(&state, &q).await;
    let id = q.invoice.as_deref().and_then(invoice::id_from_number);
    let confirmed = match id {
        Some(id) => {
            let ctx = state.payment_context();
            let asked = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                settlement::confirm_checkout(&ctx, id, true),
            )
            .await;
            match asked {
                Ok(Ok(Confirmation::Paid(_))) => true,
                Ok(Ok(_)) => false,
                Ok(Err(e)) => {
                    tracing::warn!(invoice = id, error = %e, "cannot confirm a Checkout with Stripe");
                    false
                }
                Err(_) => false,
            }
        }
        None => false,
    };
    let status = if confirmed {
        format!("<p>Your payment for {what} is confirmed. We email you a receipt,")
    } else {
        format!("<p>Your payment for {what} is being confirmed. We email you a receipt as soon as it is,")
    };
    page(
        &state,
        "Thank you for your payment",
        &format!(
            "{status} and the login details of your hosting account when it is ready (usually within \
             a minute).</p><p><a href=\"/ui/#/my\">Go to your hosting</a></p>"
        ),
    )
}

/// `GET /checkout/cancelled`: after leaving Stripe without paying.
pub async fn cancelled(
    State(state): State<AppState>,
    Query(q): Query<ReturnQuery>,
) -> Html<String> {
    let what = number(&state, &q).await;
    page(
        &state,
        "Payment cancelled",
        &format!(
            "<p>Nothing was charged. {} stays open; you can pay it at any time.</p>\
             <p><a href=\"/ui/#/my/invoices\">Your invoices</a></p>",
            capitalise(&what)
        ),
    )
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
