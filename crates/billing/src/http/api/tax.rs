//! `/api/v1/tax-rates`, `/api/v1/settings/tax` and `/api/v1/reports/tax`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, Params, StaffAuth};
use crate::service::tax::{
    self, NewTaxRate, ReportPeriod, TaxRate, TaxRatePatch, TaxReport, TaxSettings,
};

/// Every tax rate.
#[utoipa::path(get, path = "/api/v1/tax-rates", tag = "tax", security(("bearer" = [])),
    responses((status = 200, body = Vec<TaxRate>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
) -> Result<Json<Vec<TaxRate>>, ApiError> {
    Ok(Json(tax::list(&state.db, &actor).await?))
}

/// Adds a tax rate for a country (or one of its regions) from a date.
#[utoipa::path(post, path = "/api/v1/tax-rates", tag = "tax", security(("bearer" = [])), request_body = NewTaxRate,
    responses((status = 201, body = TaxRate), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewTaxRate>,
) -> Result<(StatusCode, Json<TaxRate>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(tax::create(&state.db, &actor, body).await?),
    ))
}

/// Changes a tax rate (a used one only its name and end date).
#[utoipa::path(patch, path = "/api/v1/tax-rates/{id}", tag = "tax", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Tax rate id")), request_body = TaxRatePatch,
    responses((status = 200, body = TaxRate), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<TaxRatePatch>,
) -> Result<Json<TaxRate>, ApiError> {
    Ok(Json(tax::update(&state.db, &actor, id, body).await?))
}

/// Deletes a tax rate no invoice used.
#[utoipa::path(delete, path = "/api/v1/tax-rates/{id}", tag = "tax", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Tax rate id")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    tax::delete(&state.db, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether plan prices include tax.
#[utoipa::path(get, path = "/api/v1/settings/tax", tag = "tax", security(("bearer" = [])),
    responses((status = 200, body = TaxSettings)))]
pub async fn settings(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
) -> Result<Json<TaxSettings>, ApiError> {
    Ok(Json(tax::settings(&state.db, &actor).await?))
}

/// Sets whether plan prices include tax (invoices already issued keep theirs).
#[utoipa::path(put, path = "/api/v1/settings/tax", tag = "tax", security(("bearer" = [])), request_body = TaxSettings,
    responses((status = 200, body = TaxSettings), (status = 422, body = ErrorBody)))]
pub async fn update_settings(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<TaxSettings>,
) -> Result<Json<TaxSettings>, ApiError> {
    Ok(Json(tax::update_settings(&state.db, &actor, body).await?))
}

/// Tax collected in a period per country, tax and currency, refunds deducted.
#[utoipa::path(get, path = "/api/v1/reports/tax", tag = "tax", security(("bearer" = [])), params(ReportPeriod),
    responses((status = 200, body = TaxReport), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(period): Params<ReportPeriod>,
) -> Result<Json<TaxReport>, ApiError> {
    Ok(Json(tax::report(&state.db, &actor, &period).await?))
}

/// The tax report as CSV, for spreadsheets and accountants.
#[utoipa::path(get, path = "/api/v1/reports/tax.csv", tag = "tax", security(("bearer" = [])), params(ReportPeriod),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_csv(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(period): Params<ReportPeriod>,
) -> Result<impl IntoResponse, ApiError> {
    let report = tax::report(&state.db, &actor, &period).await?;
    let name = format!(
        "attachment; filename=\"tax-{}-{}.csv\"",
        report.from, report.to
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        tax::report_csv(&report),
    ))
}
