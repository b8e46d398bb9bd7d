//! Plan changes of licenses (`/me/licenses/{id}/plan-change`, `/licenses/{id}/plan-change`)
//! and credit balances (`/me/credit`, `/customers/{id}/credit`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Auth, Body, StaffAuth};
use crate::service::credits::{self, Credit, CreditAdjustment};
use crate::service::invoices::as_owner;
use crate::service::plan_changes::{self, PlanChange, PlanChangeRequest};

/// Moves one of the caller's licenses to another plan: an upgrade answers its invoice for
/// the prorated difference; a downgrade is scheduled for the period's end or taken now.
#[utoipa::path(post, path = "/api/v1/me/licenses/{id}/plan-change", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")), request_body = PlanChangeRequest,
    responses((status = 201, body = PlanChange), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Body(body): Body<PlanChangeRequest>,
) -> Result<(StatusCode, Json<PlanChange>), ApiError> {
    let ctx = state.payment_context();
    Ok((
        StatusCode::CREATED,
        Json(plan_changes::request(&ctx, &as_owner(&actor), id, body).await?),
    ))
}

/// The plan changes of one of the caller's licenses, newest first.
#[utoipa::path(get, path = "/api/v1/me/licenses/{id}/plan-changes", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = Vec<PlanChange>), (status = 404, body = ErrorBody)))]
pub async fn list_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<PlanChange>>, ApiError> {
    Ok(Json(
        plan_changes::of_license(&state.db, &as_owner(&actor), id).await?,
    ))
}

/// Cancels the pending plan change of one of the caller's licenses (voiding its invoice).
#[utoipa::path(delete, path = "/api/v1/me/licenses/{id}/plan-change", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = PlanChange), (status = 404, body = ErrorBody)))]
pub async fn cancel_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<PlanChange>, ApiError> {
    let ctx = state.payment_context();
    Ok(Json(
        plan_changes::cancel(&ctx, &as_owner(&actor), id).await?,
    ))
}

/// Moves a customer's license to another plan (as the customer could).
#[utoipa::path(post, path = "/api/v1/licenses/{id}/plan-change", tag = "licenses", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")), request_body = PlanChangeRequest,
    responses((status = 201, body = PlanChange), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<PlanChangeRequest>,
) -> Result<(StatusCode, Json<PlanChange>), ApiError> {
    let ctx = state.payment_context();
    Ok((
        StatusCode::CREATED,
        Json(plan_changes::request(&ctx, &actor, id, body).await?),
    ))
}

/// A license's plan changes, newest first.
#[utoipa::path(get, path = "/api/v1/licenses/{id}/plan-changes", tag = "licenses", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = Vec<PlanChange>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<PlanChange>>, ApiError> {
    Ok(Json(plan_changes::of_license(&state.db, &actor, id).await?))
}

/// Cancels a license's pending plan change.
#[utoipa::path(delete, path = "/api/v1/licenses/{id}/plan-change", tag = "licenses", security(("bearer" = [])),
    params(("id" = i64, Path, description = "license id")),
    responses((status = 200, body = PlanChange), (status = 404, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<PlanChange>, ApiError> {
    let ctx = state.payment_context();
    Ok(Json(plan_changes::cancel(&ctx, &actor, id).await?))
}

/// The caller's credit balance and its entries.
#[utoipa::path(get, path = "/api/v1/me/credit", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Credit)))]
pub async fn my_credit(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Credit>, ApiError> {
    Ok(Json(credits::mine(&state.db, &actor).await?))
}

/// A customer's credit balance and its entries.
#[utoipa::path(get, path = "/api/v1/customers/{id}/credit", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = Credit), (status = 404, body = ErrorBody)))]
pub async fn credit(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<Credit>, ApiError> {
    Ok(Json(credits::of_customer(&state.db, &actor, id).await?))
}

/// Adds or takes away credit by hand, with a reason (audited).
#[utoipa::path(post, path = "/api/v1/customers/{id}/credit", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")), request_body = CreditAdjustment,
    responses((status = 200, body = Credit), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn adjust_credit(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<CreditAdjustment>,
) -> Result<Json<Credit>, ApiError> {
    Ok(Json(credits::adjust(&state.db, &actor, id, body).await?))
}
