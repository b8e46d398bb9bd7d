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
