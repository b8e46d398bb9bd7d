//! Two-factor sign-in (TOTP and recovery codes), the staff requirement, and the
//! console's cookie sessions with their CSRF token.

use billing::domain::second_factor::{code_at, STEP_SECS};
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

/// The secret behind a manual key, as an authenticator app reads it.
fn secret_of(manual_key: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(manual_key.to_owned())
        .to_bytes()
        .expect("the manual key is base32")
}

/// The current 30-second step, waiting first if it is about to end, so that codes for
/// this step and its neighbours stay valid for the few seconds a test needs.
async fn fresh_step() -> u64 {
    loop {
        let now = chrono::Utc::now().timestamp() as u64;
        if now % STEP_SECS < STEP_SECS - 8 {
            return now / STEP_SECS;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

fn code(secret: &[u8], step: u64) -> String {
    code_at(secret, step * STEP_SECS)
}

/// Turns two-factor sign-in on for the holder of `token`; returns the secret and the
/// recovery codes.
async fn enable(app: &TestApp, token: &str, password: &str, step: u64) -> (Vec<u8>, Vec<String>) {
    let (status, setup) = app
        .post(
            "/api/v1/auth/two-factor/setup",
            Some(token),
            json!({"password": password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = secret_of(setup["manual_key"].as_str().unwrap());
    let (status, codes) = app
        .post(
            "/api/v1/auth/two-factor/enable",
            Some(token),
            json!({"code": code(&secret, step - 1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn challenge(app: &TestApp, email: &str, password: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["second_factor_required"], true, "{body}");
    assert!(
        body.get("access_token").is_none(),
        "no tokens before the code: {body}"
    );
    body["challenge"].as_str().unwrap().to_owned()
}

async fn second_factor(app: &TestApp, challenge: &str, code: &str) -> (StatusCode, Value) {
    app.post(
        "/api/v1/auth/login/second-factor",
        None,
        json!({"challenge": challenge, "code": code}),
    )
    .await
}

#[tokio::test]
async fn a_customer_turns_on_totp_and_signs_in_with_codes_that_work_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, token) = app.customer(&admin, "ada@example.com").await;
    let password = "customer-password-1";

    // Setting up needs the password; a wrong first code changes nothing.
    assert_error(
        app.post(
            "/api/v1/auth/two-factor/setup",
            Some(&token),
            json!({"password": "wrong-password-1"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("password"),
    );
    let (status, setup) = app
        .post(
            "/api/v1/auth/two-factor/setup",
            Some(&token),
            json!({"password": password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let url = setup["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains("ada%40example.com"), "{url}");
    assert!(setup["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    let secret = secret_of(setup["manual_key"].as_str().unwrap());
    let step = fresh_step().await;
    let wrong = if code(&secret, step) == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_error(
        app.post(
            "/api/v1/auth/two-factor/enable",
            Some(&token),
            json!({"code": wrong}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("code"),
    );
    let (_, status_body) = app.get("/api/v1/auth/two-factor", Some(&token)).await;
    assert_eq!(status_body["enabled"], false);
    // Password sign-in still opens a session while the setup is unconfirmed.
    app.login("ada@example.com", password).await;

    let (status, codes) = app
        .post(
            "/api/v1/auth/two-factor/enable",
            Some(&token),
            json!({"code": code(&secret, step - 1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let recovery: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let (_, status_body) = app.get("/api/v1/auth/two-factor", Some(&token)).await;
    assert_eq!(status_body["enabled"], true, "{status_body}");
    assert_eq!(status_body["recovery_codes_left"], 10);
    assert_eq!(status_body["required"], false);
    // Nothing secret is stored in clear.
    let stored = app
        .query_strings("SELECT secret_sealed FROM user_totp")
        .await;
    assert!(stored[0].starts_with("v1:"), "the secret is sealed");
    let digests = app
        .query_strings("SELECT code_digest FROM recovery_codes")
        .await;
    assert_eq!(digests.len(), 10);
    assert!(digests
        .iter()
        .all(|d| !recovery.iter().any(|r| d.contains(r.as_str()))));

    // The password alone now only gets a challenge; the code completes the sign-in.
    let ch = challenge(&app, "ada@example.com", password).await;
    let (status, pair) = second_factor(&app, &ch, &code(&secret, step)).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, me) = app
        .get("/api/v1/auth/me", pair["access_token"].as_str())
        .await;
    assert_eq!((status, me["id"].as_i64()), (StatusCode::OK, Some(id)));
    // The same code again (or an older one) is refused: a code works once.
    let ch = challenge(&app, "ada@example.com", password).await;
    for used in [code(&secret, step), code(&secret, step - 1)] {
        assert_error(
            second_factor(&app, &ch, &used).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        );
    }
    // A forged or altered challenge is refused even with a good code.
    let forged = format!("npb_2fa_{id}.9999999999.token.{}", "0".repeat(64));
    let altered = ch.replacen(".token.", ".cookie.", 1);
    for bad in [forged, altered] {
        assert_error(
            second_factor(&app, &bad, &code(&secret, step + 1)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        );
    }
    assert_error(
        second_factor(&app, &ch, "12345").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("code"),
    );
    // A recovery code works once, in any case and with or without its dash.
    let typed = recovery[0].to_uppercase().replace('-', "");
    let (status, _) = second_factor(&app, &ch, &typed).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        second_factor(&app, &ch, &recovery[0]).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
    let (_, status_body) = app.get("/api/v1/auth/two-factor", Some(&token)).await;
    assert_eq!(status_body["recovery_codes_left"], 9);

    // Turning it off needs the password and a code; then the password is enough again.
    assert_error(
        app.post(
            "/api/v1/auth/two-factor/disable",
            Some(&token),
            json!({"password": password, "code": recovery[0]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("code"),
    );
    let (status, body) = app
        .post(
            "/api/v1/auth/two-factor/disable",
            Some(&token),
            json!({"password": password, "code": code(&secret, step + 1)}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    app.login("ada@example.com", password).await;
    assert_eq!(app.count("recovery_codes").await, 0);
    let actions = app
        .query_strings(
            "SELECT action FROM audit_log WHERE action LIKE 'user.two_factor%' ORDER BY id",
        )
        .await;
    assert_eq!(
        actions,
        ["user.two_factor_enabled", "user.two_factor_disabled"]
    );
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords_and_api_keys_need_no_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (status, key) = app
        .post(
            "/api/v1/api-keys",
            Some(&admin),
            json!({"name": "script", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key = key["api_key"].as_str().unwrap().to_owned();
    let step = fresh_step().await;
    let (secret, _) = enable(&app, &admin, ADMIN_PASSWORD, step).await;
    let ch = challenge(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let good = code(&secret, step);
    let bad = if good == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_error(
            second_factor(&app, &ch, bad).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            None,
        );
    }
    // Past the limit even the right code waits, so codes cannot be guessed.
    let (status, body) = second_factor(&app, &ch, &good).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Scripts keep working with their API key.
    let (status, _) = app.get("/api/v1/customers", Some(&key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        app.post(
            "/api/v1/auth/two-factor/setup",
            Some(&key),
            json!({"password": ADMIN_PASSWORD}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
}

#[tokio::test]
async fn admins_can_require_a_second_factor_of_staff_and_reset_a_lost_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let staff = app.staff(&admin).await;
    let (_, customer) = app.customer(&admin, "ada@example.com").await;
    let (status, settings) = app.get("/api/v1/settings/security", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["require_two_factor_for_staff"], false);
    assert_error(
        app.call(
            "PUT",
            "/api/v1/settings/security",
            Some(&admin),
            Some(json!({"require_two_factor_for_staff": "yes"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("require_two_factor_for_staff"),
    );
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/settings/security",
            Some(&admin),
            Some(json!({"require_two_factor_for_staff": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Staff (and the admin) without a second factor are sent to set one up; customers are not affected.
    for token in [&staff, &admin] {
        assert_error(
            app.get("/api/v1/customers", Some(token)).await,
            StatusCode::FORBIDDEN,
            "second_factor_setup_required",
            None,
        );
        let (_, st) = app.get("/api/v1/auth/two-factor", Some(token)).await;
        assert_eq!(st["required"], true, "{st}");
    }
    let (status, _) = app.get("/api/v1/me", Some(&customer)).await;
    assert_eq!(status, StatusCode::OK);
    let step = fresh_step().await;
    let (secret, _) = enable(&app, &staff, "staff-password-1", step).await;
    let (status, _) = app.get("/api/v1/customers", Some(&staff)).await;
    assert_eq!(status, StatusCode::OK);
    // While it is required, staff cannot turn it off.
    assert_error(
        app.post(
            "/api/v1/auth/two-factor/disable",
            Some(&staff),
            json!({"password": "staff-password-1", "code": code(&secret, step)}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );

    // A lost phone: the admin (once set up too) resets it, which also signs the user out.
    let (admin_secret, _) = enable(&app, &admin, ADMIN_PASSWORD, step).await;
    let _ = admin_secret;
    let staff_id = app
        .query_strings("SELECT CAST(id AS TEXT) FROM users WHERE email = 'staff@example.com'")
        .await[0]
        .clone();
    let (status, body) = app
        .call(
            "DELETE",
            &format!("/api/v1/users/{staff_id}/two-factor"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app.get("/api/v1/auth/me", Some(&staff)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(
        app.call(
            "DELETE",
            &format!("/api/v1/users/{staff_id}/two-factor"),
            Some(&admin),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );
    let staff = app.login("staff@example.com", "staff-password-1").await;
    assert_error(
        app.get("/api/v1/customers", Some(&staff)).await,
        StatusCode::FORBIDDEN,
        "second_factor_setup_required",
        None,
    );
}

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A browser's side of a console session: the cookies it got and sends back.
struct Browser {
    client: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Browser {
    /// Takes the cookies of a sign-in answer, checking their attributes.
    async fn from_answer(resp: reqwest::Response) -> Browser {
        assert_eq!(resp.status(), StatusCode::OK);
        let cookies = set_cookies(resp.headers());
        let session = cookies
            .iter()
            .find(|c| c.starts_with("npb_session="))
            .unwrap();
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Strict"),
            "{session}"
        );
        assert!(!session.contains("Secure"), "plain HTTP here: {session}");
        let csrf_cookie = cookies.iter().find(|c| c.starts_with("npb_csrf=")).unwrap();
        assert!(
            !csrf_cookie.contains("HttpOnly"),
            "the page reads the CSRF token"
        );
        let value = |c: &str| c.split(';').next().unwrap().to_owned();
        let body: Value = resp.json().await.unwrap();
        assert!(body.get("access_token").is_none(), "{body}");
        assert_eq!(body["token_type"], "cookie");
        let csrf = body["csrf_token"].as_str().unwrap().to_owned();
        assert_eq!(value(csrf_cookie), format!("npb_csrf={csrf}"));
        Browser {
            client: reqwest::Client::new(),
            cookie: format!("{}; {}", value(session), value(csrf_cookie)),
            csrf,
        }
    }

    async fn sign_in(app: &TestApp, email: &str, password: &str, ua: &str) -> Browser {
        let resp = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("user-agent", ua)
            .json(&json!({"email": email, "password": password, "session": "cookie"}))
            .send()
            .await
            .unwrap();
        Browser::from_answer(resp).await
    }

    fn request(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, app.url(path))
            .header("cookie", &self.cookie)
    }

    async fn get(&self, app: &TestApp, path: &str) -> reqwest::Response {
        self.request(app, reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_console_session_lives_in_an_http_only_cookie_and_writes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (customer_id, _) = app.customer(&admin, "ada@example.com").await;
    let browser = Browser::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD, "test").await;
    let csrf = browser.csrf.clone();

    let resp = browser.get(&app, "/api/v1/auth/me").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");

    // A forged cross-site form post carries the cookie (in browsers that ignore
    // SameSite) but cannot know the CSRF token: refused, and nothing changes.
    let path = format!("/api/v1/customers/{customer_id}/deactivate");
    let resp = browser
        .request(&app, reqwest::Method::POST, &path)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("confirm=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_failed", "{body}");
    for wrong in ["", "00", &"0".repeat(64)] {
        let resp = browser
            .request(&app, reqwest::Method::POST, &path)
            .header("x-csrf-token", wrong)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    let (_, ada) = app
        .get(&format!("/api/v1/customers/{customer_id}"), Some(&admin))
        .await;
    assert_eq!(ada["is_active"], true, "nothing changed");
    // The console's own write, with the token, works.
    let resp = browser
        .request(&app, reqwest::Method::POST, &path)
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // The cookie's token is no bearer token, and a bearer token is no cookie.
    let cookie_token = browser
        .cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("npb_session=");
    assert_eq!(
        app.get("/api/v1/auth/me", Some(cookie_token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("npb_session={admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Public pages still work with an ended cookie; sign-out ends it on the server.
    let resp = browser
        .request(&app, reqwest::Method::POST, "/api/v1/auth/logout")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(resp.headers());
    assert!(cleared
        .iter()
        .any(|c| c.starts_with("npb_session=;") && c.contains("Max-Age=0")));
    let resp = browser.get(&app, "/api/v1/auth/me").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = browser_public(&browser, &app).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an ended cookie does not break public pages"
    );
    let live = app
        .query_strings("SELECT CAST(COUNT(*) AS TEXT) FROM sessions WHERE kind = 'cookie' AND revoked_at IS NULL")
        .await;
    assert_eq!(live, ["0"]);
}

#[tokio::test]
async fn a_cookie_sign_in_with_a_second_factor_and_a_password_change_ends_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, token) = app.customer(&admin, "ada@example.com").await;
    let step = fresh_step().await;
    let (secret, _) = enable(&app, &token, "customer-password-1", step).await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "customer-password-1", "session": "cookie"}))
        .send()
        .await
        .unwrap();
    assert!(
        set_cookies(resp.headers()).is_empty(),
        "no cookie before the code"
    );
    let ch: Value = resp.json().await.unwrap();
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login/second-factor"))
        .json(&json!({"challenge": ch["challenge"], "code": code(&secret, step)}))
        .send()
        .await
        .unwrap();
    let browser = Browser::from_answer(resp).await;
    let resp = browser.get(&app, "/api/v1/me").await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Changing the password ends every session, this one too.
    let resp = browser
        .request(&app, reqwest::Method::PATCH, "/api/v1/me")
        .header("x-csrf-token", &browser.csrf)
        .json(&json!({"current_password": "customer-password-1", "new_password": "another-password-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = browser.get(&app, "/api/v1/me").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_and_admins_see_sessions_and_end_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ada, first) = app.customer(&admin, "ada@example.com").await;
    let browser = Browser::sign_in(
        &app,
        "ada@example.com",
        "customer-password-1",
        "Firefox/140 test",
    )
    .await;

    let (status, mine) = app.get("/api/v1/auth/sessions", Some(&first)).await;
    assert_eq!(status, StatusCode::OK);
    let mine = mine.as_array().unwrap().clone();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let cookie = mine.iter().find(|s| s["kind"] == "cookie").unwrap();
    assert_eq!(cookie["user_agent"], "Firefox/140 test");
    assert_eq!(cookie["client_ip"], "127.0.0.1");
    assert_eq!(cookie["current"], false);
    assert!(mine
        .iter()
        .any(|s| s["kind"] == "token" && s["current"] == true));

    // The user signs the browser out from the API session.
    let path = format!("/api/v1/auth/sessions/{}", cookie["id"]);
    let (status, _) = app.call("DELETE", &path, Some(&first), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let resp = browser.get(&app, "/api/v1/me").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_error(
        app.call("DELETE", &path, Some(&first), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    // Nobody ends another user's session through their own list.
    let admin_sessions = app.get("/api/v1/auth/sessions", Some(&admin)).await.1;
    let admin_session = admin_sessions[0]["id"].clone();
    assert_error(
        app.call(
            "DELETE",
            &format!("/api/v1/auth/sessions/{admin_session}"),
            Some(&first),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );

    // Admins see a user's sessions and end them all.
    let second = app.login("ada@example.com", "customer-password-1").await;
    let (status, list) = app
        .get(&format!("/api/v1/users/{ada}/sessions"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let one = list[0]["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/users/{ada}/sessions/{one}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", Some(&second)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/users/{ada}/sessions"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", Some(&first)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, list) = app
        .get(&format!("/api/v1/users/{ada}/sessions"), Some(&admin))
        .await;
    assert_eq!(list, json!([]));
    assert_error(
        app.get("/api/v1/users/999999/sessions", Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}

/// A public page fetched with the browser's (ended) cookie.
async fn browser_public(browser: &Browser, app: &TestApp) -> (StatusCode, Value) {
    let resp = browser.get(app, "/api/v1/plans").await;
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}
