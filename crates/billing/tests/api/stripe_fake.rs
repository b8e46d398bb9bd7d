//! A stand-in for Stripe on loopback: the Checkout Sessions endpoint (form-encoded,
//! bearer secret key, Idempotency-Key honoured), and signed webhook deliveries built
//! the way Stripe builds them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
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
