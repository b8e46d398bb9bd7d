//! `/api/v1/emails` (the outbox, for admins) and the password-reset endpoints.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page_of;
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, ClientIp, Params, StaffAuth};
use crate::service::notifications::{self, EmailView};
use crate::service::password_reset::{self, ResetConfirm, ResetRequest};
use crate::service::Paginated;

/// Filters of the message list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailQuery {
    /// `queued`, `sending`, `sent` or `failed`.
    pub state: Option<String>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists outgoing messages, newest first (`?state=failed` for the ones that could not be sent).
#[utoipa::path(get, path = "/api/v1/emails", tag = "emails", security(("bearer" = [])), params(EmailQuery),
    responses((status = 200, body = Paginated<EmailView>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<EmailQuery>,
) -> Result<Json<Paginated<EmailView>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        notifications::list(&state.db, &actor, q.state.as_deref(), page).await?,
    ))
}

/// Sends a failed (or already sent) message again.
#[utoipa::path(post, path = "/api/v1/emails/{id}/resend", tag = "emails", security(("bearer" = [])),
    params(("id" = i64, Path, description = "message id")),
    responses((status = 200, body = EmailView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resend(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<EmailView>, ApiError> {
    Ok(Json(notifications::resend(&state.db, &actor, id).await?))
}

/// A plain acknowledgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happens next.
    pub message: String,
}

/// Sends a password-reset code to the address, if it belongs to an account (same answer either way).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, body = Accepted), (status = 422, body = ErrorBody),
        (status = 429, description = "too many requests from this address (see Retry-After)", body = ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    Body(body): Body<ResetRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let from = password_reset::Requester {
        client: &client,
        limits: &state.limits,
        per_hour: state.settings.password_resets_per_client_per_hour,
    };
    password_reset::request(
        &state.db,
        &state.vault,
        &state.settings.password_reset_url,
        &from,
        body,
    )
    .await?;
    let message = "if the address belongs to an account, a reset code is on its way".to_owned();
    Ok((StatusCode::ACCEPTED, Json(Accepted { message })))
}

/// Sets a new password with the code from the reset message.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 200, body = Accepted), (status = 422, body = ErrorBody)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    Body(body): Body<ResetConfirm>,
) -> Result<Json<Accepted>, ApiError> {
    password_reset::confirm(&state.db, body).await?;
    Ok(Json(Accepted {
        message: "the password was changed; log in with the new one".to_owned(),
    }))
}
