use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

fn is_license_key(key: &str) -> bool {
    const ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let groups: Vec<&str> = key.split('-').collect();
    groups.len() == 5
        && groups[0] == "NP"
        && groups[1..]
            .iter()
            .all(|g| g.len() == 4 && g.chars().all(|c| ALPHABET.contains(c)))
}

#[tokio::test]
async fn adding_a_product_issues_a_license_with_the_plans_quotas() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let (status, license) = app
        .post(
            &format!("/api/v1/customers/{customer}/licenses"),
            Some(&admin),
            json!({"plan_id": plan, "billing_cycle": "annual"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{license}");
    assert!(
        is_license_key(license["license_key"].as_str().unwrap()),
        "{license}"
    );
    assert_eq!(license["status"], "active");
    assert_eq!(license["customer_id"], customer);
    assert_eq!(license["billing_cycle"], "annual");
    assert_eq!(
        license["quotas"],
        json!({"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1})
    );
    let activated =
        chrono::DateTime::parse_from_rfc3339(license["activated_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(license["expires_at"].as_str().unwrap()).unwrap();
    assert!((365..=366).contains(&(expires - activated).num_days()));

    // Later plan changes do not touch licenses already issued.
    app.patch(&format!("/api/v1/plans/{plan}"), Some(&admin), json!({"quotas": {"max_accounts": 9, "max_domains": 9, "max_databases": 9, "max_emails": 9, "storage_mb": 9, "bandwidth_mb": 9}})).await;
    let (_, again) = app
        .get(&format!("/api/v1/licenses/{}", license["id"]), Some(&admin))
        .await;
    assert_eq!(again["quotas"]["max_domains"], 5);

    let (_, listed) = app
        .get(
            &format!("/api/v1/customers/{customer}/licenses"),
            Some(&admin),
        )
        .await;
    assert_eq!(listed["total"], 1);
    let (_, audit) = app
        .get(
            &format!(
                "/api/v1/audit-log?entity_type=license&entity_id={}",
                license["id"]
            ),
            Some(&admin),
        )
        .await;
    assert_eq!(audit["items"][0]["action"], "license.issued");
    assert_eq!(
        audit["items"][0]["after"]["license_key"],
        license["license_key"]
    );
}

#[tokio::test]
async fn license_keys_are_well_formed_and_unique() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "many@example.com").await;
    let mut keys = HashSet::new();
    for _ in 0..40 {
        let license = app.license(&admin, customer, plan).await;
        let key = license["license_key"].as_str().unwrap().to_owned();
        assert!(is_license_key(&key), "{key}");
        assert!(keys.insert(key), "duplicate license key");
    }
    // The database enforces uniqueness too.
    let sql = "UPDATE licenses SET license_key = (SELECT license_key FROM licenses WHERE id = 1) WHERE id = 2";
    let duplicate = match &app.db {
        billing::store::Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        billing::store::Db::Postgres(p, _) => sqlx::query(sql).execute(p).await.map(|_| ()),
    };
    assert!(
        duplicate.is_err(),
        "the licenses table accepted a duplicate key"
    );
}

#[tokio::test]
async fn invalid_license_requests_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let path = format!("/api/v1/customers/{customer}/licenses");
    assert_error(
        app.post(
            &path,
            Some(&admin),
            json!({"plan_id": 999, "billing_cycle": "monthly"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("plan_id"),
    );
    assert_error(
        app.post(
            &path,
            Some(&admin),
            json!({"plan_id": plan, "billing_cycle": "quarterly"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("billing_cycle"),
    );
    assert_error(
        app.post(
            &path,
            Some(&admin),
            json!({"plan_id": plan, "billing_cycle": "weekly"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("billing_cycle"),
    );
    assert_error(
        app.post(
            &path,
            Some(&admin),
            json!({"plan_id": "one", "billing_cycle": "monthly"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("plan_id"),
    );
    assert_error(
        app.post(
            "/api/v1/customers/999/licenses",
            Some(&admin),
            json!({"plan_id": plan, "billing_cycle": "monthly"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    app.patch(
        &format!("/api/v1/plans/{plan}"),
        Some(&admin),
        json!({"is_active": false}),
    )
    .await;
    assert_error(
        app.post(
            &path,
            Some(&admin),
            json!({"plan_id": plan, "billing_cycle": "monthly"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("plan_id"),
    );
    assert_eq!(app.count("licenses").await, 0);
}

#[tokio::test]
async fn licenses_are_extended_suspended_and_cancelled_with_an_audit_trail() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let license = app.license(&admin, customer, plan).await;
    let id = license["id"].as_i64().unwrap();
    let path = format!("/api/v1/licenses/{id}");
    let old_expiry =
        chrono::DateTime::parse_from_rfc3339(license["expires_at"].as_str().unwrap()).unwrap();

    let (status, extended) = app
        .patch(&path, Some(&admin), json!({"extend_cycles": 2}))
        .await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    let new_expiry =
        chrono::DateTime::parse_from_rfc3339(extended["expires_at"].as_str().unwrap()).unwrap();
    assert!((59..=62).contains(&(new_expiry - old_expiry).num_days()));

    let (_, changed) = app.patch(&path, Some(&admin), json!({"quotas": {"max_accounts": 3, "max_domains": 20, "max_databases": 20, "max_emails": 50, "storage_mb": 20480, "bandwidth_mb": -1}})).await;
    assert_eq!(changed["quotas"]["max_accounts"], 3);

    let (_, suspended) = app
        .patch(&path, Some(&admin), json!({"status": "suspended"}))
        .await;
    assert_eq!(suspended["status"], "suspended");
    let (_, active) = app
        .patch(&path, Some(&admin), json!({"status": "active"}))
        .await;
    assert_eq!(active["status"], "active");

    assert_error(
        app.patch(&path, Some(&admin), json!({"extend_cycles": 0}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("extend_cycles"),
    );
    assert_error(
        app.patch(&path, Some(&admin), json!({"status": "deleted"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("status"),
    );
    assert_error(app.patch(&path, Some(&admin), json!({"quotas": {"max_accounts": -5, "max_domains": 1, "max_databases": 1, "max_emails": 1, "storage_mb": 1, "bandwidth_mb": 1}})).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some("quotas.max_accounts"));

    let (status, cancelled) = app
        .post(
            &format!("{path}/cancel"),
            Some(&admin),
            json!({"reason": "customer left"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    // Cancelled is final.
    assert_error(
        app.patch(&path, Some(&admin), json!({"status": "active"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("status"),
    );
    assert_error(
        app.patch(&path, Some(&admin), json!({"extend_cycles": 1}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("status"),
    );
    // Cancelling again is harmless, and an empty body is fine.
    let resp = app
        .client
        .post(app.url(&format!("{path}/cancel")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let (_, audit) = app
        .get(
            &format!("/api/v1/audit-log?entity_type=license&entity_id={id}"),
            Some(&admin),
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "license.cancelled",
            "license.active",
            "license.suspended",
            "license.updated",
            "license.updated",
            "license.issued"
        ]
    );
    assert_eq!(audit["items"][0]["after"]["reason"], "customer left");
    assert_eq!(audit["items"][0]["before"]["status"], "active");

    let (_, filtered) = app
        .get("/api/v1/licenses?status=cancelled", Some(&admin))
        .await;
    assert_eq!(filtered["total"], 1);
    assert_error(
        app.get("/api/v1/licenses?status=gone", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("status"),
    );
}
