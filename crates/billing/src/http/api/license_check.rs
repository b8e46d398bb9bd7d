//! `/api/v1/licenses/validate` and `/api/v1/licenses/usage`: called by NextPanel
//! servers, authenticated by an HMAC signature instead of a bearer token.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::Body;
use crate::service::license_check::{
    self, UsageAnswer, UsageRequest, ValidateAnswer, ValidateRequest,
};

/// The header a NextPanel server names itself with.
const API_KEY_HEADER: &str = "x-api-key";

fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok())
}

/// Validates a license before a quota-consuming action on a NextPanel server.
#[utoipa::path(post, path = "/api/v1/licenses/validate", tag = "licenses", request_body = ValidateRequest,
    description = "Called by NextPanel servers, not people. The server sends its API key (as registered here) in \
        `X-API-Key` and signs the body: `signature = hex(HMAC-SHA256(api_secret, license_key + \"|\" + feature + \"|\" + timestamp))`, \
        with `timestamp` in Unix seconds within 300 s of our clock. A well-formed, authenticated request always gets 200: \
        `valid` is true only for an active, unexpired license that has an account on the calling server (for `create_account`: \
        a free account slot) and quota left; `remaining_quota` is what is left before the action, -1 for unlimited quotas and \
        for features other than create_account, create_domain, create_database and create_email.",
    params(("X-API-Key" = String, Header, description = "the calling server's API key")),
    responses((status = 200, body = ValidateAnswer),
        (status = 401, description = "unknown API key, bad signature or stale timestamp", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<ValidateRequest>,
) -> Result<Json<ValidateAnswer>, ApiError> {
    Ok(Json(
        license_check::validate(&state.db, &state.vault, api_key(&headers), body).await?,
    ))
}

/// Records resources a NextPanel server created or removed under a license.
#[utoipa::path(post, path = "/api/v1/licenses/usage", tag = "licenses", request_body = UsageRequest,
    description = "Called by NextPanel servers, not people, after creating (`delta` > 0) or removing (`delta` < 0) domains, \
        databases or emails. Authenticated like validation: `X-API-Key` plus \
        `signature = hex(HMAC-SHA256(api_secret, license_key|resource|delta|timestamp))`, timestamp within 300 s. \
        The count never goes below 0. Only a server holding an account under the license may report for it.",
    params(("X-API-Key" = String, Header, description = "the calling server's API key")),
    responses((status = 200, body = UsageAnswer),
        (status = 401, description = "unknown API key, bad signature or stale timestamp", body = ErrorBody),
        (status = 403, description = "the license has no account on this server", body = ErrorBody),
        (status = 404, description = "unknown license key", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body<UsageRequest>,
) -> Result<Json<UsageAnswer>, ApiError> {
    Ok(Json(
        license_check::report_usage(&state.db, &state.vault, api_key(&headers), body).await?,
    ))
}
