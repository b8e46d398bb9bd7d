//! The older billing system's automation calls (`../shared/seed-api.md`), driven as its
//! scripts drive them: ids read from one answer are sent back as strings, the legacy
//! fields (`is_active`, `create_subscription`) are sent and mean what they meant there,
//! and answers carry the fields those scripts read.

use nextpanel_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

/// An id as such a script holds it: the text of whatever the answer had.
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_documented_call_works_with_the_documented_bodies() {
    let app = TestApp::spawn().await;

    // sign in: `.access_token`
    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (_sim, server_id) = app
        .sim_server(&token, "legacy-node", 50, SimConfig::random().unwrap())
        .await;
    app.plan(&token, "Starter").await;

    // list servers: a bare array with id, name, base_url, current_accounts, capacity
    let (status, servers) = app.get("/api/v1/nextpanel/servers", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let servers = servers.as_array().expect("a bare JSON array");
    assert_eq!(servers.len(), 1);
    for key in ["id", "name", "base_url", "current_accounts", "capacity"] {
        assert!(!servers[0][key].is_null(), "servers[0].{key} missing");
    }
    assert_eq!(servers[0]["name"], "legacy-node");

    // server status: capacity and utilisation per server
    let (status, statuses) = app
        .get("/api/v1/nextpanel/servers/status", Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let statuses = statuses.as_array().expect("a bare JSON array");
    assert_eq!(statuses[0]["capacity"], 50);
    assert_eq!(statuses[0]["utilization_percent"], 0);

    // create a customer with `is_active` and `company_name`: `.id`
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Some(&token),
            json!({"email": "legacy@example.com", "full_name": "Legacy Customer",
                   "password": "legacy-password-1", "is_active": true, "company_name": "Old Co"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    assert_eq!(customer["is_active"], true);
    assert_eq!(customer["company_name"], "Old Co");
    let customer_id = id_text(&customer["id"]);

    // list plans: a bare array, `.[0].id`, `.[0].name`
    let (status, plans) = app.get("/api/v1/plans", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plans[0]["name"], "Starter");
    let plan_id = id_text(&plans[0]["id"]);

    // add a product: the plan id as a string, `create_subscription`: `.license_key`
    let (status, license) = app
        .post(
            &format!("/api/v1/customers/{customer_id}/licenses"),
            Some(&token),
            json!({"plan_id": plan_id, "billing_cycle": "monthly", "create_subscription": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{license}");
    assert!(license["license_key"].as_str().unwrap().starts_with("NP-"));
    assert_eq!(license["auto_renew"], true);

    // provision with quoted ids: `.success`, `.nextpanel_user_id`, `.server_name`, `.server_url`
    let (status, provisioned) = app
        .post(
            "/api/v1/nextpanel/provision",
            Some(&token),
            json!({"customer_id": customer_id, "username": "legacyuser", "email": "legacy@example.com",
                   "password": "Panel-password-1", "full_name": "Legacy Customer", "company": "Old Co",
                   "server_id": server_id.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{provisioned}");
    assert_eq!(provisioned["success"], true);
    assert!(provisioned["nextpanel_user_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(provisioned["server_name"], "legacy-node");
    assert_eq!(provisioned["server_url"], servers[0]["base_url"]);
    assert_eq!(provisioned["license_key"], license["license_key"]);

    // errors: FastAPI's `.detail`, a string; and no `.success: true`
    let (status, failed) = app
        .post(
            "/api/v1/nextpanel/provision",
            Some(&token),
            json!({"customer_id": customer_id, "username": "legacyuser", "email": "legacy@example.com",
                   "password": "Panel-password-1", "full_name": "Legacy Customer", "company": "Old Co",
                   "server_id": server_id.to_string()}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {failed}");
    assert!(
        failed["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{failed}"
    );
    assert_ne!(failed["success"], true);
}

#[tokio::test]
async fn legacy_fields_keep_their_meaning() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;

    // `is_active: false` creates the customer deactivated: they cannot sign in yet.
    let (status, body) = app
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"email": "later@example.com", "full_name": "Later", "password": "later-password-1", "is_active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["is_active"], false);
    let later = body["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "later@example.com", "password": "later-password-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.post(
        &format!("/api/v1/customers/{later}/activate"),
        Some(&admin),
        json!({}),
    )
    .await;
    app.login("later@example.com", "later-password-1").await;

    // `create_subscription: false`: a license that ends at its expiry; the billing run
    // issues no renewal for it, while a renewing one gets its invoice.
    let (status, once) = app
        .post(
            &format!("/api/v1/customers/{later}/licenses"),
            Some(&admin),
            json!({"plan_id": plan.to_string(), "billing_cycle": "monthly", "create_subscription": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{once}");
    assert_eq!(once["auto_renew"], false);
    let renewing = app.license(&admin, later, plan).await;
    assert_eq!(renewing["auto_renew"], true);
    let soon = chrono::Utc::now() + chrono::Duration::days(2);
    for license in [&once, &renewing] {
        let id = license["id"].as_i64().unwrap();
        app.set_time("licenses", "expires_at", id, soon).await;
    }
    let (status, run) = app
        .post("/api/v1/billing/run", Some(&admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let renewals = app
        .query_strings("SELECT CAST(license_id AS TEXT) FROM invoices WHERE kind = 'renewal'")
        .await;
    assert_eq!(renewals, vec![renewing["id"].to_string()]);
    // An admin may turn renewing back on.
    let (status, body) = app
        .patch(
            &format!("/api/v1/licenses/{}", once["id"]),
            Some(&admin),
            json!({"auto_renew": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["auto_renew"], true);
}

#[tokio::test]
async fn only_the_documented_legacy_fields_are_accepted() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let before = app.count("users").await;

    // Typos are still refused, naming the field.
    assert_error(
        app.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"email": "t@example.com", "full_name": "T", "is_activ": true}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("is_activ"),
    );
    assert_eq!(app.count("users").await, before);
    let path = format!("/api/v1/customers/{customer}/licenses");
    assert_error(
        app.post(
            &path,
            Some(&admin),
            json!({"plan_id": plan, "billing_cycle": "monthly", "create_subscriptions": true}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("create_subscriptions"),
    );
    // A quoted id must be a whole number.
    for bad in [json!("1.0"), json!("one"), json!(""), json!(" 1")] {
        assert_error(
            app.post(
                &path,
                Some(&admin),
                json!({"plan_id": bad, "billing_cycle": "monthly"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("plan_id"),
        );
    }
    assert_error(
        app.post(
            "/api/v1/nextpanel/provision",
            Some(&admin),
            json!({"customer_id": "abc", "username": "someone"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("customer_id"),
    );
    assert_eq!(app.count("licenses").await, 0);
}
