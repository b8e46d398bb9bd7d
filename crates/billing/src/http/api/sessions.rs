//! `/api/v1/auth/sessions`: the caller's own sessions; `/api/v1/users/{id}/sessions`: any
//! user's, for admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Auth};
use crate::service::sessions::{self, Session};

/// The caller's live sessions (where else they are signed in).
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Vec<Session>)))]
pub async fn mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<Session>>, ApiError> {
    Ok(Json(sessions::mine(&state.db, &actor).await?))
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")),
    responses((status = 204, description = "ended"), (status = 404, body = ErrorBody)))]
pub async fn end_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    sessions::end_mine(&state.db, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's live sessions.
#[utoipa::path(get, path = "/api/v1/users/{id}/sessions", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id (admin, staff or customer)")),
    responses((status = 200, body = Vec<Session>), (status = 404, body = ErrorBody)))]
pub async fn of_user(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Session>>, ApiError> {
    Ok(Json(sessions::of_user(&state.db, &actor, id).await?))
}

/// Ends every session of a user (they must sign in again everywhere).
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses((status = 204, description = "ended"), (status = 404, body = ErrorBody)))]
pub async fn end_all(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    sessions::end_for_user(&state.db, &actor, id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one session of a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions/{session_id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id"), ("session_id" = i64, Path, description = "Session id")),
    responses((status = 204, description = "ended"), (status = 404, body = ErrorBody)))]
pub async fn end_one(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path((id, session_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    sessions::end_for_user(&state.db, &actor, id, Some(session_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
