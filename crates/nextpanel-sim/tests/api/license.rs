//! The license callback round trip against a fake nextpanel-bill that checks
//! the HMAC signature exactly as the contract describes (callbacks version 2:
//! a fresh `request_id`, signed after the timestamp).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use nextpanel_sim::SimConfig;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{detail, TestSim};

const GOOD: &str = "NP-ABCD-EFGH-JKLM-NPQR";
const EXHAUSTED: &str = "NP-WXYZ-2345-6789-ABCD";

/// A fake billing system that knows one server's key pair.
struct FakeBilling {
    api_key: String,
    api_secret: String,
    calls: Mutex<Vec<Value>>,
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn unauthorized(detail: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "detail": detail }))).into_response()
}

impl FakeBilling {
    /// Checks the key, the timestamp window, the request id and the signature over
    /// `fields|timestamp|request_id`.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        body: &Value,
        fields: &[&str],
    ) -> Result<(), Box<Response>> {
        if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(self.api_key.as_str()) {
            return Err(Box::new(unauthorized("Unknown API key")));
        }
        let timestamp = body["timestamp"].as_i64().unwrap_or(0);
        if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
            return Err(Box::new(unauthorized("Stale timestamp")));
        }
        let mut parts: Vec<String> = fields
            .iter()
            .map(|f| match &body[*f] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        parts.push(timestamp.to_string());
        let request_id = body["request_id"].as_str().unwrap_or_default();
        let well_formed = (16..=64).contains(&request_id.len())
            && request_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            return Err(Box::new(unauthorized("Missing or malformed request_id")));
        }
        parts.push(request_id.to_owned());
        let expected = hmac_hex(&self.api_secret, &parts.join("|"));
        if body["signature"].as_str() != Some(expected.as_str()) {
            return Err(Box::new(unauthorized("Invalid signature")));
        }
        Ok(())
    }
}

async fn validate(
    State(fake): State<Arc<FakeBilling>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(refused) = fake.authenticate(&headers, &body, &["license_key", "feature"]) {
        return *refused;
    }
    fake.calls
        .lock()
        .unwrap()
        .push(json!({"call": "validate", "body": body}));
    if body["license_key"] == GOOD {
        Json(json!({"valid": true, "remaining_quota": 4, "error": null})).into_response()
    } else {
        Json(json!({"valid": false, "remaining_quota": 0, "error": "Database quota exceeded"}))
            .into_response()
    }
}

async fn usage(
    State(fake): State<Arc<FakeBilling>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(refused) = fake.authenticate(&headers, &body, &["license_key", "resource", "delta"])
    {
        return *refused;
    }
    fake.calls
        .lock()
        .unwrap()
        .push(json!({"call": "usage", "body": body}));
    Json(json!({"current": 1, "max": 5})).into_response()
}

/// Starts the fake billing system; returns its base URL and its record of calls.
async fn start_billing(api_key: &str, api_secret: &str) -> (String, Arc<FakeBilling>) {
    let fake = Arc::new(FakeBilling {
        api_key: api_key.to_owned(),
        api_secret: api_secret.to_owned(),
        calls: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/api/v1/licenses/validate", post(validate))
        .route("/api/v1/licenses/usage", post(usage))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, fake)
}

/// A simulator whose main key pair billing knows, with license callbacks on.
async fn start_pair() -> (TestSim, Arc<FakeBilling>, u64) {
    let config = SimConfig::random().unwrap();
    let credential = config.credentials[0].clone();
    let (url, fake) = start_billing(&credential.api_key, &credential.api_secret).await;
    let app = TestSim::start_with(config.with_billing_url(url)).await;
    let id = app.create_ok("alice").await;
    (app, fake, id)
}

async fn total(app: &TestSim, id: u64, key: &str) -> u64 {
    let stats: Value = app
        .get(&format!("/api/v1/billing/accounts/{id}/stats"))
        .await
        .json()
        .await
        .unwrap();
    stats[key].as_u64().unwrap()
}

#[tokio::test]
async fn valid_license_creates_the_database_and_reports_usage() {
    let (app, fake, id) = start_pair().await;
    let path = format!("/api/v1/billing/accounts/{id}/databases");
    let response = app
        .post(
            &path,
            json!({"name": "shop", "license_key": GOOD, "size_bytes": 4096}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["remaining_quota"], 4);
    assert_eq!(total(&app, id, "total_databases").await, 1);
    assert_eq!(total(&app, id, "storage_used").await, 4096);

    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0]["call"], "validate");
    assert_eq!(calls[0]["body"]["feature"], "create_database");
    assert_eq!(calls[0]["body"]["license_key"], GOOD);
    assert_eq!(calls[1]["call"], "usage");
    assert_eq!(calls[1]["body"]["resource"], "databases");
    assert_eq!(calls[1]["body"]["delta"], 1);
    let stats = app.sim_stats().await;
    assert_eq!(stats["license_validations"], 1);
    assert_eq!(stats["usage_reports"], 1);

    // Removal reports a negative delta.
    assert_eq!(app.delete(&format!("{path}/shop")).await.status(), 200);
    assert_eq!(total(&app, id, "total_databases").await, 0);
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls[2]["body"]["delta"], -1);
    // Each callback carries its own request id, so none looks like a replay.
    let mut ids: Vec<&str> = calls
        .iter()
        .map(|c| c["body"]["request_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), calls.len(), "{calls:?}");

    let state = app.sim_state().await;
    assert!(state["accounts"][0]["databases"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn refused_license_is_403_with_the_billing_error() {
    let (app, fake, id) = start_pair().await;
    let response = app
        .post(
            &format!("/api/v1/billing/accounts/{id}/databases"),
            json!({"name": "shop", "license_key": EXHAUSTED}),
        )
        .await;
    assert_eq!(
        detail(response).await,
        (403, "Database quota exceeded".to_owned())
    );
    assert_eq!(total(&app, id, "total_databases").await, 0);
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "no usage report after a refusal");
    assert_eq!(app.sim_stats().await["license_refusals"], 1);
}

#[tokio::test]
async fn domains_and_mailboxes_validate_their_own_features() {
    let (app, fake, id) = start_pair().await;
    let base = format!("/api/v1/billing/accounts/{id}");
    let response = app
        .post(
            &format!("{base}/domains"),
            json!({"name": "example.com", "license_key": GOOD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let response = app
        .post(
            &format!("{base}/email-accounts"),
            json!({"name": "info@example.com", "license_key": GOOD}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(total(&app, id, "total_domains").await, 1);
    assert_eq!(total(&app, id, "total_email_accounts").await, 1);
    let calls = fake.calls.lock().unwrap().clone();
    let features: Vec<&Value> = calls
        .iter()
        .filter(|c| c["call"] == "validate")
        .map(|c| &c["body"]["feature"])
        .collect();
    assert_eq!(features, [&json!("create_domain"), &json!("create_email")]);
    let resources: Vec<&Value> = calls
        .iter()
        .filter(|c| c["call"] == "usage")
        .map(|c| &c["body"]["resource"])
        .collect();
    assert_eq!(resources, [&json!("domains"), &json!("emails")]);
}

#[tokio::test]
async fn a_signature_billing_rejects_refuses_the_creation() {
    // Billing knows another secret for this key, so every signature is wrong.
    let config = SimConfig::random().unwrap();
    let (url, fake) = start_billing(&config.credentials[0].api_key, "nps_other").await;
    let app = TestSim::start_with(config.with_billing_url(url)).await;
    let id = app.create_ok("alice").await;
    let (status, text) = detail(
        app.post(
            &format!("/api/v1/billing/accounts/{id}/databases"),
            json!({"name": "shop", "license_key": GOOD}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 502);
    assert!(text.contains("Invalid signature"), "{text}");
    assert_eq!(total(&app, id, "total_databases").await, 0);
    assert!(fake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_billing_url_resources_are_created_unchecked() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    let path = format!("/api/v1/billing/accounts/{id}/databases");
    assert_eq!(app.post(&path, json!({"name": "shop"})).await.status(), 201);
    let (status, text) = detail(app.post(&path, json!({"name": "shop"})).await).await;
    assert_eq!(status, 400);
    assert!(text.ends_with("already exists"));
    assert_eq!(total(&app, id, "total_databases").await, 1);
    let (status, _) = detail(
        app.post(
            "/api/v1/billing/accounts/99/databases",
            json!({"name": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn billing_url_can_be_set_at_run_time_and_requires_a_license_key() {
    let app = TestSim::start().await;
    let (url, fake) = start_billing(app.sim.api_key(), app.sim.api_secret()).await;
    let response = app
        .control(Method::POST, "/_sim/license-callback")
        .json(&json!({"billing_url": format!("{url}/")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = app.create_ok("alice").await;
    let path = format!("/api/v1/billing/accounts/{id}/databases");
    let (status, text) = detail(app.post(&path, json!({"name": "shop"})).await).await;
    assert_eq!(status, 400);
    assert!(text.contains("license_key"));
    let response = app
        .post(&path, json!({"name": "shop", "license_key": GOOD}))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(fake.calls.lock().unwrap().len(), 2);
}
