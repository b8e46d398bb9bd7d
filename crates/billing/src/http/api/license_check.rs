//! `/api/v1/licenses/validate` and `/api/v1/licenses/usage`: called by NextPanel
//! servers, authenticated by an HMAC signature instead of a bearer token.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::Body;
use crate::service::license_check::{
    Callbacks, UsageAnswer, UsageRequest, ValidateAnswer, ValidateRequest,
};

/// The header a NextPanel server names itself with.
const API_KEY_HEADER: &str = "x-api-key";

fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok())
}

fn callbacks(state: &AppState) -> Callbacks<'_> {
    Callbacks {
        db: &state.db,
        vault: &state.vault,
        accept_v1: state.settings.license_callbacks_v1,
        limits: &state.limits,
        per_minute: state.settings.license_callbacks_per_minute,
        answers: &state.answers,
        reads: &state.validation_reads,
    }
}

/// Validates a license before a quota-consuming action on a NextPanel server.
#[utoipa::path(post, path = "/api/v1/licenses/validate", tag = "licenses", request_body = ValidateRequest,
    description = "Called by NextPanel servers, not people. \
        `signature = hex(HMAC-SHA256(api_secret, license_key|feature|timestamp|request_id))`; see below for the rest of the signing rules. \
        A well-formed, authenticated request always gets 200: \
        `valid` is true only for an active, unexpired license that has an account on the calling server (for `create_account`: \
        a free account slot) and quota left; `remaining_quota` is what is left before the action, -1 for unlimited quotas and \
        for features other than create_account, create_domain, create_database and create_email.\n\n\
        The server sends its API key (as registered here) in `X-API-Key`, a fresh `request_id` \
        (16 to 64 characters of `[A-Za-z0-9_-]`, e.g. a UUID) and `timestamp` in Unix seconds within 300 s of our clock. \
        A repeated `request_id` (per server, within the window) is answered with the first answer (same status and body) \
        and applies nothing, so a captured request cannot be replayed; the same id on the other callback is 409. \
        Requests without `request_id` (callbacks version 1) get 422 unless the operator turned `license_callbacks_v1` on.",
    params(("X-API-Key" = String, Header, description = "the calling server's API key")),
    responses((status = 200, body = ValidateAnswer),
        (status = 401, description = "unknown API key, bad signature or stale timestamp", body = ErrorBody),
        (status = 409, description = "the request_id was already used for a usage report", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "too many callbacks from this server (see Retry-After)", body = ErrorBody)))]
pub async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<ValidateRequest>,
) -> Result<Json<ValidateAnswer>, ApiError> {
    Ok(Json(
        callbacks(&state).validate(api_key(&headers), body).await?,
    ))
}

/// Records resources a NextPanel server created or removed under a license.
#[utoipa::path(post, path = "/api/v1/licenses/usage", tag = "licenses", request_body = UsageRequest,
    description = "Called by NextPanel servers, not people, after creating (`delta` > 0) or removing (`delta` < 0) domains, \
        databases or emails. Authenticated like validation: `X-API-Key`, a fresh `request_id` and \
        `signature = hex(HMAC-SHA256(api_secret, license_key|resource|delta|timestamp|request_id))`, timestamp within 300 s. \
        A repeated `request_id` is answered with the first answer (same status and body) and counts nothing. \
        The count never goes below 0. Only a server holding an account under the license may report for it.",
    params(("X-API-Key" = String, Header, description = "the calling server's API key")),
    responses((status = 200, body = UsageAnswer),
        (status = 401, description = "unknown API key, bad signature or stale timestamp", body = ErrorBody),
        (status = 403, description = "the license has no account on this server", body = ErrorBody),
        (status = 404, description = "unknown license key", body = ErrorBody),
        (status = 409, description = "the request_id was already used for a validation", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, description = "too many callbacks from this server (see Retry-After)", body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<UsageRequest>,
) -> Result<Json<UsageAnswer>, ApiError> {
    Ok(Json(
        callbacks(&state)
            .report_usage(api_key(&headers), body)
            .await?,
    ))
}
