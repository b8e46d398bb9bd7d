//! Email over a real SMTP server (aiosmtpd started by the test): the welcome message
//! with working credentials, exactly once even when SMTP is down for a while.

use billing::config::Layer;
use nextpanel_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, SmtpSink, TestApp};

async fn provisioned(
    app: &TestApp,
    admin: &str,
    full_name: &str,
) -> (Value, nextpanel_sim::SimHandle) {
    let (sim, _) = app
        .sim_server(admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    let plan = app.plan(admin, "Starter").await;
    let (status, customer) = app.post("/api/v1/customers", Some(admin), json!({"email": "ada@example.com", "full_name": full_name, "password": "customer-password-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    let (status, account) = app
        .post(
            "/api/v1/nextpanel/provision",
            Some(admin),
            json!({"customer_id": customer["id"], "username": "ada", "plan_id": plan}),
        )
        .await;
    assert!(status == StatusCode::CREATED, "{account}");
    (account, sim)
}

fn by_template<'a>(messages: &'a [Value], subject_part: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["subject"].as_str().unwrap_or("").contains(subject_part))
        .collect()
}

async fn all_text(app: &TestApp, sql: &str) -> String {
    let rows: Vec<(Option<String>,)> = match &app.db {
        billing::store::Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        billing::store::Db::Postgres(p, _) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    };
    rows.into_iter()
        .filter_map(|(t,)| t)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_welcome_message_carries_the_credentials_and_nothing_is_left_behind() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(sink.layer()).await;
    let admin = app.admin_token().await;
    let (account, _sim) = provisioned(&app, &admin, "Ada Lovelace").await;
    let password = account["generated_password"].as_str().unwrap();
    let messages = sink.wait_for(2).await;
    let welcome = by_template(&messages, "is ready");
    assert_eq!(welcome.len(), 1, "{messages:?}");
    let welcome = welcome[0];
    assert_eq!(welcome["to"], json!(["ada@example.com"]));
    assert_eq!(
        welcome["subject"],
        "Your hosting account at Acme Hosting is ready"
    );
    let text = welcome["text"].as_str().unwrap();
    for expected in [
        password,
        "ada",
        account["license_key"].as_str().unwrap(),
        account["panel_url"].as_str().unwrap(),
        "help@acme.example",
    ] {
        assert!(
            text.contains(expected),
            "welcome text lacks {expected}: {text}"
        );
    }
    assert!(welcome["html"].as_str().unwrap().contains(password));
    assert_eq!(
        by_template(&messages, "Starter license").len(),
        1,
        "license issued message"
    );

    // Sent: the sealed password is erased from the outbox; it is nowhere in the database.
    // The sink stores a message just before the mailer records it as sent: poll.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let sent = loop {
        let (_, sent) = app.get("/api/v1/emails?state=sent", Some(&admin)).await;
        if sent["total"] == 2 {
            break sent;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "messages not marked sent: {sent}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(sent["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["holds_secret"] == false));
    for sql in [
        "SELECT secret_sealed FROM email_outbox",
        "SELECT data FROM email_outbox",
        "SELECT payload FROM jobs",
        "SELECT after_state FROM audit_log",
    ] {
        assert!(
            !all_text(&app, sql).await.contains(password),
            "{sql} holds the password"
        );
    }
    assert!(all_text(&app, "SELECT secret_sealed FROM email_outbox")
        .await
        .is_empty());
}

#[tokio::test]
async fn smtp_down_then_up_delivers_once() {
    let mut sink = SmtpSink::start();
    let app = TestApp::spawn_with(sink.layer()).await;
    let admin = app.admin_token().await;
    sink.down();
    let (account, _sim) = provisioned(&app, &admin, "Ada Lovelace").await;
    // The messages wait, with the failure recorded, while SMTP is down.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, queued) = app.get("/api/v1/emails?state=queued", Some(&admin)).await;
        if queued["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["attempts"].as_i64().unwrap() >= 1 && m["last_error"].is_string())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded: {queued}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, ready) = app.get("/ready", None).await;
    assert!(
        ready["email"].as_str().unwrap().contains("configured"),
        "{ready}"
    );
    sink.up();
    let messages = sink.wait_for(2).await;
    // Give the mailer time to (wrongly) send again, then check nothing was duplicated.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(800);
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let again = sink.messages();
    assert_eq!(again.len(), messages.len());
    let welcome = by_template(&again, "is ready");
    assert_eq!(welcome.len(), 1);
    assert!(welcome[0]["text"]
        .as_str()
        .unwrap()
        .contains(account["generated_password"].as_str().unwrap()));
}

#[tokio::test]
async fn templates_can_be_overridden_and_html_escapes_customer_text() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("license_issued.txt"),
        "Subject: Key for {{ name }}\nYour key: {{ license_key }}\n",
    )
    .unwrap();
    let layer = Layer {
        email_templates_dir: Some(dir.path().display().to_string()),
        ..sink.layer()
    };
    let app = TestApp::spawn_with(layer).await;
    let admin = app.admin_token().await;
    let (_account, _sim) = provisioned(&app, &admin, "<b>Ada</b> & Co").await;
    let messages = sink.wait_for(2).await;
    let custom = by_template(&messages, "Key for");
    assert_eq!(custom.len(), 1, "{messages:?}");
    assert!(custom[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Your key: NP-"));
    let welcome = by_template(&messages, "is ready")[0];
    let html = welcome["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;Ada&lt;") && html.contains("&amp; Co"),
        "{html}"
    );
    assert!(!html.contains("<b>Ada</b>"));
}

#[tokio::test]
async fn without_smtp_messages_stay_queued_and_ready_says_so() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_account, _sim) = provisioned(&app, &admin, "Ada Lovelace").await;
    let (_, queued) = app.get("/api/v1/emails?state=queued", Some(&admin)).await;
    assert_eq!(queued["total"], 2, "{queued}");
    assert!(queued["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["attempts"] == 0));
    let (status, ready) = app.get("/ready", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        ready["email"]
            .as_str()
            .unwrap()
            .starts_with("not configured: 2 message(s) queued"),
        "{ready}"
    );
}

#[tokio::test]
async fn lifecycle_and_server_events_send_their_messages_and_admins_can_resend() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(sink.layer()).await;
    let admin = app.admin_token().await;
    let (account, sim) = provisioned(&app, &admin, "Ada Lovelace").await;
    sink.wait_for(2).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/nextpanel/accounts/{}/suspend", account["id"]),
            Some(&admin),
            json!({"reason": "unpaid invoice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let messages = sink.wait_for(3).await;
    let suspended = by_template(&messages, "is suspended");
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0]["text"]
        .as_str()
        .unwrap()
        .contains("unpaid invoice"));

    // The server goes down: the admin hears about it.
    sim.set_faults(json!({"offline": true})).unwrap();
    for _ in 0..3 {
        app.post(
            &format!("/api/v1/nextpanel/servers/{}/check", account["server_id"]),
            Some(&admin),
            json!({}),
        )
        .await;
    }
    let messages = sink.wait_for(4).await;
    let down = by_template(&messages, "is down");
    assert_eq!(down.len(), 1, "{messages:?}");
    assert_eq!(down[0]["to"], json!(["admin@example.com"]));

    let (_, sent) = app.get("/api/v1/emails?state=sent", Some(&admin)).await;
    let id = sent["items"][0]["id"].as_i64().unwrap();
    let (status, again) = app
        .post(
            &format!("/api/v1/emails/{id}/resend"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    sink.wait_for(5).await;
    assert_error(
        app.post("/api/v1/emails/999/resend", Some(&admin), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}

#[tokio::test]
async fn password_reset_by_email_is_single_use() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(sink.layer()).await;
    let admin = app.admin_token().await;
    app.customer(&admin, "ada@example.com").await;
    let (status, _) = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "ADA@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let messages = sink.wait_for(1).await;
    assert_eq!(messages.len(), 1, "no message for an unknown address");
    let text = messages[0]["text"].as_str().unwrap();
    let token = text
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 48 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .expect("a reset code")
        .to_owned();
    assert!(
        !all_text(&app, "SELECT token_hash FROM password_resets")
            .await
            .contains(&token),
        "the code is stored hashed"
    );
    let (status, body) = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "new_password": "brand-new-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.login("ada@example.com", "brand-new-password").await;
    assert_error(
        app.post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": token, "new_password": "another-password-1"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("token"),
    );
    assert_error(
        app.post(
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": "x", "new_password": "short"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("new_password"),
    );
}

#[tokio::test]
async fn reset_requests_cannot_flood_a_mailbox() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.customer(&admin, "ada@example.com").await;
    for _ in 0..6 {
        let (status, _) = app
            .post(
                "/api/v1/auth/password-reset",
                None,
                json!({"email": "ada@example.com"}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "the answer never changes");
    }
    let (_, queued) = app.get("/api/v1/emails", Some(&admin)).await;
    let resets = queued["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == "password_reset")
        .count();
    assert_eq!(resets, 3, "{queued}");
}

#[tokio::test]
async fn one_client_address_cannot_sweep_many_mailboxes_with_reset_requests() {
    let app = TestApp::spawn_with(Layer {
        password_resets_per_client_per_hour: Some(3),
        ..Layer::default()
    })
    .await;
    let admin = app.admin_token().await;
    for n in 0..3 {
        app.customer(&admin, &format!("user{n}@example.com")).await;
    }
    let ask = |email: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/password-reset"))
                .json(&json!({ "email": email }))
                .send()
                .await
                .unwrap()
        }
    };
    for n in 0..3 {
        assert_eq!(
            ask(format!("user{n}@example.com")).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let refused = ask("someone-else@example.com".into()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3_000..=3_600).contains(&retry), "{retry}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password-reset requests"),
        "{body}"
    );
    assert_eq!(
        app.count("password_resets").await,
        3,
        "the refused request changed nothing"
    );
}

#[tokio::test]
async fn welcome_credentials_by_link_show_the_password_once_to_its_customer() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(Layer {
        welcome_credentials: Some("link".into()),
        public_url: Some("https://billing.acme.example".into()),
        ..sink.layer()
    })
    .await;
    let admin = app.admin_token().await;
    let (account, _sim) = provisioned(&app, &admin, "Ada Lovelace").await;
    let password = account["generated_password"].as_str().unwrap().to_owned();
    let messages = sink.wait_for(2).await;
    let welcome = by_template(&messages, "is ready");
    assert_eq!(welcome.len(), 1, "{messages:?}");
    let text = welcome[0]["text"].as_str().unwrap();
    assert!(
        !text.contains(&password),
        "the password is not in the email: {text}"
    );
    assert!(!welcome[0]["html"].as_str().unwrap().contains(&password));
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://billing.acme.example/ui/#/my/credentials/"))
        .unwrap_or_else(|| panic!("no link in {text}"));
    let token = link.rsplit('/').next().unwrap().to_owned();
    assert!(text.contains("72 hours"), "{text}");
    // Nowhere at rest in the clear: the link keeps it sealed, the outbox keeps nothing.
    assert!(
        !all_text(&app, "SELECT sealed_password FROM credential_links")
            .await
            .contains(&password)
    );
    assert!(!all_text(&app, "SELECT data FROM email_outbox")
        .await
        .contains(&password));
    assert_eq!(
        all_text(&app, "SELECT secret_sealed FROM email_outbox").await,
        ""
    );

    // Another customer cannot open it; its customer can, once.
    let (_, mallory) = app.customer(&admin, "mallory@example.com").await;
    let stolen = app
        .post(
            "/api/v1/me/credentials/reveal",
            Some(&mallory),
            json!({"token": token}),
        )
        .await;
    assert_error(stolen, StatusCode::NOT_FOUND, "not_found", None);
    let ada = app.login("ada@example.com", "customer-password-1").await;
    let (status, shown) = app
        .post(
            "/api/v1/me/credentials/reveal",
            Some(&ada),
            json!({"token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["password"], password.as_str());
    assert_eq!(shown["username"], "ada");
    let again = app
        .post(
            "/api/v1/me/credentials/reveal",
            Some(&ada),
            json!({"token": token}),
        )
        .await;
    assert_error(again, StatusCode::CONFLICT, "conflict", Some("token"));
    assert_eq!(
        all_text(&app, "SELECT sealed_password FROM credential_links").await,
        "",
        "erased once shown"
    );
}
