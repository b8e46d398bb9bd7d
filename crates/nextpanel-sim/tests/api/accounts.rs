//! The baseline account endpoints and their validation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{create_body, detail, TestSim};

#[tokio::test]
async fn health_answers_without_credentials_and_lists_extensions() {
    let app = TestSim::start().await;
    let response = app.client.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "connected");
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(
        body["extensions"],
        json!(["idempotency", "lookup", "package", "password"])
    );
}

#[tokio::test]
async fn create_returns_201_with_increasing_ids_and_the_account_object() {
    let app = TestSim::start().await;
    let response = app.create("alice").await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 1);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["status"], "active");
    assert_eq!(body["is_admin"], false);
    assert_eq!(body["package_id"], 1);
    assert_eq!(body["billing_id"], "cus_alice");
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert_eq!(body["metadata"]["account_type"], "panel");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(!body.to_string().contains("Secr3t"), "password echoed");
    assert_eq!(app.create_ok("bob").await, 2);
}

#[tokio::test]
async fn duplicate_username_is_400_already_exists() {
    let app = TestSim::start().await;
    app.create_ok("alice").await;
    let (status, text) = detail(app.create("alice").await).await;
    assert_eq!(status, 400);
    assert_eq!(text, "User with username 'alice' already exists");
    assert!(text.ends_with("already exists"));
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_problem() {
    let app = TestSim::start().await;
    for (username, problem) in [
        ("ab", "3 to 32"),
        ("Alice", "lowercase"),
        ("9lives", "start with a letter"),
        ("bad_name", "lowercase"),
    ] {
        let (status, text) = detail(app.create(username).await).await;
        assert_eq!(status, 400, "{username}");
        assert!(
            text.contains("username") && text.contains(problem),
            "{text}"
        );
    }
    let mut body = create_body("carol");
    body["email"] = Value::Null;
    let (status, text) = detail(app.post("/api/v1/billing/accounts", body).await).await;
    assert_eq!(status, 400);
    assert!(text.contains("email"), "{text}");

    let response = app
        .api(Method::POST, "/api/v1/billing/accounts")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.sim.stats()["creates_performed"], 0);
}

#[tokio::test]
async fn get_list_and_stats() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    app.create_ok("bob").await;

    let response = app.get(&format!("/api/v1/billing/accounts/{id}")).await;
    assert_eq!(response.status(), 200);
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["username"], "alice");

    let list: Vec<Value> = app
        .get("/api/v1/billing/accounts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);

    let stats: Value = app
        .get(&format!("/api/v1/billing/accounts/{id}/stats"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["user_id"], id);
    assert_eq!(stats["username"], "alice");
    for key in [
        "total_domains",
        "total_databases",
        "total_email_accounts",
        "total_ssl_certificates",
        "storage_used",
        "account_age_days",
    ] {
        assert_eq!(stats[key], 0, "{key}");
    }
    assert!(stats["last_login"].is_null());

    let (status, text) = detail(app.get("/api/v1/billing/accounts/999").await).await;
    assert_eq!((status, text.as_str()), (404, "Account not found"));
}

#[tokio::test]
async fn suspend_and_unsuspend() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    let path = format!("/api/v1/billing/accounts/{id}");
    let response = app
        .post(
            &format!("{path}/suspend"),
            json!({"reason": "Unpaid invoice"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let account: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(account["status"], "suspended");
    assert_eq!(account["suspension_reason"], "Unpaid invoice");

    // Unsuspend has no body at all.
    let response = app
        .api(Method::POST, &format!("{path}/unsuspend"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let account: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(account["status"], "active");

    let (status, _) = detail(
        app.post("/api/v1/billing/accounts/77/suspend", json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn delete_then_delete_again_is_404() {
    let app = TestSim::start().await;
    let id = app.create_ok("alice").await;
    let path = format!("/api/v1/billing/accounts/{id}");
    assert_eq!(app.delete(&path).await.status(), 200);
    let (status, text) = detail(app.delete(&path).await).await;
    assert_eq!((status, text.as_str()), (404, "Account not found"));
    let list: Vec<Value> = app
        .get("/api/v1/billing/accounts")
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
    // Ids are never reused.
    assert_eq!(app.create_ok("bob").await, 2);
}
