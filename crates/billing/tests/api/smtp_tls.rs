//! Mail over encrypted SMTP: STARTTLS with a login and implicit TLS, against a real
//! TLS server whose certificate comes from a private CA (`smtp_ca_file`); without that
//! CA the certificate is refused and the message waits instead of going out in clear.

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{SmtpSink, TestApp, ADMIN_EMAIL};

/// A private CA and a server certificate for 127.0.0.1 signed by it (openssl), as
/// (dir, CA certificate, server certificate, server key).
fn certificate() -> (tempfile::TempDir, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (ca_key, ca, key, csr, cert, ext) = (
        path("ca.key"),
        path("ca.pem"),
        path("server.key"),
        path("server.csr"),
        path("server.pem"),
        path("server.ext"),
    );
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl makes the test certificates");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=nextpanel-bill test CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    (dir, ca, cert, key)
}

async fn request_reset(app: &TestApp) {
    let (status, body) = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            json!({"email": ADMIN_EMAIL}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn starttls_with_a_login_delivers_over_an_encrypted_connection() {
    let (_dir, ca, cert, key) = certificate();
    let sink = SmtpSink::start_with(vec![
        "--tls".into(),
        "starttls".into(),
        cert,
        key,
        "--auth".into(),
        "mailer:smtp-pass-1".into(),
    ]);
    let app = TestApp::spawn_with(Layer {
        smtp_security: Some("starttls".into()),
        smtp_username: Some("mailer".into()),
        smtp_password: Some("smtp-pass-1".into()),
        smtp_ca_file: Some(ca),
        ..sink.layer()
    })
    .await;
    request_reset(&app).await;
    let messages = sink.wait_for(1).await;
    assert_eq!(messages[0]["tls"], true, "{messages:?}");
    assert_eq!(messages[0]["auth_user"], "mailer");
    assert_eq!(messages[0]["to"], json!([ADMIN_EMAIL]));
}

#[tokio::test]
async fn implicit_tls_delivers_too() {
    let (_dir, ca, cert, key) = certificate();
    let sink = SmtpSink::start_with(vec!["--tls".into(), "tls".into(), cert, key]);
    let app = TestApp::spawn_with(Layer {
        smtp_security: Some("tls".into()),
        smtp_ca_file: Some(ca),
        ..sink.layer()
    })
    .await;
    request_reset(&app).await;
    let messages = sink.wait_for(1).await;
    assert_eq!(messages[0]["tls"], true, "{messages:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_the_message_waits() {
    let (_dir, _ca, cert, key) = certificate();
    let sink = SmtpSink::start_with(vec!["--tls".into(), "starttls".into(), cert, key]);
    let app = TestApp::spawn_with(Layer {
        smtp_security: Some("starttls".into()),
        ..sink.layer()
    })
    .await;
    let admin = app.admin_token().await;
    request_reset(&app).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let email = loop {
        let (_, list) = app.get("/api/v1/emails", Some(&admin)).await;
        let email = list["items"][0].clone();
        if email["attempts"].as_i64().unwrap_or(0) >= 1 && !email["last_error"].is_null() {
            break email;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(email["state"], "queued", "it waits for a retry: {email}");
    let error = email["last_error"].as_str().unwrap().to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
    assert!(sink.messages().is_empty(), "nothing may go out unverified");
}

#[tokio::test]
async fn an_unreadable_ca_file_stops_start_up_with_the_setting_named() {
    let settings = crate::helpers::test_settings(Layer {
        smtp_host: Some("127.0.0.1".into()),
        smtp_ca_file: Some("/nonexistent/ca.pem".into()),
        ..Layer::default()
    });
    let err = billing::mail::smtp::SmtpSender::new(settings.smtp.as_ref().unwrap()).unwrap_err();
    assert!(err.to_string().contains("smtp_ca_file"), "{err}");
}
