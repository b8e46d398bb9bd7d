//! A stand-in for Stripe on loopback: the Checkout Sessions endpoint (form-encoded,
//! bearer secret key, Idempotency-Key honoured), signed webhook deliveries built the
//! way Stripe builds them, and a hosted payment page (`/pay/{session}`) whose button
//! completes the session, delivers the signed event and sends the browser back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use billing::config::Layer;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::TestApp;

pub const SECRET_KEY: &str = "sk_test_fake_0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_test_fake_abcdef";

#[derive(Default)]
struct Inner {
    sessions: Vec<Value>,
    by_idempotency_key: HashMap<String, usize>,
    refuse_with: Option<String>,
    webhook_url: Option<String>,
}

/// The fake Stripe API.
#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/pay/{id}", get(payment_page).post(pay))
            .with_state((inner.clone(), base.clone()));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeStripe { base, inner }
    }

    /// Settings pointing nextpanel-bill at this fake with both secrets.
    pub fn layer(&self) -> Layer {
        Layer {
            stripe_secret_key: Some(SECRET_KEY.into()),
            stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
            stripe_api_base: Some(self.base.clone()),
            public_url: Some("https://billing.acme.example".into()),
            ..Layer::default()
        }
    }

    /// Every Checkout Session created, oldest first.
    pub fn sessions(&self) -> Vec<Value> {
        self.inner.lock().unwrap().sessions.clone()
    }

    /// The next session creation fails with this Stripe error message.
    pub fn refuse_next(&self, message: &str) {
        self.inner.lock().unwrap().refuse_with = Some(message.to_owned());
    }

    /// Where the payment page delivers `checkout.session.completed` (the app's webhook).
    pub fn deliver_webhooks_to(&self, url: String) {
        self.inner.lock().unwrap().webhook_url = Some(url);
    }

    /// The session with this id.
    pub fn session(&self, id: &str) -> Value {
        self.sessions()
            .into_iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no session {id}"))
    }
}

type Shared = State<(Arc<Mutex<Inner>>, String)>;

async fn create_session(
    State((inner, base)): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {SECRET_KEY}") {
        // As Stripe does: the message quotes the key, partly masked.
        let given = auth.trim_start_matches("Bearer ");
        let tail = &given[given.len().saturating_sub(4)..];
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"type": "invalid_request_error",
                "message": format!("Invalid API Key provided: sk_test_********{tail}")}})),
        );
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut inner = inner.lock().unwrap();
    if let Some(message) = inner.refuse_with.take() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"type": "invalid_request_error", "message": message}})),
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(i) = key.as_ref().and_then(|k| inner.by_idempotency_key.get(k)) {
        return (StatusCode::OK, Json(inner.sessions[*i].clone()));
    }
    let n = inner.sessions.len() + 1;
    let session = json!({
        "id": format!("cs_test_{n}"),
        "object": "checkout.session",
        "url": format!("{base}/pay/cs_test_{n}"),
        "mode": field("mode"),
        "payment_status": "unpaid",
        "payment_intent": format!("pi_test_{n}"),
        "client_reference_id": field("client_reference_id"),
        "customer_email": field("customer_email"),
        "success_url": field("success_url"),
        "amount_total": field("line_items[0][price_data][unit_amount]").parse::<i64>().unwrap(),
        "currency": field("line_items[0][price_data][currency]"),
        "product_name": field("line_items[0][price_data][product_data][name]"),
        "metadata": {"invoice_id": field("metadata[invoice_id]")},
        "payment_intent_metadata": {"invoice_id": field("payment_intent_data[metadata][invoice_id]")},
    });
    inner.sessions.push(session.clone());
    if let Some(key) = key {
        inner.by_idempotency_key.insert(key, n - 1);
    }
    (StatusCode::OK, Json(session))
}

fn find(inner: &Inner, id: &str) -> Option<Value> {
    inner.sessions.iter().find(|s| s["id"] == id).cloned()
}

/// `GET /pay/{id}`: the hosted payment page, with one button.
async fn payment_page(State((inner, _)): Shared, Path(id): Path<String>) -> Response {
    let Some(session) = find(&inner.lock().unwrap(), &id) else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    let amount = session["amount_total"].as_i64().unwrap_or_default();
    let currency = session["currency"]
        .as_str()
        .unwrap_or_default()
        .to_uppercase();
    Html(format!(
        "<!DOCTYPE html><link rel=\"icon\" href=\"data:,\"><title>Fake Stripe Checkout</title><h1>Pay {}.{:02} {currency}</h1>\
         <form method=\"post\"><button id=\"pay\">Pay</button></form>",
        amount / 100,
        amount % 100
    ))
    .into_response()
}

/// `POST /pay/{id}`: the card is accepted; Stripe tells the app (signed), then sends
/// the customer to the session's success URL.
async fn pay(State((inner, _)): Shared, Path(id): Path<String>) -> Response {
    let (session, target) = {
        let inner = inner.lock().unwrap();
        (find(&inner, &id), inner.webhook_url.clone())
    };
    let (Some(session), Some(target)) = (session, target) else {
        return (StatusCode::NOT_FOUND, "no such session or no webhook URL").into_response();
    };
    let payload = serde_json::to_vec(&completed(&session)).unwrap();
    let signature = billing::payments::stripe::sign(
        &payload,
        &SecretString::from(WEBHOOK_SECRET.to_owned()),
        chrono::Utc::now().timestamp(),
    );
    let delivered = reqwest::Client::new()
        .post(target)
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await;
    match delivered {
        Ok(r) if r.status().is_success() => {
            let back = session["success_url"].as_str().unwrap_or("/").to_owned();
            (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response()
        }
        Ok(r) => (
            StatusCode::BAD_GATEWAY,
            format!("webhook answered {}", r.status()),
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("webhook failed: {e}")).into_response(),
    }
}

/// A fresh event id.
pub fn event_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).unwrap();
    format!("evt_test_{}", hex::encode(bytes))
}

/// The event Stripe sends when the customer pays a session.
pub fn completed(session: &Value) -> Value {
    let mut paid = session.clone();
    paid["payment_status"] = json!("paid");
    json!({"id": event_id(), "object": "event", "type": "checkout.session.completed",
           "data": {"object": paid}})
}

/// The event Stripe sends when a card is declined in the session.
pub fn payment_failed(session: &Value, message: &str) -> Value {
    json!({"id": event_id(), "object": "event", "type": "payment_intent.payment_failed",
           "data": {"object": {
               "id": session["payment_intent"], "object": "payment_intent",
               "amount": session["amount_total"], "currency": session["currency"],
               "metadata": session["payment_intent_metadata"],
               "last_payment_error": {"message": message}}}})
}

/// Delivers `event` to the app's webhook, signed with `secret` at `timestamp`.
pub async fn deliver_signed(
    app: &TestApp,
    event: &Value,
    secret: &str,
    timestamp: i64,
) -> (StatusCode, Value) {
    let payload = serde_json::to_vec(event).unwrap();
    let header = billing::payments::stripe::sign(
        &payload,
        &SecretString::from(secret.to_owned()),
        timestamp,
    );
    deliver_raw(app, payload, Some(&header)).await
}

/// Delivers `event` as Stripe would, signed now with the webhook secret.
pub async fn deliver(app: &TestApp, event: &Value) -> (StatusCode, Value) {
    deliver_signed(app, event, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await
}

/// Posts a raw body with an optional `Stripe-Signature`.
pub async fn deliver_raw(
    app: &TestApp,
    payload: Vec<u8>,
    signature: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(payload);
    if let Some(sig) = signature {
        req = req.header("stripe-signature", sig);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}
