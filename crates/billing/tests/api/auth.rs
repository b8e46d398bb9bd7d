use billing::config::{Layer, Settings};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, engine, FreshDb, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

#[tokio::test]
async fn first_start_creates_one_admin_with_a_random_password() {
    let fresh = FreshDb::new(engine()).await;
    // No admin email or password configured; only the master key is pinned so the
    // test leaves no key file behind.
    let settings = Settings::from_layer(Layer {
        listen: Some("127.0.0.1:0".into()),
        master_key: Some(crate::helpers::MASTER_KEY.into()),
        ..Layer::default()
    })
    .unwrap();
    let (_, seeded) = billing::app::prepare_with_db(fresh.db.clone(), settings.clone())
        .await
        .unwrap();
    let seeded = seeded.expect("an empty database gets an admin");
    let password = seeded
        .generated_password
        .clone()
        .expect("no password configured: one is generated");
    assert!(password.len() >= 16);
    // A second start on the same database creates nobody and prints nothing.
    let (_, again) = billing::app::prepare_with_db(fresh.db.clone(), settings.clone())
        .await
        .unwrap();
    assert!(again.is_none());
    let app = TestApp::start(fresh, settings).await;
    let token = app.login(&seeded.email, &password).await;
    let (status, me) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], "admin@example.com");
    assert!(me.get("password_hash").is_none());
    assert_eq!(app.count("users").await, 1);
    // The password is stored as an Argon2id hash, never in clear.
    let (hash,): (String,) = match &app.db {
        billing::store::Db::Sqlite(p) => sqlx::query_as("SELECT password_hash FROM users")
            .fetch_one(p)
            .await
            .unwrap(),
        billing::store::Db::Postgres(p, _) => sqlx::query_as("SELECT password_hash FROM users")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&password));
}

#[tokio::test]
async fn login_refresh_logout_round_trip() {
    let app = TestApp::spawn().await;
    let (status, pair) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ADMIN@example.com ", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(pair["token_type"], "bearer");
    assert_eq!(pair["expires_in"], 3600);
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.0,
        StatusCode::OK
    );

    // Refresh rotates: the new pair works, the old refresh token and the old session do not.
    let (status, next) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let new_access = next["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_access, access);
    assert_error(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    assert_error(
        app.get("/api/v1/auth/me", Some(&access)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );

    // Logout revokes the session.
    assert_eq!(
        app.post("/api/v1/auth/logout", Some(&new_access), json!({}))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get("/api/v1/auth/me", Some(&new_access)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers().get("www-authenticate").unwrap(), "Bearer");
}

#[tokio::test]
async fn wrong_passwords_and_bad_tokens_are_refused_alike() {
    let app = TestApp::spawn().await;
    let wrong = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": ADMIN_EMAIL, "password": "not-the-password"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "not-the-password"}),
        )
        .await;
    assert_eq!(
        wrong.1, unknown.1,
        "unknown emails must not be told apart from wrong passwords"
    );
    assert_error(wrong, StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert_error(
        app.get("/api/v1/auth/me", Some("npb_at_forged")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_account_and_per_client() {
    let app = TestApp::spawn_with(Layer {
        login_max_failures_per_account: Some(3),
        login_max_failures_per_client: Some(5),
        ..Layer::default()
    })
    .await;
    for _ in 0..3 {
        let (status, _) = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": ADMIN_EMAIL, "password": "guess-guess-guess"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now, with a clear 429 and Retry-After.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Per client: spreading guesses over other accounts hits the address limit.
    for i in 0..2 {
        let (status, _) = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": format!("other{i}@example.com"), "password": "guess-guess-guess"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_error(
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "fresh@example.com", "password": "guess-guess-guess"}),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        None,
    );
}

#[tokio::test]
async fn customers_register_unless_disabled() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "new@example.com", "password": "customer-password-1", "full_name": "New Customer", "company_name": "Acme"});
    let (status, reg) = app.post("/api/v1/auth/register", None, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["user"]["role"], "customer");
    let token = reg["access_token"].as_str().unwrap();
    let (_, me) = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(me["company_name"], "Acme");
    assert_error(
        app.post("/api/v1/auth/register", None, body).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("email"),
    );
    assert_error(
        app.post(
            "/api/v1/auth/register",
            None,
            json!({"email": "x@example.com", "password": "short", "full_name": "X"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("password"),
    );

    let closed = TestApp::spawn_with(Layer {
        allow_registration: Some(false),
        ..Layer::default()
    })
    .await;
    let before = closed.count("users").await;
    assert_error(
        closed.post("/api/v1/auth/register", None, json!({"email": "new@example.com", "password": "customer-password-1", "full_name": "N"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    assert_eq!(closed.count("users").await, before);
}

#[tokio::test]
async fn api_keys_are_shown_once_work_as_bearer_and_can_be_revoked() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (status, created) = app
        .post(
            "/api/v1/api-keys",
            Some(&admin),
            json!({"name": "provisioning script"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("npb_ak_"));
    assert_eq!(created["role"], "admin");

    let (status, list) = app.get("/api/v1/api-keys", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !list.to_string().contains(&key),
        "listing must never show the key"
    );
    assert!(key.starts_with(list[0]["prefix"].as_str().unwrap()));
    assert!(list[0]["last_used_at"].is_null(), "never used yet: {list}");

    // The key works for automation, acting as an admin.
    let (status, _) = app
        .post(
            "/api/v1/customers",
            Some(&key),
            json!({"email": "auto@example.com", "full_name": "Automated"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = app.get("/api/v1/api-keys", Some(&admin)).await;
    assert!(list[0]["last_used_at"].is_string(), "used now: {list}");
    // A staff key reads but cannot write.
    let (_, staff_key) = app
        .post(
            "/api/v1/api-keys",
            Some(&admin),
            json!({"name": "reporting", "role": "staff"}),
        )
        .await;
    let staff_key = staff_key["api_key"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/customers", Some(staff_key)).await.0,
        StatusCode::OK
    );
    assert_error(
        app.post(
            "/api/v1/customers",
            Some(staff_key),
            json!({"email": "x@example.com", "full_name": "X"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );

    // Nothing stores the key itself.
    let id = created["id"].as_i64().unwrap();
    let stored: Vec<(String,)> = match &app.db {
        billing::store::Db::Sqlite(p) => sqlx::query_as("SELECT key_hash FROM api_keys")
            .fetch_all(p)
            .await
            .unwrap(),
        billing::store::Db::Postgres(p, _) => sqlx::query_as("SELECT key_hash FROM api_keys")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    assert!(stored.iter().all(|(h,)| !h.contains(&key[7..])));

    let (status, revoked) = app
        .call(
            "DELETE",
            &format!("/api/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    assert_error(
        app.get("/api/v1/customers", Some(&key)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    assert_error(
        app.call("DELETE", "/api/v1/api-keys/999", Some(&admin), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}

#[tokio::test]
async fn deactivated_customers_lose_their_sessions_and_cannot_log_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.customer(&admin, "gone@example.com").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/customers/{id}/deactivate"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_active"], false);
    assert_error(
        app.get("/api/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    assert_error(
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"email": "gone@example.com", "password": "customer-password-1"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/customers/{id}/activate"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["is_active"], true);
    app.login("gone@example.com", "customer-password-1").await;
}

#[tokio::test]
async fn behind_a_proxy_the_forwarded_address_is_the_client() {
    let login = |app: &TestApp, forwarded: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": "someone@example.com", "password": "guess-guess-guess"}))
            .send()
    };
    let limits = Layer {
        login_max_failures_per_client: Some(2),
        login_max_failures_per_account: Some(100),
        ..Layer::default()
    };
    let proxied = TestApp::spawn_with(Layer {
        behind_proxy: Some(true),
        ..limits.clone()
    })
    .await;
    for _ in 0..2 {
        // The client may prepend anything; the proxy's own (last) entry is what counts.
        assert_eq!(
            login(&proxied, "1.2.3.4, 10.0.0.1").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&proxied, "9.9.9.9, 10.0.0.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&proxied, "10.0.0.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "another client is not throttled"
    );

    // Without a proxy the header is the client's own claim and is ignored.
    let direct = TestApp::spawn_with(limits).await;
    for forwarded in ["10.0.0.1", "10.0.0.2"] {
        assert_eq!(
            login(&direct, forwarded).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&direct, "10.0.0.3").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn failed_logins_older_than_the_window_are_forgotten() {
    let app = TestApp::spawn().await;
    app.exec(
        "INSERT INTO login_attempts (email, client_ip, created_at) VALUES \
         ('old@example.com', '10.0.0.1', '2020-01-01T00:00:00Z')",
    )
    .await;
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "wrong-password-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count("login_attempts").await,
        1,
        "only the new failure is kept"
    );
}
