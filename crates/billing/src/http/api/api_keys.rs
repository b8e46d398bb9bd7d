//! `/api/v1/api-keys`: keys for automation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body};
use crate::service::api_keys::{self, ApiKey, CreatedApiKey, NewApiKey};

/// Creates an API key; the secret is in this response only.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])), request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(api_keys::create(&state.db, &actor, body).await?),
    ))
}

/// Lists API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses((status = 200, body = Vec<ApiKey>)))]
pub async fn list(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    Ok(Json(api_keys::list(&state.db, &actor).await?))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "API key id")),
    responses((status = 200, body = ApiKey), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<ApiKey>, ApiError> {
    Ok(Json(api_keys::revoke(&state.db, &actor, id).await?))
}
