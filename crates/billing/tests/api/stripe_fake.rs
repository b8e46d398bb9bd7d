//! A stand-in for Stripe on loopback: the Checkout Sessions endpoint (form-encoded,
//! bearer secret key, Idempotency-Key honoured), signed webhook deliveries built the
//! way Stripe builds them, and a hosted payment page (`/pay/{session}`) whose button
//! completes the session, delivers the signed event and sends the browser back.
//!
//! Backed by `localstripe` (PyPI: a stateful Stripe written by others), it forwards
//! every other API call there (Customers, PaymentMethods, PaymentIntents,
//! SetupIntents), adding what localstripe lacks and Stripe does: an `Idempotency-Key`
//! answers a repeat with the first response. Its payment page then does what Checkout
//! does behind the scenes: creates the card, attaches it to the Customer, and pays (or
//! sets up) with it in localstripe.

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
    /// localstripe's base URL, when backed by it.
    backend: Option<String>,
    /// Responses to forwarded POSTs by idempotency key, as Stripe keeps them.
    responses: HashMap<String, (u16, Bytes)>,
    /// The next PaymentIntent creation reaches localstripe, but its answer is lost.
    lose_next_charge: bool,
    /// PaymentIntent creations forwarded to localstripe (repeats answered from the cache excluded).
    charges_forwarded: usize,
    /// Customers made without a backend.
    fake_customers: usize,
    /// Paid sessions are not told to the app (a misconfigured webhook endpoint).
    lose_webhooks: bool,
}

/// A localstripe server on a free port, stopped on drop.
struct LocalStripe {
    child: std::process::Child,
    base: String,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalStripe {
    async fn start() -> LocalStripe {
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new("python3")
                .args([
                    "-m",
                    "localstripe",
                    "--port",
                    &port.to_string(),
                    "--from-scratch",
                ])
                .current_dir(std::env::temp_dir())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("python3 with localstripe (pip install localstripe) runs the test Stripe");
            let ls = LocalStripe {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                let ready = reqwest::Client::new()
                    .get(format!("{}/v1/customers", ls.base))
                    .bearer_auth(SECRET_KEY)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    return ls;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        panic!("localstripe did not start (is it installed? pip install localstripe)");
    }
}

/// The fake Stripe API.
#[derive(Clone)]
pub struct FakeStripe {
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    _backend: Option<Arc<LocalStripe>>,
}

impl FakeStripe {
    /// Checkout Sessions only (and bare Customers).
    pub async fn start() -> FakeStripe {
        Self::serve(None).await
    }

    /// Checkout Sessions here, everything else in a fresh localstripe.
    pub async fn with_localstripe() -> FakeStripe {
        Self::serve(Some(Arc::new(LocalStripe::start().await))).await
    }

    async fn serve(backend: Option<Arc<LocalStripe>>) -> FakeStripe {
        let inner = Arc::new(Mutex::new(Inner {
            backend: backend.as_ref().map(|b| b.base.clone()),
            ..Inner::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(read_session))
            .route("/pay/{id}", get(payment_page).post(pay))
            .fallback(forward)
            .with_state((inner.clone(), base.clone()));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeStripe {
            base,
            inner,
            _backend: backend,
        }
    }

    /// The next PaymentIntent creation is made in localstripe, but its answer never
    /// reaches the app (as when the app dies between asking and recording).
    pub fn lose_next_charge(&self) {
        self.inner.lock().unwrap().lose_next_charge = true;
    }

    /// From now on, payments are not announced by webhook.
    pub fn lose_webhooks(&self) {
        self.inner.lock().unwrap().lose_webhooks = true;
    }

    /// PaymentIntent creations that reached localstripe.
    pub fn charges_forwarded(&self) -> usize {
        self.inner.lock().unwrap().charges_forwarded
    }

    /// Calls localstripe directly (as the test, not as the app).
    pub async fn backend_call(&self, method: &str, path: &str, form: &[(&str, &str)]) -> Value {
        let backend = self
            .inner
            .lock()
            .unwrap()
            .backend
            .clone()
            .expect("backed by localstripe");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = reqwest::Client::new()
            .request(method, format!("{backend}{path}"))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Every PaymentIntent in localstripe made for one of our invoices.
    pub async fn payment_intents_for(&self, invoice_id: i64) -> Vec<Value> {
        let list = self
            .backend_call("GET", "/v1/payment_intents?limit=100", &[])
            .await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|pi| {
                pi["metadata"]["invoice_id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    == Some(invoice_id)
            })
            .cloned()
            .collect()
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
    let optional = |k: &str| Some(field(k)).filter(|v| !v.is_empty());
    let session = json!({
        "id": format!("cs_test_{n}"),
        "object": "checkout.session",
        "url": format!("{base}/pay/cs_test_{n}"),
        "mode": field("mode"),
        "customer": optional("customer"),
        "setup_intent": null,
        "capture_method": optional("payment_intent_data[capture_method]").unwrap_or_else(|| "automatic".into()),
        "payment_status": "unpaid",
        "payment_intent": (field("mode") == "payment").then(|| format!("pi_test_{n}")),
        "client_reference_id": field("client_reference_id"),
        "customer_email": field("customer_email"),
        "success_url": field("success_url"),
        "amount_total": field("line_items[0][price_data][unit_amount]").parse::<i64>().ok(),
        "currency": optional("line_items[0][price_data][currency]").or_else(|| optional("currency")),
        "product_name": field("line_items[0][price_data][product_data][name]"),
        "metadata": {"invoice_id": optional("metadata[invoice_id]"), "customer_id": optional("metadata[customer_id]")},
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
         <form method=\"post\"><label>Card number <input id=\"card\" name=\"card\" value=\"4242424242424242\"></label>\
         <button id=\"pay\">Pay</button></form>",
        amount / 100,
        amount % 100
    ))
    .into_response()
}

/// `POST /pay/{id}`: the card is accepted; Stripe tells the app (signed), then sends
/// the customer to the session's success URL. The form may name the test `card`
/// number and its `exp_year` (defaults: 4242 4242 4242 4242, 2030).
async fn pay(State((inner, _)): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let (session, target, backend, lose) = {
        let inner = inner.lock().unwrap();
        (
            find(&inner, &id),
            inner.webhook_url.clone(),
            inner.backend.clone(),
            inner.lose_webhooks,
        )
    };
    let (Some(mut session), Some(target)) = (session, target) else {
        return (StatusCode::NOT_FOUND, "no such session or no webhook URL").into_response();
    };
    if let (Some(backend), Some(customer)) =
        (backend, session["customer"].as_str().map(str::to_owned))
    {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let field = |k: &str, default: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map_or_else(|| default.to_owned(), |(_, v)| v.clone())
        };
        let card = field("card", "4242424242424242");
        let exp_year = field("exp_year", "2030");
        let exp_month = field("exp_month", "12");
        let call = |path: String, form: Vec<(&'static str, String)>| {
            let backend = backend.clone();
            async move {
                let resp = reqwest::Client::new()
                    .post(format!("{backend}{path}"))
                    .bearer_auth(SECRET_KEY)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let body: Value = resp.json().await.unwrap();
                assert!(status.is_success(), "{path}: {status} {body}");
                body
            }
        };
        let pm = call(
            "/v1/payment_methods".into(),
            vec![
                ("type", "card".into()),
                ("card[number]", card),
                ("card[exp_month]", exp_month),
                ("card[exp_year]", exp_year),
                ("card[cvc]", "123".into()),
            ],
        )
        .await;
        let pm = pm["id"].as_str().unwrap().to_owned();
        call(
            format!("/v1/payment_methods/{pm}/attach"),
            vec![("customer", customer.clone())],
        )
        .await;
        if session["mode"] == "setup" {
            let si = call(
                "/v1/setup_intents".into(),
                vec![("customer", customer.clone())],
            )
            .await;
            let si = si["id"].as_str().unwrap().to_owned();
            call(
                format!("/v1/setup_intents/{si}/confirm"),
                vec![("payment_method", pm)],
            )
            .await;
            session["setup_intent"] = json!(si);
        } else {
            let pi = call(
                "/v1/payment_intents".into(),
                vec![
                    ("amount", session["amount_total"].to_string()),
                    ("currency", session["currency"].as_str().unwrap().to_owned()),
                    ("customer", customer),
                    ("payment_method", pm),
                    ("confirm", "true".into()),
                    (
                        "capture_method",
                        session["capture_method"]
                            .as_str()
                            .unwrap_or("automatic")
                            .to_owned(),
                    ),
                    (
                        "metadata[invoice_id]",
                        session["metadata"]["invoice_id"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    ),
                ],
            )
            .await;
            session["payment_intent"] = pi["id"].clone();
        }
    }
    session["status"] = json!("complete");
    session["payment_status"] = json!(if session["mode"] == "setup" {
        "no_payment_required"
    } else if session["capture_method"] == "manual" {
        // Only authorized: Stripe calls the session complete but not paid.
        "unpaid"
    } else {
        "paid"
    });
    {
        let mut inner = inner.lock().unwrap();
        if let Some(stored) = inner.sessions.iter_mut().find(|s| s["id"] == id) {
            *stored = session.clone();
        }
    }
    if lose {
        let back = session["success_url"].as_str().unwrap_or("/").to_owned();
        return (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    }
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

/// `GET /v1/checkout/sessions/{id}`: the session as it stands.
async fn read_session(State((inner, _)): Shared, Path(id): Path<String>) -> Response {
    let found = find(&inner.lock().unwrap(), &id);
    match found {
        Some(session) => Json(session).into_response(),
        None => json_response(
            404,
            Bytes::from(
                json!({"error": {"type": "invalid_request_error",
                "message": format!("No such checkout.session: '{id}'")}})
                .to_string(),
            ),
        ),
    }
}

/// Every other API call: forwarded to localstripe (repeats of an idempotency key
/// answered from the first response), or, without a backend, bare Customers only.
async fn forward(
    State((inner, _)): Shared,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| format!("{method} {} {k}", uri.path()));
    let backend = {
        let mut inner = inner.lock().unwrap();
        if let Some((status, body)) = key.as_ref().and_then(|k| inner.responses.get(k)) {
            return json_response(*status, body.clone());
        }
        if inner.backend.is_none() {
            if method == axum::http::Method::POST && uri.path() == "/v1/customers" {
                inner.fake_customers += 1;
                let made = Bytes::from(
                    json!({"id": format!("cus_fake_{}", inner.fake_customers), "object": "customer"})
                        .to_string(),
                );
                if let Some(k) = key {
                    inner.responses.insert(k, (200, made.clone()));
                }
                return json_response(200, made);
            }
            return json_response(
                404,
                Bytes::from(
                    json!({"error": {"type": "invalid_request_error",
                    "message": format!("Unrecognized request URL ({method}: {})", uri.path())}})
                    .to_string(),
                ),
            );
        }
        inner.backend.clone().unwrap()
    };
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("{backend}{path}"))
        .body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(v) = headers.get(&name) {
            request = request.header(name.as_str(), v.as_bytes());
        }
    }
    let resp = request.send().await.unwrap();
    let status = resp.status().as_u16();
    let answer = resp.bytes().await.unwrap();
    let creates_charge = method == axum::http::Method::POST && uri.path() == "/v1/payment_intents";
    let mut inner = inner.lock().unwrap();
    if creates_charge {
        inner.charges_forwarded += 1;
    }
    if let Some(k) = key {
        // Stripe keeps every answer but server errors.
        if status < 500 {
            inner.responses.insert(k, (status, answer.clone()));
        }
    }
    if creates_charge && std::mem::take(&mut inner.lose_next_charge) {
        return json_response(
            502,
            Bytes::from(json!({"error": {"message": "connection lost"}}).to_string()),
        );
    }
    json_response(status, answer)
}

fn json_response(status: u16, body: Bytes) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
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
    if session["capture_method"] != "manual" {
        paid["payment_status"] = json!("paid");
    }
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
