use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, plan_body, TestApp};

#[tokio::test]
async fn plans_are_written_by_admins_and_read_by_everyone() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut body = plan_body("Business");
    body["prices"] =
        json!({"monthly": 1999, "quarterly": 5697, "semiannual": 10794, "annual": 19990});
    body["setup_fee"] = json!(500);
    body["account_type"] = json!("reseller");
    body["location"] = json!("eu-west");
    body["sort_order"] = json!(2);
    let (status, plan) = app.post("/api/v1/plans", Some(&admin), body).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["prices"]["quarterly"], 5697);
    assert_eq!(plan["currency"], "USD");
    assert_eq!(plan["setup_fee"], 500);
    assert_eq!(plan["account_type"], "reseller");
    assert_eq!(plan["quotas"]["bandwidth_mb"], -1);
    let id = plan["id"].as_i64().unwrap();
    let starter = app.plan(&admin, "Starter").await;

    // Public catalogue, no login, in display order.
    let (status, list) = app.get("/api/v1/plans", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Starter", "Business"]);
    assert_eq!(
        app.get(&format!("/api/v1/plans/{id}"), None).await.0,
        StatusCode::OK
    );

    // Retiring a plan hides it from the public but not from staff.
    let (status, retired) = app
        .patch(
            &format!("/api/v1/plans/{starter}"),
            Some(&admin),
            json!({"is_active": false, "prices": {"annual": 4990}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retired}");
    assert_eq!(retired["prices"], json!({"annual": 4990}));
    let (_, public) = app.get("/api/v1/plans", None).await;
    assert_eq!(public.as_array().unwrap().len(), 1);
    assert_error(
        app.get(&format!("/api/v1/plans/{starter}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (_, all) = app
        .get("/api/v1/plans?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_error(
        app.get("/api/v1/plans?include_inactive=true", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("include_inactive"),
    );
}

#[tokio::test]
async fn invalid_plans_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.plan(&admin, "Starter").await;
    let before = app.count("plans").await;
    let with = |key: &str, value: serde_json::Value| {
        let mut body = plan_body("New plan");
        let mut target = &mut body;
        let parts: Vec<&str> = key.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = &mut target[*part];
        }
        target[parts[parts.len() - 1]] = value;
        body
    };
    let cases = [
        (
            with("prices.monthly", json!(-1)),
            "prices.monthly",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("prices.monthly", json!(9.99)),
            "prices.monthly",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("prices", json!({})),
            "prices",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("prices", json!({"weekly": 100})),
            "prices",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("setup_fee", json!(-5)),
            "setup_fee",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("currency", json!("XYZ")),
            "currency",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("name", json!("")),
            "name",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("name", json!("n".repeat(101))),
            "name",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (with("name", json!("starter")), "name", StatusCode::CONFLICT),
        (
            with("quotas.max_domains", json!(-2)),
            "quotas.max_domains",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("quotas.max_emails", json!("ten")),
            "quotas.max_emails",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("account_type", json!("superuser")),
            "account_type",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            with("package_id", json!(0)),
            "package_id",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, field, status) in cases {
        let got = app.post("/api/v1/plans", Some(&admin), body.clone()).await;
        assert_eq!(got.0, status, "{field}: {}", got.1);
        assert!(
            got.1["error"]["field"]
                .as_str()
                .is_some_and(|f| f.starts_with(field)),
            "expected field {field}, got {}",
            got.1
        );
    }
    assert_eq!(app.count("plans").await, before);
    assert_error(
        app.patch(
            "/api/v1/plans/1",
            Some(&admin),
            json!({"prices": {"monthly": -100}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("prices.monthly"),
    );
    let (_, unchanged) = app.get("/api/v1/plans/1", None).await;
    assert_eq!(unchanged["prices"]["monthly"], 999);
}

#[tokio::test]
async fn amounts_are_exact_integers_in_any_currency() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut body = plan_body("Yen");
    body["currency"] = json!("jpy");
    body["prices"] = json!({"annual": 1_000_000_000_000_i64});
    let (status, plan) = app.post("/api/v1/plans", Some(&admin), body).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["currency"], "JPY");
    assert_eq!(plan["prices"]["annual"], 1_000_000_000_000_i64);
}
