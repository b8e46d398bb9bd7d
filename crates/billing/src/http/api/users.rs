//! `/api/v1/users`: the operator's admins and staff.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::PageQuery;
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, Params};
use crate::service::users::{self, NewStaffUser, User};
use crate::service::Paginated;

/// Creates an admin or staff user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewStaffUser,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewStaffUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(users::create_staff(&state.db, &actor, body).await?),
    ))
}

/// Lists admins and staff.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Paginated<User>)))]
pub async fn list(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Params(q): Params<PageQuery>,
) -> Result<Json<Paginated<User>>, ApiError> {
    Ok(Json(users::list_staff(&state.db, &actor, q.page()?).await?))
}
