//! `/api/v1/coupons`: discounts customers enter when ordering.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, StaffAuth};
use crate::service::coupons::{self, Coupon, CouponPatch, NewCoupon};

/// Every coupon, newest first.
#[utoipa::path(get, path = "/api/v1/coupons", tag = "plans", security(("bearer" = [])),
    responses((status = 200, body = Vec<Coupon>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
) -> Result<Json<Vec<Coupon>>, ApiError> {
    Ok(Json(coupons::list(&state.db, &actor).await?))
}

/// Makes a coupon: a percentage or an amount off, for one or more invoices.
#[utoipa::path(post, path = "/api/v1/coupons", tag = "plans", security(("bearer" = [])), request_body = NewCoupon,
    responses((status = 201, body = Coupon), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewCoupon>,
) -> Result<(StatusCode, Json<Coupon>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(coupons::create(&state.db, &actor, body).await?),
    ))
}

/// Switches a coupon off or on, or changes its expiry or limit.
#[utoipa::path(patch, path = "/api/v1/coupons/{id}", tag = "plans", security(("bearer" = [])),
    params(("id" = i64, Path, description = "coupon id")), request_body = CouponPatch,
    responses((status = 200, body = Coupon), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<CouponPatch>,
) -> Result<Json<Coupon>, ApiError> {
    Ok(Json(coupons::update(&state.db, &actor, id, body).await?))
}
