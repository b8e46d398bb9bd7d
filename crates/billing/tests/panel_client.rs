//! The NextPanel client against a real `nextpanel-sim` on loopback: every
//! operation with and without extensions, every failure kind of the
//! contract, the connection test, and that no secret leaks into an error,
//! a `Debug` output or a log line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use billing::domain::plan::AccountType;
use billing::panel::{
    ControlPanel, CreateAccount, Extension, NextPanelClient, PanelAccountStatus, PanelError,
    PanelErrorKind, PanelTimeouts,
};
use chrono::Utc;
use nextpanel_sim::{Credential, PermissionLevel, SimConfig, SimHandle};
use secrecy::SecretString;
use serde_json::json;

const PASSWORD: &str = "Tr0ub4dor-and-3-more-words";

async fn sim() -> SimHandle {
    nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap()
}

async fn baseline_sim() -> SimHandle {
    let sim = sim().await;
    sim.set_faults(json!({"baseline": true})).unwrap();
    sim
}

fn client_for(base: &str, key: &str, secret: &str, timeouts: PanelTimeouts) -> NextPanelClient {
    NextPanelClient::new(base, key, &SecretString::from(secret), timeouts).unwrap()
}

fn client(sim: &SimHandle) -> NextPanelClient {
    // A trailing slash, as an admin might type it.
    let base = format!("{}/", sim.base_url());
    client_for(
        &base,
        sim.api_key(),
        sim.api_secret(),
        PanelTimeouts::default(),
    )
}

fn short_timeouts() -> PanelTimeouts {
    let short = Duration::from_millis(300);
    PanelTimeouts {
        connect: short,
        health: short,
        create: short,
        other: short,
    }
}

fn request(username: &str, billing_id: &str) -> CreateAccount {
    CreateAccount {
        username: username.to_owned(),
        email: format!("{username}@example.com"),
        password: SecretString::from(PASSWORD),
        full_name: Some("Alice Example".to_owned()),
        phone: None,
        company: None,
        package_id: Some(1),
        account_type: AccountType::Panel,
        billing_id: billing_id.to_owned(),
        hosting_account_id: 7,
        created_at: Utc::now(),
        idempotency_key: None,
    }
}

/// Fails the test if a secret shows in the error's text or Debug output.
fn assert_no_secrets(error: &PanelError, secrets: &[&str]) {
    let shown = format!("{error} / {error:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "secret leaked in {shown}");
    }
}

/// A fake server answering every request with one status and body.
async fn fake_panel(status: u16, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(move || async move { (axum::http::StatusCode::from_u16(status).unwrap(), body) });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn health_lists_extensions_and_baseline_has_none() {
    let sim = sim().await;
    let panel = client(&sim);
    assert_eq!(panel.known_extensions(), None);
    let health = panel.health().await.unwrap();
    assert!(health.is_healthy());
    assert_eq!(health.version.as_deref(), Some("1.0.0"));
    for ext in [
        Extension::Idempotency,
        Extension::Lookup,
        Extension::Package,
        Extension::Password,
    ] {
        assert!(health.has(ext), "{ext:?}");
    }
    assert_eq!(panel.known_extensions().unwrap().len(), 4);

    let baseline = baseline_sim().await;
    let health = client(&baseline).health().await.unwrap();
    assert!(health.is_healthy() && health.extensions.is_empty());
}

async fn create_get_find(sim: &SimHandle) {
    let panel = client(sim);
    let created = panel.create(&request("alice", "cus_1")).await.unwrap();
    assert_eq!(created.username, "alice");
    assert_eq!(created.status, PanelAccountStatus::Active);
    assert_eq!(created.billing_id.as_deref(), Some("cus_1"));
    panel.create(&request("bob", "cus_2")).await.unwrap();

    let fetched = panel.get(&created.id).await.unwrap();
    assert_eq!(fetched, created);
    let found = panel.find_by_username("alice").await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert!(panel.find_by_username("carol").await.unwrap().is_none());
    let by_billing = panel.find_by_billing_id("cus_1").await.unwrap();
    assert_eq!(by_billing.len(), 1);
    assert_eq!(by_billing[0].id, created.id);
    assert!(panel.find_by_billing_id("cus_9").await.unwrap().is_empty());

    let account = &sim.state()["accounts"][0];
    assert_eq!(account["metadata"]["created_from"], "billing_system");
    assert_eq!(account["metadata"]["account_type"], "panel");
    assert_eq!(account["metadata"]["hosting_account_id"], 7);
    assert_eq!(account["password_set"], true);
}

#[tokio::test]
async fn create_get_and_find_with_the_lookup_extension() {
    let sim = sim().await;
    create_get_find(&sim).await;
    let requests = &sim.stats()["requests"];
    assert_eq!(requests["GET /api/v1/billing/accounts"], 4);
}

#[tokio::test]
async fn create_get_and_find_on_a_baseline_server() {
    create_get_find(&baseline_sim().await).await;
}

#[tokio::test]
async fn suspend_unsuspend_and_terminate() {
    let sim = sim().await;
    let panel = client(&sim);
    let id = panel.create(&request("dave", "cus_3")).await.unwrap().id;
    panel.suspend(&id, "unpaid invoice").await.unwrap();
    assert_eq!(
        panel.get(&id).await.unwrap().status,
        PanelAccountStatus::Suspended
    );
    assert_eq!(
        sim.state()["accounts"][0]["suspension_reason"],
        "unpaid invoice"
    );
    panel.unsuspend(&id).await.unwrap();
    assert_eq!(
        panel.get(&id).await.unwrap().status,
        PanelAccountStatus::Active
    );
    panel.terminate(&id).await.unwrap();
    let again = panel.terminate(&id).await.unwrap_err();
    assert_eq!(again.kind, PanelErrorKind::NotFound);
    assert_eq!(again.status, Some(404));
    assert!(again.is_definitely_not_done() && !again.is_retryable());
    assert_eq!(
        panel.get(&id).await.unwrap_err().kind,
        PanelErrorKind::NotFound
    );
    assert_eq!(
        panel.suspend("999", "x").await.unwrap_err().kind,
        PanelErrorKind::NotFound
    );
}

#[tokio::test]
async fn a_taken_username_is_already_exists() {
    let sim = sim().await;
    let panel = client(&sim);
    panel.create(&request("erin", "cus_4")).await.unwrap();
    let error = panel.create(&request("erin", "cus_5")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::AlreadyExists);
    assert!(error.is_definitely_not_done());
    assert!(error.message.contains("already"), "{error}");
    assert_no_secrets(&error, &[PASSWORD, sim.api_secret()]);

    let mut invalid = request("9bad", "cus_6");
    invalid.username = "9bad".into();
    let error = panel.create(&invalid).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Rejected);
}

#[tokio::test]
async fn package_and_password_need_their_extensions() {
    let sim = sim().await;
    let panel = client(&sim);
    let id = panel.create(&request("frank", "cus_7")).await.unwrap().id;
    panel.change_package(&id, 2).await.unwrap();
    assert_eq!(panel.get(&id).await.unwrap().package_id, Some(2));
    panel
        .set_password(&id, &SecretString::from("n3w-Passw0rd-here"))
        .await
        .unwrap();
    assert_eq!(
        sim.stats()["requests"]["POST /api/v1/billing/accounts/{id}/password"],
        1
    );

    let baseline = baseline_sim().await;
    let panel = client(&baseline);
    let id = panel.create(&request("frank", "cus_7")).await.unwrap().id;
    let error = panel.change_package(&id, 2).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Unsupported);
    assert!(error.message.contains("cannot change"), "{error}");
    let error = panel
        .set_password(&id, &SecretString::from("n3w-Passw0rd-here"))
        .await
        .unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Unsupported);
    let requests = baseline.stats()["requests"].clone();
    assert!(requests
        .get("POST /api/v1/billing/accounts/{id}/package")
        .is_none());
}

#[tokio::test]
async fn stats_read_the_known_keys() {
    let sim = sim().await;
    let panel = client(&sim);
    let id = panel.create(&request("grace", "cus_8")).await.unwrap().id;
    let stats = panel.stats(&id).await.unwrap();
    assert_eq!(stats.total_domains, Some(0));
    assert_eq!(stats.total_databases, Some(0));
    assert_eq!(stats.storage_used_bytes, Some(0));
    assert_eq!(stats.account_age_days, Some(0));
    assert_eq!(stats.last_login, None);
    assert_eq!(stats.extra["username"], "grace");
}

#[tokio::test]
async fn the_same_idempotency_key_creates_once() {
    let sim = sim().await;
    let panel = client(&sim);
    let mut create = request("heidi", "cus_9");
    create.idempotency_key = Some("6f1c0d7e-hosting-account-7".to_owned());
    let first = panel.create(&create).await.unwrap();
    let second = panel.create(&create).await.unwrap();
    assert_eq!(first.id, second.id);
    let stats = sim.stats();
    assert_eq!(stats["creates_performed"], 1);
    assert_eq!(stats["idempotent_replays"], 1);

    // Without the extension the key is not sent; the repeat is a taken username.
    let baseline = baseline_sim().await;
    let panel = client(&baseline);
    panel.create(&create).await.unwrap();
    let error = panel.create(&create).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::AlreadyExists);
}

#[tokio::test]
async fn credential_problems_have_their_kinds() {
    let read_only = Credential::generate(PermissionLevel::ReadOnly).unwrap();
    let fenced = Credential::generate(PermissionLevel::Billing)
        .unwrap()
        .with_allowed_ips(["10.0.0.0/8"])
        .unwrap();
    let config = SimConfig::random()
        .unwrap()
        .with_credential(read_only.clone())
        .with_credential(fenced.clone());
    let sim = nextpanel_sim::spawn(config).await.unwrap();
    let base = sim.base_url();
    let timeouts = PanelTimeouts::default();
    let secrets = [
        PASSWORD,
        sim.api_secret(),
        read_only.api_secret.as_str(),
        fenced.api_secret.as_str(),
        "nps_wrong_secret_value",
    ];

    let wrong = client_for(&base, sim.api_key(), "nps_wrong_secret_value", timeouts);
    let error = wrong.create(&request("ivan", "c")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::BadCredentials);
    assert_eq!(error.status, Some(401));
    assert!(error.message.contains("wrong"), "{error}");
    assert_no_secrets(&error, &secrets);

    let ro = client_for(&base, &read_only.api_key, &read_only.api_secret, timeouts);
    assert!(ro.find_by_username("ivan").await.unwrap().is_none());
    let error = ro.create(&request("ivan", "c")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::NoPermission);
    assert!(error.message.contains("lacks permission"), "{error}");
    assert_no_secrets(&error, &secrets);

    let outside = client_for(&base, &fenced.api_key, &fenced.api_secret, timeouts);
    let error = outside.get("1").await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::IpNotAllowed);
    assert!(error.message.contains("allow-list"), "{error}");

    let panel = client(&sim);
    assert!(sim.set_revoked(sim.api_key(), true).unwrap());
    let error = panel.create(&request("ivan", "c")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::BadCredentials);
    assert!(error.message.contains("revoked"), "{error}");
    assert!(!error.is_retryable() && error.is_definitely_not_done());
    assert_no_secrets(&error, &secrets);
    assert_eq!(sim.stats()["creates_performed"], 0);
}

#[tokio::test]
async fn server_failures_are_server_errors() {
    let sim = sim().await;
    let panel = client(&sim);
    panel.health().await.unwrap();
    sim.set_faults(json!({"offline": true})).unwrap();
    let error = panel.create(&request("judy", "c")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::ServerError);
    assert_eq!(error.status, Some(503));
    assert!(error.is_retryable() && error.outcome_unknown());

    sim.set_faults(json!({"offline": false, "error_rate": 1.0}))
        .unwrap();
    let error = panel.get("1").await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::ServerError);
    assert!(matches!(error.status, Some(500 | 503)));
}

#[tokio::test]
async fn a_hanging_server_is_a_timeout() {
    let sim = sim().await;
    let base = sim.base_url();
    let panel = client_for(&base, sim.api_key(), sim.api_secret(), short_timeouts());
    panel.health().await.unwrap();
    sim.set_faults(json!({"timeout": true, "hang_ms": 2000}))
        .unwrap();
    let started = std::time::Instant::now();
    let error = panel.create(&request("kim", "c")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(error.kind, PanelErrorKind::Timeout);
    assert!(error.message.contains("300 ms"), "{error}");
    assert!(error.outcome_unknown() && error.is_retryable());
}

#[tokio::test]
async fn a_lost_response_leaves_the_outcome_unknown() {
    let sim = sim().await;
    let panel = client(&sim);
    panel.health().await.unwrap();
    sim.set_faults(json!({"lost_response": true})).unwrap();
    let error = panel.create(&request("lena", "cus_10")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::ConnectionLost, "{error}");
    assert!(error.outcome_unknown() && error.is_retryable());
    assert_no_secrets(&error, &[PASSWORD, sim.api_secret()]);
    assert_eq!(sim.state()["accounts"][0]["username"], "lena");
    // Reads still answer, so the caller can look the account up.
    let found = panel.find_by_username("lena").await.unwrap();
    assert!(found.is_some());
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let base = format!("http://127.0.0.1:{}", closed_port().await);
    let panel = client_for(&base, "npk_k", "nps_secret_value", PanelTimeouts::default());
    let error = panel.health().await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Unreachable, "{error}");
    assert!(error.message.contains("connection refused"), "{error}");
    assert!(error.is_retryable() && error.is_definitely_not_done());
    // Nothing was sent, so a create is definitely not done either.
    let error = panel.create(&request("mia", "c")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Unreachable);
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    let sim = sim().await;
    let base = sim.base_url().replace("http://", "https://");
    let panel = client_for(
        &base,
        sim.api_key(),
        sim.api_secret(),
        PanelTimeouts::default(),
    );
    let error = panel.health().await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Tls, "{error}");
    assert!(error.message.contains("TLS handshake"), "{error}");
    assert!(error.is_definitely_not_done() && !error.is_retryable());
}

#[tokio::test]
async fn a_2xx_that_is_not_the_contract_is_unexpected() {
    let base = fake_panel(201, "not json").await;
    let panel = client_for(&base, "npk_k", "nps_secret_value", PanelTimeouts::default());
    let error = panel.get("1").await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::UnexpectedResponse);
    assert_eq!(error.status, Some(201));
    let error = panel.health().await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::UnexpectedResponse);

    let base = fake_panel(201, r#"{"status": "healthy", "username": "nina"}"#).await;
    let panel = client_for(&base, "npk_k", "nps_secret_value", PanelTimeouts::default());
    let error = panel.create(&request("nina", "c")).await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::UnexpectedResponse);
    assert!(error.message.contains("no id"), "{error}");
    assert!(error.outcome_unknown(), "the create may have happened");
}

#[tokio::test]
async fn secrets_echoed_by_a_server_are_redacted() {
    // A server that echoes what it got in its error text (as FastAPI's 422 can).
    let body =
        r#"{"detail": "bad input: password=Tr0ub4dor-and-3-more-words secret=nps_secret_value"}"#;
    let base = fake_panel(422, body).await;
    let panel = client_for(&base, "npk_k", "nps_secret_value", PanelTimeouts::default());
    let error = panel.get("1").await.unwrap_err();
    assert_eq!(error.kind, PanelErrorKind::Rejected);
    assert!(!error.message.contains("nps_secret_value"), "{error}");
    assert!(error.message.contains("[redacted]"), "{error}");
    // The call that carries a password scrubs it from the answer too.
    let error = panel.create(&request("olga", "c")).await.unwrap_err();
    assert_no_secrets(&error, &[PASSWORD, "nps_secret_value"]);
}

#[tokio::test]
async fn debug_output_hides_secrets() {
    let panel = client_for(
        "https://panel.example.com",
        "npk_abcdefghijklmnop",
        "nps_very_secret_value",
        PanelTimeouts::default(),
    );
    let shown = format!("{panel:?}");
    assert!(!shown.contains("nps_very_secret_value"), "{shown}");
    assert!(!shown.contains("npk_abcdefghijklmnop"), "{shown}");
    assert!(shown.contains("panel.example.com"), "{shown}");
    let shown = format!("{:?}", request("paul", "c"));
    assert!(!shown.contains(PASSWORD), "{shown}");
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_lines_never_carry_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = sim().await;
    let panel = client(&sim);
    let id = panel.create(&request("quinn", "c")).await.unwrap().id;
    panel
        .set_password(&id, &SecretString::from("An0ther-secret-pw"))
        .await
        .unwrap();
    let wrong = client_for(
        &sim.base_url(),
        sim.api_key(),
        "nps_wrong_one",
        PanelTimeouts::default(),
    );
    wrong.get(&id).await.unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("panel call"), "{logs}");
    assert!(logs.contains("/api/v1/billing/accounts"), "{logs}");
    for secret in [
        PASSWORD,
        "An0ther-secret-pw",
        sim.api_secret(),
        "nps_wrong_one",
        sim.api_key(),
    ] {
        assert!(!logs.contains(secret), "secret in logs: {logs}");
    }
}

#[tokio::test]
async fn connection_test_succeeds_and_names_each_failure() {
    let sim = sim().await;
    let fenced = Credential::generate(PermissionLevel::Billing)
        .unwrap()
        .with_allowed_ips(["10.0.0.0/8"])
        .unwrap();
    let fenced_sim =
        nextpanel_sim::spawn(SimConfig::random().unwrap().with_credential(fenced.clone()))
            .await
            .unwrap();
    let base = sim.base_url();
    let timeouts = PanelTimeouts::default();

    let ok = client(&sim).test_connection().await;
    assert!(ok.ok, "{}", ok.message);
    assert_eq!(ok.kind, None);
    assert_eq!(ok.version.as_deref(), Some("1.0.0"));
    assert_eq!(ok.extensions.len(), 4);
    assert!(ok.message.contains("the API key works"), "{}", ok.message);

    let baseline = client(&baseline_sim().await).test_connection().await;
    assert!(
        baseline.ok && baseline.message.contains("baseline"),
        "{}",
        baseline.message
    );

    let wrong = client_for(&base, sim.api_key(), "nps_wrong_secret_value", timeouts)
        .test_connection()
        .await;
    assert_eq!(wrong.kind, Some(PanelErrorKind::BadCredentials));
    assert!(wrong.message.contains("refused"), "{}", wrong.message);
    assert!(!wrong.message.contains("nps_wrong_secret_value"));

    let outside = client_for(
        &fenced_sim.base_url(),
        &fenced.api_key,
        &fenced.api_secret,
        timeouts,
    )
    .test_connection()
    .await;
    assert_eq!(outside.kind, Some(PanelErrorKind::IpNotAllowed));
    assert!(
        outside.message.contains("our IP address"),
        "{}",
        outside.message
    );

    let closed = format!("http://127.0.0.1:{}", closed_port().await);
    let unreachable = client_for(&closed, "npk_k", "nps_s_value", timeouts)
        .test_connection()
        .await;
    assert_eq!(unreachable.kind, Some(PanelErrorKind::Unreachable));
    assert!(
        unreachable
            .message
            .contains("cannot reach the server at http://127.0.0.1")
            && unreachable.message.contains("connection refused"),
        "{}",
        unreachable.message
    );

    let tls = client_for(
        &base.replace("http://", "https://"),
        "npk_k",
        "nps_s_value",
        timeouts,
    )
    .test_connection()
    .await;
    assert_eq!(tls.kind, Some(PanelErrorKind::Tls));
    assert!(tls.message.starts_with("TLS handshake"), "{}", tls.message);

    let not_panel = fake_panel(200, "<html>hello</html>").await;
    let stranger = client_for(&not_panel, "npk_k", "nps_s_value", timeouts)
        .test_connection()
        .await;
    assert_eq!(stranger.kind, Some(PanelErrorKind::UnexpectedResponse));
    assert!(
        stranger.message.contains("does not look like NextPanel"),
        "{}",
        stranger.message
    );

    sim.set_revoked(sim.api_key(), true).unwrap();
    let revoked = client(&sim).test_connection().await;
    assert_eq!(revoked.kind, Some(PanelErrorKind::BadCredentials));
    assert!(revoked.message.contains("revoked"), "{}", revoked.message);
    assert_eq!(revoked.version.as_deref(), Some("1.0.0"));

    sim.set_faults(json!({"timeout": true, "hang_ms": 2000}))
        .unwrap();
    let slow = client_for(&base, sim.api_key(), sim.api_secret(), short_timeouts())
        .test_connection()
        .await;
    assert_eq!(slow.kind, Some(PanelErrorKind::Timeout));
    assert!(
        slow.message.contains("did not answer within 300 ms"),
        "{}",
        slow.message
    );
    assert!(slow.latency_ms >= 300);
}
