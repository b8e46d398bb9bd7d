//! Guarantees the error envelope: any 4xx/5xx answer that is not already JSON
//! (axum's own rejections for a bad path parameter, 405, a panic caught by tower)
//! is rewritten to `{"error": {"code", "message"}}`.

use axum::body::to_bytes;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Largest non-JSON error body kept as the message.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Response middleware: wraps non-JSON error bodies in the envelope.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match to_bytes(body, MAX_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (code, fallback) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "the body must be JSON"),
        s if s.is_server_error() => ("internal", "the server could not complete the request"),
        _ => ("bad_request", "the request is invalid"),
    };
    let message = if text.is_empty() || status.is_server_error() {
        fallback.to_owned()
    } else {
        text
    };
    let mut rewritten = ApiError::new(status, code, message).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

/// The answer for routes that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_errors_become_json() -> Result<(), axum::Error> {
        let plain = (
            StatusCode::BAD_REQUEST,
            "Invalid URL: cannot parse `abc` to a `i64`",
        )
            .into_response();
        let wrapped = json_errors(plain).await;
        assert_eq!(wrapped.status(), StatusCode::BAD_REQUEST);
        let body = to_bytes(wrapped.into_body(), 10_000).await?;
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"code\":\"bad_request\""), "{text}");
        assert!(text.contains("cannot parse"), "{text}");
        let ok = json_errors(Response::new(axum::body::Body::from("fine"))).await;
        assert_eq!(ok.status(), StatusCode::OK);
        Ok(())
    }
}
