//! `/api/v1/licenses`: every license, for admins and staff.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_of;
use crate::app::AppState;
use crate::domain::license::LicenseStatus;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, Params, StaffAuth};
use crate::service::licenses::{self, CancelLicense, License, LicenseDetail, LicensePatch};
use crate::service::Paginated;

/// Filters of the license list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LicenseQuery {
    /// Only this customer's licenses.
    pub customer_id: Option<i64>,
    /// Only licenses in this status.
    pub status: Option<LicenseStatus>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists licenses, newest first.
#[utoipa::path(get, path = "/api/v1/licenses", tag = "licenses", security(("bearer" = [])), params(LicenseQuery),
    responses((status = 200, body = Paginated<License>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<LicenseQuery>,
) -> Result<Json<Paginated<License>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        licenses::list(&state.db, &actor, q.customer_id, q.status, page).await?,
    ))
}

/// One license.
#[utoipa::path(get, path = "/api/v1/licenses/{id}", tag = "licenses", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = LicenseDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<LicenseDetail>, ApiError> {
    Ok(Json(licenses::get(&state.db, &actor, id).await?))
}

/// Extends, changes quotas or status of a license.
#[utoipa::path(patch, path = "/api/v1/licenses/{id}", tag = "licenses", security(("bearer" = [])), request_body = LicensePatch,
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = License), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(patch): Body<LicensePatch>,
) -> Result<Json<License>, ApiError> {
    Ok(Json(licenses::update(&state.db, &actor, id, patch).await?))
}

/// Cancels a license for good.
#[utoipa::path(post, path = "/api/v1/licenses/{id}/cancel", tag = "licenses", security(("bearer" = [])), request_body = CancelLicense,
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = License), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    body: Option<Body<CancelLicense>>,
) -> Result<Json<License>, ApiError> {
    let body = body.map(|Body(b)| b).unwrap_or_default();
    Ok(Json(licenses::cancel(&state.db, &actor, id, body).await?))
}
