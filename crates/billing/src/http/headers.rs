//! Security headers on every response: `X-Content-Type-Options: nosniff` everywhere,
//! `Cache-Control: no-store` on answers to authenticated requests (they carry customers'
//! data, which no shared cache or back button should keep), and HSTS when the service
//! is reached over HTTPS.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;

/// One year, with subdomains: what browsers need to remember to use HTTPS only.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the headers to the response of `request`.
pub async fn secure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let authenticated = request.headers().contains_key(header::AUTHORIZATION)
        || request.headers().contains_key("x-api-key")
        || super::cookies::get(request.headers(), super::cookies::SESSION).is_some()
        // Sign-in, refresh and registration answer tokens: no cache may keep them either.
        || request.uri().path().starts_with("/api/v1/auth/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if authenticated {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.settings.https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
