//! Fault injection: offline, random errors, latency, hanging, lost responses.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{create_body, detail, TestSim};

#[tokio::test]
async fn offline_answers_503_everywhere_but_the_control_api() {
    let app = TestSim::start().await;
    app.set_faults(json!({"offline": true})).await;
    let response = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(
        detail(response).await,
        (503, "Service unavailable".to_owned())
    );
    assert_eq!(app.get("/api/v1/billing/accounts").await.status(), 503);
    assert_eq!(app.create("alice").await.status(), 503);
    assert_eq!(app.sim.stats()["creates_performed"], 0);

    app.set_faults(json!({"offline": false})).await;
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn offline_refuse_closes_connections_without_an_answer() {
    let app = TestSim::start().await;
    app.set_faults(json!({"offline": true, "offline_mode": "refuse"}))
        .await;
    let started = Instant::now();
    let error = app
        .client
        .get(app.url("/api/health"))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The control API still answers, so the fault can be lifted.
    app.set_faults(json!({"offline": false})).await;
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn error_rate_one_fails_every_call_without_doing_anything() {
    let app = TestSim::start().await;
    app.set_faults(json!({"error_rate": 1.0})).await;
    for _ in 0..5 {
        let status = app.create("alice").await.status();
        assert!(status == 500 || status == 503, "{status}");
    }
    let stats = app.sim_stats().await;
    assert_eq!(stats["creates_performed"], 0);
    assert_eq!(stats["injected_errors"], 5);
    assert_eq!(stats["requests"]["POST /api/v1/billing/accounts"], 5);
    app.set_faults(json!({"error_rate": 0.0})).await;
    assert_eq!(app.create("alice").await.status(), 201);
}

#[tokio::test]
async fn latency_delays_answers() {
    let app = TestSim::start().await;
    app.set_faults(json!({"latency_ms": 150, "jitter_ms": 20}))
        .await;
    let started = Instant::now();
    assert_eq!(app.get("/api/v1/billing/accounts").await.status(), 200);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    // The control API is never delayed.
    let started = Instant::now();
    app.sim_state().await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn timeout_holds_requests_until_the_client_gives_up_then_lets_go() {
    let app = TestSim::start().await;
    app.set_faults(json!({"timeout": true, "hang_ms": 1500}))
        .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = impatient
        .get(app.url("/api/health"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));

    // A patient client gets 504 once the hang elapses, and nothing was created.
    app.set_faults(json!({"hang_ms": 300})).await;
    let started = Instant::now();
    let response = app.create("alice").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.status(), 504);
    assert_eq!(app.sim.stats()["creates_performed"], 0);
}

#[tokio::test]
async fn lost_response_creates_then_drops_the_connection() {
    let app = TestSim::start().await;
    app.set_faults(json!({"lost_response": true})).await;
    let started = Instant::now();
    let error = app
        .api(Method::POST, "/api/v1/billing/accounts")
        .header("Idempotency-Key", "lost-1")
        .json(&create_body("alice"))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // The ambiguous failure: the account exists although the client saw nothing.
    let state = app.sim_state().await;
    assert_eq!(state["accounts"][0]["username"], "alice");
    let stats = app.sim_stats().await;
    assert_eq!(stats["creates_performed"], 1);
    assert_eq!(stats["dropped_connections"], 1);

    // Reads still answer while writes are lost, so a client can look the account up.
    let list: Vec<Value> = app
        .get("/api/v1/billing/accounts?username=alice")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);

    // A retry with the same key, once answers flow again, gets the first result.
    app.set_faults(json!({"lost_response": false})).await;
    let retry = app
        .api(Method::POST, "/api/v1/billing/accounts")
        .header("Idempotency-Key", "lost-1")
        .json(&create_body("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    let body: Value = retry.json().await.unwrap();
    assert_eq!(body["id"], list[0]["id"]);
    assert_eq!(app.sim.stats()["creates_performed"], 1);
}

#[tokio::test]
async fn fault_settings_are_validated_and_readable() {
    let app = TestSim::start().await;
    let response = app
        .control(Method::POST, "/_sim/faults")
        .json(&json!({"error_rate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .control(Method::POST, "/_sim/faults")
        .json(&json!({"ofline": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let faults = app
        .set_faults(json!({"latency_ms": 50, "error_rate": 0.05}))
        .await;
    assert_eq!(faults["latency_ms"], 50);
    assert_eq!(faults["error_rate"], 0.05);
    assert_eq!(faults["hang_ms"], 120_000);
    let read: Value = app
        .control(Method::GET, "/_sim/faults")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, faults);
}
