//! The extensions (idempotency, lookup, package, password) and baseline mode.

use nextpanel_sim::SimConfig;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{create_body, detail, TestSim};

async fn create_with_key(app: &TestSim, username: &str, key: &str) -> reqwest::Response {
    app.api(Method::POST, "/api/v1/billing/accounts")
        .header("Idempotency-Key", key)
        .json(&create_body(username))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_creates_once() {
    let app = TestSim::start().await;
    let key = "7d5b2a4e-0c0b-4a63-9d59-1f0c2b3a4d5e";
    let first = create_with_key(&app, "alice", key).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();

    let again = create_with_key(&app, "alice", key).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);

    let stats = app.sim_stats().await;
    assert_eq!(stats["creates_performed"], 1);
    assert_eq!(stats["idempotent_replays"], 1);
    assert_eq!(stats["requests"]["POST /api/v1/billing/accounts"], 2);

    // Another key is another create.
    let other = create_with_key(&app, "bob", "another-key").await;
    assert_eq!(other.status(), 201);
    assert_eq!(
        app.sim_state().await["accounts"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn lookup_filters_by_username_and_billing_id() {
    let app = TestSim::start().await;
    app.create_ok("alice").await;
    app.create_ok("bob").await;
    let by_name: Vec<Value> = app
        .get("/api/v1/billing/accounts?username=bob")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0]["username"], "bob");
    let by_billing: Vec<Value> = app
        .get("/api/v1/billing/accounts?billing_id=cus_alice")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_billing.len(), 1);
    assert_eq!(by_billing[0]["username"], "alice");
    let none: Vec<Value> = app
        .get("/api/v1/billing/accounts?username=nobody")
        .await
        .json()
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn package_and_password_change() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    let path = format!("/api/v1/billing/accounts/{id}");
    let response = app
        .post(&format!("{path}/package"), json!({"package_id": 2}))
        .await;
    assert_eq!(response.status(), 200);
    let account: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(account["package_id"], 2);

    let response = app
        .post(
            &format!("{path}/password"),
            json!({"password": "N3w-Secret-Pw"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let state = app.sim_state().await;
    assert_eq!(state["accounts"][0]["password_set"], true);
    assert!(!state.to_string().contains("N3w-Secret-Pw"));

    let (status, _) = detail(app.post(&format!("{path}/password"), json!({})).await).await;
    assert_eq!(status, 400);
    let (status, _) = detail(
        app.post(
            "/api/v1/billing/accounts/99/package",
            json!({"package_id": 2}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn baseline_advertises_and_honours_no_extensions() {
    let app = TestSim::start_with(SimConfig::random().unwrap().with_baseline(true)).await;
    let health: Value = app
        .client
        .get(app.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert!(health.get("extensions").is_none(), "{health}");

    // The idempotency header is ignored: the second create is a duplicate.
    assert_eq!(create_with_key(&app, "alice", "k1").await.status(), 201);
    let (status, text) = detail(create_with_key(&app, "alice", "k1").await).await;
    assert_eq!(status, 400);
    assert!(text.ends_with("already exists"));
    app.create_ok("bob").await;

    // Filters are ignored: the full list comes back.
    let list: Vec<Value> = app
        .get("/api/v1/billing/accounts?username=bob")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);

    let (status, _) = detail(
        app.post(
            "/api/v1/billing/accounts/1/package",
            json!({"package_id": 2}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = detail(
        app.post(
            "/api/v1/billing/accounts/1/password",
            json!({"password": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(app.delete("/api/v1/billing/accounts/1").await.status(), 200);
}

#[tokio::test]
async fn baseline_can_be_switched_at_run_time() {
    let app = TestSim::start().await;
    let faults = app.set_faults(json!({"baseline": true})).await;
    assert_eq!(faults["baseline"], true);
    let health: Value = app.get("/api/health").await.json().await.unwrap();
    assert!(health.get("extensions").is_none());
    app.set_faults(json!({"baseline": false})).await;
    let health: Value = app.get("/api/health").await.json().await.unwrap();
    assert_eq!(health["extensions"].as_array().unwrap().len(), 4);
}
