//! `/api/v1/me`: a logged-in user's own profile and licenses. Other people's records are 404.

use axum::extract::{Path, State};
use axum::Json;

use super::PageQuery;
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, Body, Params};
use crate::service::credential_links::{self, Credentials, RevealRequest};
use crate::service::customers::{self, ProfilePatch};
use crate::service::imported_history::ImportedHistory;
use crate::service::licenses::{self, License, LicenseDetail};
use crate::service::users::User;
use crate::service::Paginated;

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, Auth(actor): Auth) -> Result<Json<User>, ApiError> {
    Ok(Json(customers::me(&state.db, &actor).await?))
}

/// Changes the caller's name, company, phone or password.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, body = User), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(patch): Body<ProfilePatch>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(customers::update_me(&state.db, &actor, patch).await?))
}

/// The caller's licenses.
#[utoipa::path(get, path = "/api/v1/me/licenses", tag = "me", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Paginated<License>)))]
pub async fn list_licenses(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<PageQuery>,
) -> Result<Json<Paginated<License>>, ApiError> {
    Ok(Json(
        licenses::list_mine(&state.db, &actor, q.page()?).await?,
    ))
}

/// One of the caller's licenses.
#[utoipa::path(get, path = "/api/v1/me/licenses/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = LicenseDetail), (status = 404, body = ErrorBody)))]
pub async fn get_license(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<LicenseDetail>, ApiError> {
    Ok(Json(licenses::get_mine(&state.db, &actor, id).await?))
}

/// Shows, once, the hosting password behind the link of a welcome email
/// (`welcome_credentials = "link"`); the link must be the caller's.
#[utoipa::path(post, path = "/api/v1/me/credentials/reveal", tag = "me", security(("bearer" = [])),
    request_body = RevealRequest,
    responses((status = 200, body = Credentials), (status = 401, body = ErrorBody),
        (status = 404, description = "no such link, or not the caller's", body = ErrorBody),
        (status = 409, description = "the link was used already", body = ErrorBody),
        (status = 422, description = "the link has expired", body = ErrorBody)))]
pub async fn reveal_credentials(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<RevealRequest>,
) -> Result<Json<Credentials>, ApiError> {
    Ok(Json(
        credential_links::reveal(&state.db, &state.vault, &actor, body).await?,
    ))
}

/// The caller's invoices and payments from the older billing system (read-only).
#[utoipa::path(get, path = "/api/v1/me/imported-history", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = ImportedHistory), (status = 404, body = ErrorBody)))]
pub async fn imported_history(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<ImportedHistory>, ApiError> {
    Ok(Json(
        crate::service::imported_history::mine(&state.db, &actor).await?,
    ))
}
