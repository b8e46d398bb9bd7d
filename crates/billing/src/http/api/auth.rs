//! `/api/v1/auth/*`: login, refresh, logout, me, register.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, Body, ClientIp};
use crate::service::auth::{
    self, LoginRequest, RefreshRequest, RegisterRequest, Registered, TokenPair,
};
use crate::service::customers;
use crate::service::users::User;

/// Exchanges email and password for tokens.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(body): Body<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(
        auth::login(&state.db, &state.settings.auth, body, &ip).await?,
    ))
}

/// Exchanges a refresh token for a new pair (the old one stops working).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Body(body): Body<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(
        auth::refresh(&state.db, &state.settings.auth, body).await?,
    ))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<StatusCode, ApiError> {
    auth::logout(&state.db, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(actor): Auth) -> Result<Json<User>, ApiError> {
    Ok(Json(customers::me(&state.db, &actor).await?))
}

/// Signs up a new customer and logs them in (when enabled in the configuration).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Body(body): Body<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(auth::register(&state.db, &state.settings.auth, body).await?),
    ))
}
