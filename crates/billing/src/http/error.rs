//! The one place where errors become HTTP responses.
//!
//! Every error body is `{"error": {"code": "...", "message": "...", "field": "..."}, "detail": "..."}`
//! (`detail` repeats the message for scripts written against the older system).
//! Internal failures are logged once here with their cause and answered with an
//! opaque message, so no SQL, path or secret reaches a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: &'static str,
    /// A sentence a person can act on.
    pub message: String,
    /// The input field at fault, when there is one.
    pub field: Option<String>,
    /// Seconds to wait before retrying (429).
    pub retry_after: Option<u64>,
}

/// The JSON envelope of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
    /// The same message at the top level, where scripts written for the older billing
    /// system (FastAPI's error shape) read it.
    pub detail: String,
}

/// Details of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `validation_failed`, `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `rate_limited`, `payload_too_large`, `unsupported_media_type`, `internal`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The input field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// Builds an error without a field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// 404 for a route or record that does not exist.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(inv) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                format!("{} {}", inv.field, inv.message),
            )
            .with_field(inv.field),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Conflict { field, message } => ApiError {
                field,
                ..ApiError::new(StatusCode::CONFLICT, "conflict", message)
            },
            ServiceError::Unauthenticated(msg) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", msg)
            }
            ServiceError::Forbidden(msg) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", msg),
            e @ ServiceError::SecondFactorSetupRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "second_factor_setup_required",
                e.to_string(),
            ),
            ServiceError::RateLimited {
                what,
                retry_after_secs,
            } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many {what}; try again in {retry_after_secs} seconds"),
                )
            },
            ServiceError::Upstream(msg) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_failed",
                format!("the control panel did not answer as expected: {msg}"),
            ),
            ServiceError::BadRequest { field, message } => ApiError {
                field: Some(field.to_owned()),
                ..ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
            },
            ServiceError::Unavailable(msg) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg)
            }
            ServiceError::PaymentProvider(msg) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "payment_provider_failed",
                format!("the payment provider did not answer as expected: {msg}"),
            ),
            ServiceError::Store(e) => internal(&e),
            ServiceError::Internal(e) => internal(&e),
        }
    }
}

fn internal(cause: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %cause, "request failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server could not complete the request; the error was logged",
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            detail: self.message.clone(),
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
