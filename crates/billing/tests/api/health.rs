use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};

#[tokio::test]
async fn health_and_ready_ping_the_database() {
    let app = TestApp::spawn().await;
    for path in ["/health", "/ready"] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["database"], "connected");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }
    // With the pool closed the ping fails for real: 503 and "unreachable".
    app.db.close().await;
    let (status, body) = app.get("/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["database"], "unreachable");
}

#[tokio::test]
async fn openapi_document_and_docs_page_are_served() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/customers",
        "/api/v1/plans",
        "/api/v1/customers/{id}/licenses",
        "/health",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "docs page is not Swagger UI");
    // The page's assets come from the binary, not from the internet.
    assert!(
        !html.contains("https://"),
        "docs page references a remote asset"
    );
    let js = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_and_bad_paths_answer_the_json_envelope() {
    let app = TestApp::spawn().await;
    assert_error(
        app.get("/api/v1/nope", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let admin = app.admin_token().await;
    assert_error(
        app.get("/api/v1/customers/abc", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        None,
    );
    assert_error(
        app.call("PUT", "/api/v1/plans", Some(&admin), Some(json!({})))
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
}

/// The SQLite database, its WAL and SHM files are created 0600 (they hold customers'
/// emails and license keys); one readable by others is reported at start-up.
#[cfg(unix)]
#[tokio::test]
async fn data_files_are_private_and_shared_ones_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let logs = crate::helpers::capture_logs();
    let app = TestApp::spawn().await;
    let Some(db) = crate::helpers::sqlite_path(&app) else {
        eprintln!("PostgreSQL keeps no data files here; the SQLite pass checks them");
        return;
    };
    let admin = app.admin_token().await;
    app.plan(&admin, "Starter").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert_eq!(
            mode(&file),
            0o600,
            "{} is {:o}",
            file.display(),
            mode(&file)
        );
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", db.display());
    let fresh = app.stop().await;
    let _again = TestApp::start(
        fresh,
        crate::helpers::test_settings(billing::config::Layer {
            database_url: Some(url),
            ..billing::config::Layer::default()
        }),
    )
    .await;
    let said = logs.contents();
    assert!(
        said.contains("chmod 600") && said.contains(&db.display().to_string()),
        "{said}"
    );
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::spawn().await;
    let anonymous = app
        .client
        .get(app.url("/api/v1/plans"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.headers()["x-content-type-options"], "nosniff");
    assert!(
        anonymous
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "plain HTTP: no HSTS"
    );
    assert_ne!(
        anonymous
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let token = app.admin_token().await;
    for path in [
        "/api/v1/auth/me",
        "/api/v1/customers",
        "/api/v1/nothing-here",
    ] {
        let resp = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["cache-control"], "no-store", "{path}");
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    let https = TestApp::spawn_with(billing::config::Layer {
        public_url: Some("https://billing.example.com".into()),
        ..billing::config::Layer::default()
    })
    .await;
    let resp = https.client.get(https.url("/health")).send().await.unwrap();
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn every_answer_names_its_request_id() {
    let app = crate::helpers::TestApp::spawn().await;
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    // A proxy's or a client's id is kept, so logs on both sides match.
    let resp = app
        .client
        .get(app.url("/api/v1/plans"))
        .header("x-request-id", "lb-7f3a-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "lb-7f3a-42");
}
