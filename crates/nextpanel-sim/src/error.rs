//! The error answer of the NextPanel API: a status and `{"detail": "..."}`.
//!
//! The detail texts are part of the contract (clients match on them), so they
//! live here as constants rather than scattered through the handlers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// 401 for an unknown, missing or mismatched key pair.
pub const INVALID_CREDENTIALS: &str = "Invalid API key or secret";
/// 401 for a revoked key.
pub const REVOKED: &str = "API key is revoked";
/// 403 for a read-only key attempting a write.
pub const NOT_SUPER_ADMIN: &str = "The user doesn't have super admin privileges";
/// 403 for a client outside the key's allow-list.
pub const IP_NOT_ALLOWED: &str = "IP address not allowed";
/// 404 for an account id that does not exist.
pub const ACCOUNT_NOT_FOUND: &str = "Account not found";
/// 404 for an unknown route (FastAPI's wording, which NextPanel uses).
pub const ROUTE_NOT_FOUND: &str = "Not Found";
/// 503 while offline or on an injected outage.
pub const SERVICE_UNAVAILABLE: &str = "Service unavailable";
/// 500 on an injected or internal failure.
pub const INTERNAL_ERROR: &str = "Internal server error";

/// An error answer: HTTP status plus the `detail` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status to answer with.
    pub status: StatusCode,
    /// The `detail` text.
    pub detail: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    /// 400 with the given detail.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404 `Account not found`.
    pub fn account_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ACCOUNT_NOT_FOUND)
    }

    /// 404 `Not Found`, for routes a baseline server does not have.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ROUTE_NOT_FOUND)
    }

    /// 500 `Internal server error`.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

/// Result type of the API handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON request body; an empty body reads as `null`.
pub fn parse_json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        ApiError::bad_request(format!("Invalid value for '{}': {}", e.path(), e.inner()))
    })
}

/// Parses an account id from the path; anything but an integer is not found.
pub fn parse_account_id(text: &str) -> ApiResult<u64> {
    text.parse().map_err(|_| ApiError::account_not_found())
}
