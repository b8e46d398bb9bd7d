//! `/api/v1/auth/*`: login (with the second factor), refresh, logout, me, register.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;

use crate::app::AppState;
use crate::http::cookies;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, Body, Caller};
use crate::service::auth::{
    self, LoginAnswer, LoginRequest, RefreshRequest, RegisterRequest, Registered,
    SecondFactorLogin, SignIn, TokenPair,
};
use crate::service::customers;
use crate::service::users::User;

/// Signs in with email and password. Answers tokens, or with `"session": "cookie"` sets
/// the console's session cookie and answers its CSRF token; when the account has
/// two-factor sign-in on, answers a challenge to send with the code to
/// `POST /api/v1/auth/login/second-factor` instead.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let signed_in = auth::login(
        &state.db,
        &state.vault,
        &state.settings.auth,
        body,
        caller.client(),
    )
    .await?;
    Ok(answer(&state, signed_in))
}

/// Completes a sign-in with the code from the authenticator app or a recovery code.
#[utoipa::path(post, path = "/api/v1/auth/login/second-factor", tag = "auth", request_body = SecondFactorLogin,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn second_factor(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SecondFactorLogin>,
) -> Result<Response, ApiError> {
    let signed_in = auth::login_second_factor(
        &state.db,
        &state.vault,
        &state.settings.auth,
        body,
        caller.client(),
    )
    .await?;
    Ok(answer(&state, signed_in))
}

/// The JSON answer, with the session cookies when the session lives in them.
fn answer(state: &AppState, signed_in: SignIn) -> Response {
    let json = Json(signed_in.answer);
    match signed_in.cookie {
        Some(cookie) => {
            let [session, csrf] = cookies::open(&cookie, state.settings.https());
            (
                AppendHeaders([(header::SET_COOKIE, session), (header::SET_COOKIE, csrf)]),
                json,
            )
                .into_response()
        }
        None => json.into_response(),
    }
}

/// Exchanges a refresh token for a new pair (the old one stops working).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    Ok(Json(
        auth::refresh(
            &state.db,
            &state.vault,
            &state.settings.auth,
            body,
            caller.client(),
        )
        .await?,
    ))
}

/// Ends the current session on the server (and removes the console's cookies).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<
    (
        AppendHeaders<[(header::HeaderName, HeaderValue); 2]>,
        StatusCode,
    ),
    ApiError,
> {
    auth::logout(&state.db, &actor).await?;
    let [session, csrf] = cookies::clear(state.settings.https());
    Ok((
        AppendHeaders([(header::SET_COOKIE, session), (header::SET_COOKIE, csrf)]),
        StatusCode::NO_CONTENT,
    ))
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
    caller: Caller,
    Body(body): Body<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            auth::register(
                &state.db,
                &state.vault,
                &state.settings.auth,
                body,
                caller.client(),
            )
            .await?,
        ),
    ))
}
