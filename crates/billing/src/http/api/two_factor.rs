//! `/api/v1/auth/two-factor/*`: the caller's own second factor; `/api/v1/users/{id}/two-factor`
//! for admins; `/api/v1/settings/security` for the staff requirement.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Auth, Body};
use crate::service::two_factor::{
    self, CodeConfirmation, DisableTwoFactor, PasswordConfirmation, RecoveryCodes,
    SecuritySettings, TwoFactorSetup, TwoFactorStatus,
};

/// The caller's two-factor state.
#[utoipa::path(get, path = "/api/v1/auth/two-factor", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = TwoFactorStatus), (status = 403, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<TwoFactorStatus>, ApiError> {
    Ok(Json(two_factor::status(&state.db, &actor).await?))
}

/// Starts setting up an authenticator app: a new secret as QR code and manual key.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/setup", tag = "auth", security(("bearer" = [])),
    request_body = PasswordConfirmation,
    responses((status = 200, body = TwoFactorSetup), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn setup(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<PasswordConfirmation>,
) -> Result<Json<TwoFactorSetup>, ApiError> {
    let issuer = &state.settings.company.name;
    Ok(Json(
        two_factor::begin_setup(&state.db, &state.vault, issuer, &actor, body).await?,
    ))
}

/// Turns two-factor sign-in on with a first code; answers the recovery codes (shown once).
#[utoipa::path(post, path = "/api/v1/auth/two-factor/enable", tag = "auth", security(("bearer" = [])),
    request_body = CodeConfirmation,
    responses((status = 200, body = RecoveryCodes), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<CodeConfirmation>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(
        two_factor::enable(&state.db, &state.vault, &actor, body).await?,
    ))
}

/// Turns two-factor sign-in off (password and a code needed).
#[utoipa::path(post, path = "/api/v1/auth/two-factor/disable", tag = "auth", security(("bearer" = [])),
    request_body = DisableTwoFactor,
    responses((status = 204, description = "turned off"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<DisableTwoFactor>,
) -> Result<StatusCode, ApiError> {
    two_factor::disable(&state.db, &state.vault, &actor, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the caller's recovery codes; the old ones stop working.
#[utoipa::path(post, path = "/api/v1/auth/two-factor/recovery-codes", tag = "auth", security(("bearer" = [])),
    request_body = PasswordConfirmation,
    responses((status = 200, body = RecoveryCodes), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn recovery_codes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<PasswordConfirmation>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(
        two_factor::renew_recovery_codes(&state.db, &actor, body).await?,
    ))
}

/// Turns a user's second factor off (a lost phone) and ends their sessions.
#[utoipa::path(delete, path = "/api/v1/users/{id}/two-factor", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id (admin, staff or customer)")),
    responses((status = 204, description = "reset"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reset(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    two_factor::reset(&state.db, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The security settings.
#[utoipa::path(get, path = "/api/v1/settings/security", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = SecuritySettings)))]
pub async fn settings(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<SecuritySettings>, ApiError> {
    Ok(Json(two_factor::settings(&state.db, &actor).await?))
}

/// Changes the security settings.
#[utoipa::path(put, path = "/api/v1/settings/security", tag = "users", security(("bearer" = [])),
    request_body = SecuritySettings,
    responses((status = 200, body = SecuritySettings), (status = 422, body = ErrorBody)))]
pub async fn update_settings(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<SecuritySettings>,
) -> Result<Json<SecuritySettings>, ApiError> {
    Ok(Json(
        two_factor::update_settings(&state.db, &actor, body).await?,
    ))
}
