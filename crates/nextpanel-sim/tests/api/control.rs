//! The `/_sim` control API and the in-process handle.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{detail, TestSim};

#[tokio::test]
async fn control_api_needs_the_token() {
    let app = TestSim::start().await;
    for (method, path) in [
        (Method::GET, "/_sim/state"),
        (Method::GET, "/_sim/stats"),
        (Method::GET, "/_sim/faults"),
        (Method::POST, "/_sim/faults"),
        (Method::POST, "/_sim/reset"),
        (Method::POST, "/_sim/credentials/revoke"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth("wrong-token")
            .json(&json!({"offline": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    assert!(!app.sim.faults().offline);
}

#[tokio::test]
async fn stats_count_requests_per_endpoint() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    app.get(&format!("/api/v1/billing/accounts/{id}")).await;
    app.get(&format!("/api/v1/billing/accounts/{id}/stats"))
        .await;
    app.get("/api/health").await;
    let stats = app.sim_stats().await;
    assert_eq!(stats["creates_performed"], 1);
    let requests = &stats["requests"];
    assert_eq!(requests["POST /api/v1/billing/accounts"], 1);
    assert_eq!(requests["GET /api/v1/billing/accounts/{id}"], 1);
    assert_eq!(requests["GET /api/v1/billing/accounts/{id}/stats"], 1);
    assert_eq!(requests["GET /api/health"], 1);
    assert!(requests.get("GET /_sim/stats").is_none());
}

#[tokio::test]
async fn reset_clears_accounts_counters_and_faults() {
    let app = TestSim::start().await;
    app.create_ok("alice").await;
    app.set_faults(json!({"latency_ms": 10, "lost_response": true}))
        .await;
    let response = app
        .control(Method::POST, "/_sim/reset")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let state = app.sim_state().await;
    assert!(state["accounts"].as_array().unwrap().is_empty());
    let faults = app.sim.faults();
    assert_eq!(faults.latency_ms, 0);
    assert!(!faults.lost_response);
    assert_eq!(app.sim.stats()["creates_performed"], 0);
    // Ids start again at 1.
    assert_eq!(app.create_ok("alice").await, 1);
}

#[tokio::test]
async fn usage_figures_can_be_set_for_usage_polling() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    let response = app
        .control(Method::POST, &format!("/_sim/accounts/{id}/usage"))
        .json(&json!({
            "extra_storage_bytes": 1_048_576,
            "ssl_certificates": 2,
            "last_login": "2025-01-02T03:04:05Z",
            "created_at": "2020-01-01T00:00:00Z"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stats: Value = app
        .get(&format!("/api/v1/billing/accounts/{id}/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["storage_used"], 1_048_576);
    assert_eq!(stats["total_ssl_certificates"], 2);
    assert_eq!(stats["last_login"], "2025-01-02T03:04:05Z");
    assert!(stats["account_age_days"].as_i64().unwrap() > 365);
}

#[tokio::test]
async fn handle_helpers_use_the_shared_state() {
    let app = TestSim::start().await;
    assert!(app.sim.base_url().starts_with("http://127.0.0.1:"));
    assert!(app.sim.api_key().starts_with("npk_"));
    let faults = app.sim.set_faults(json!({"offline": true})).unwrap();
    assert!(faults.offline);
    assert_eq!(app.get("/api/health").await.status(), 503);
    assert!(app.sim.set_faults(json!({"nonsense": 1})).is_err());
    app.sim.set_faults(json!({"offline": false})).unwrap();
    app.create_ok("alice").await;
    assert_eq!(app.sim.state()["accounts"][0]["username"], "alice");
    assert!(app.sim.set_revoked(app.sim.api_key(), true).unwrap());
    let (status, text) = detail(app.get("/api/v1/billing/accounts").await).await;
    assert_eq!((status, text.as_str()), (401, "API key is revoked"));
    assert!(!app.sim.set_revoked("npk_nobody", true).unwrap());
}

#[tokio::test]
async fn unknown_routes_are_404_with_detail() {
    let app = TestSim::start().await;
    let (status, text) = detail(app.get("/api/v2/nothing").await).await;
    assert_eq!((status, text.as_str()), (404, "Not Found"));
}
