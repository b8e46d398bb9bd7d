use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

#[tokio::test]
async fn admins_create_list_search_update_and_deactivate_customers() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (status, created) = app
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"email": "Ada@Example.com", "full_name": "Ada Lovelace", "company_name": "Analytical Engines", "phone": "+44 20 7946 0000", "password": "ada-password-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["role"], "customer");
    assert_eq!(created["has_password"], true);
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    let id = created["id"].as_i64().unwrap();
    for i in 0..5 {
        let (status, _) = app
            .post(
                "/api/v1/customers",
                Some(&admin),
                json!({"email": format!("c{i}@example.com"), "full_name": format!("Customer {i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }

    let (_, page) = app
        .get("/api/v1/customers?per_page=2&page=2", Some(&admin))
        .await;
    assert_eq!(page["total"], 6);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["page"], 2);
    let (_, found) = app
        .get("/api/v1/customers?search=analytical", Some(&admin))
        .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["id"], id);
    // LIKE wildcards in the search are literal text.
    let (_, none) = app.get("/api/v1/customers?search=%25", Some(&admin)).await;
    assert_eq!(none["total"], 0);
    // Admins and staff never appear among customers.
    let (_, all) = app
        .get("/api/v1/customers?per_page=200", Some(&admin))
        .await;
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["role"] == "customer"));

    let (status, updated) = app
        .patch(
            &format!("/api/v1/customers/{id}"),
            Some(&admin),
            json!({"full_name": "Augusta Ada King", "phone": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["full_name"], "Augusta Ada King");
    assert_eq!(updated["phone"], serde_json::Value::Null);
    assert_eq!(updated["company_name"], "Analytical Engines");

    let (status, gone) = app
        .post(
            &format!("/api/v1/customers/{id}/deactivate"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gone["is_active"], false);
    let (_, listed) = app.get("/api/v1/customers", Some(&admin)).await;
    assert_eq!(listed["total"], 5);
    let (_, with_inactive) = app
        .get("/api/v1/customers?include_inactive=true", Some(&admin))
        .await;
    assert_eq!(with_inactive["total"], 6);

    // Every change is in the audit log with before and after.
    let (_, audit) = app
        .get(
            &format!("/api/v1/audit-log?entity_type=user&entity_id={id}"),
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
            "customer.deactivated",
            "customer.updated",
            "customer.created"
        ]
    );
    let update = &audit["items"][1];
    assert_eq!(update["actor_label"], "admin@example.com");
    assert_eq!(update["before"]["full_name"], "Ada Lovelace");
    assert_eq!(update["after"]["full_name"], "Augusta Ada King");
    assert!(
        !audit.to_string().contains("argon2"),
        "audit snapshots must not carry password hashes"
    );
}

#[tokio::test]
async fn bad_input_is_named_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, _) = app.customer(&admin, "taken@example.com").await;
    let users = app.count("users").await;
    let audit = app.count("audit_log").await;

    let cases = [
        (
            json!({"email": "not-an-email", "full_name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"email": "TAKEN@example.com", "full_name": "X"}),
            StatusCode::CONFLICT,
            "email",
        ),
        (
            json!({"email": "a@example.com", "full_name": "x".repeat(201)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "full_name",
        ),
        (
            json!({"email": "a@example.com", "full_name": "   "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "full_name",
        ),
        (
            json!({"email": "a@example.com", "full_name": "X", "phone": "call me maybe"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone",
        ),
        (
            json!({"email": "a@example.com", "full_name": "X", "password": "short"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
        ),
        (
            json!({"email": 42, "full_name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"full_name": "X"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            json!({"email": "a@example.com", "full_name": "X", "is_admin": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is_admin",
        ),
    ];
    for (body, status, field) in cases {
        let code = if status == StatusCode::CONFLICT {
            "conflict"
        } else {
            "validation_failed"
        };
        let got = app
            .post("/api/v1/customers", Some(&admin), body.clone())
            .await;
        assert_eq!(got.1["error"]["field"], field, "body {body}: {}", got.1);
        assert_error(got, status, code, Some(field));
    }
    assert_error(
        app.post_raw(
            "/api/v1/customers",
            Some(&admin),
            "application/json",
            "{\"email\": ",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        None,
    );
    assert_error(
        app.post_raw("/api/v1/customers", Some(&admin), "text/plain", "email=a")
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    assert_error(
        app.patch(
            &format!("/api/v1/customers/{id}"),
            Some(&admin),
            json!({"email": "admin@example.com"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("email"),
    );
    assert_error(
        app.get("/api/v1/customers?per_page=1000", Some(&admin))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("per_page"),
    );
    assert_error(
        app.get("/api/v1/customers?page=x", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("page"),
    );
    assert_error(
        app.get("/api/v1/customers/999999", Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    // An admin's id is not a customer id.
    assert_error(
        app.get("/api/v1/customers/1", Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );

    assert_eq!(app.count("users").await, users);
    assert_eq!(app.count("audit_log").await, audit);
    let (_, still) = app
        .get(&format!("/api/v1/customers/{id}"), Some(&admin))
        .await;
    assert_eq!(still["email"], "taken@example.com");
}

#[tokio::test]
async fn customers_see_and_change_only_their_own_data() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (alice, alice_token) = app.customer(&admin, "alice@example.com").await;
    let (bob, bob_token) = app.customer(&admin, "bob@example.com").await;
    let alice_license = app.license(&admin, alice, plan).await;
    let bob_license = app.license(&admin, bob, plan).await;

    let (_, mine) = app.get("/api/v1/me/licenses", Some(&alice_token)).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(
        mine["items"][0]["license_key"],
        alice_license["license_key"]
    );
    let own = format!("/api/v1/me/licenses/{}", alice_license["id"]);
    assert_eq!(app.get(&own, Some(&alice_token)).await.0, StatusCode::OK);
    // Bob's license does not exist as far as Alice can tell.
    let other = format!("/api/v1/me/licenses/{}", bob_license["id"]);
    assert_error(
        app.get(&other, Some(&alice_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        app.get(&own, Some(&bob_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    // Admin routes about other customers are closed to customers altogether.
    assert_error(
        app.get(&format!("/api/v1/customers/{bob}"), Some(&alice_token))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );

    let (status, me) = app
        .patch(
            "/api/v1/me",
            Some(&alice_token),
            json!({"full_name": "Alice Liddell", "company_name": "Wonderland Ltd"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], alice);
    assert_eq!(me["full_name"], "Alice Liddell");
    let (_, bob_view) = app
        .get(&format!("/api/v1/customers/{bob}"), Some(&admin))
        .await;
    assert_eq!(bob_view["full_name"], "Test Customer");
    // Customers cannot promote themselves or change their email through /me.
    assert_error(
        app.patch("/api/v1/me", Some(&alice_token), json!({"role": "admin"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("role"),
    );

    // Changing the password needs the current one and ends the old sessions.
    assert_error(
        app.patch(
            "/api/v1/me",
            Some(&alice_token),
            json!({"new_password": "alice-new-password"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("current_password"),
    );
    assert_error(
        app.patch(
            "/api/v1/me",
            Some(&alice_token),
            json!({"new_password": "alice-new-password", "current_password": "wrong-password-1"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("current_password"),
    );
    let (status, _) = app.patch("/api/v1/me", Some(&alice_token), json!({"new_password": "alice-new-password", "current_password": "customer-password-1"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/me", Some(&alice_token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.login("alice@example.com", "alice-new-password").await;
}
