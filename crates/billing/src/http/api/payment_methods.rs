//! Saved cards and automatic payment: `/api/v1/me/payment-method` and
//! `/api/v1/me/autopay` for customers, `/api/v1/customers/{id}/payment-method` for
//! admins and staff.

use axum::extract::{Path, State};
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, Body, StaffAuth};
use crate::service::cards::{self, AutopaySwitch, CardCheckout, PaymentSetup};

/// The caller's saved card and whether renewals are charged to it by themselves.
#[utoipa::path(get, path = "/api/v1/me/payment-method", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = PaymentSetup), (status = 401, body = ErrorBody),
        (status = 404, description = "the caller is not a customer", body = ErrorBody)))]
pub async fn mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<PaymentSetup>, ApiError> {
    let me = actor.user_id.ok_or(ApiError::not_found("customer"))?;
    Ok(Json(cards::setup_of(&state.db, &actor, me).await?))
}

/// A Stripe page where the caller saves a card (or replaces the saved one); nothing is
/// charged. Renewals are then charged to it on their due date while autopay is on.
#[utoipa::path(post, path = "/api/v1/me/payment-method/checkout", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = CardCheckout), (status = 401, body = ErrorBody),
        (status = 404, description = "the caller is not a customer", body = ErrorBody),
        (status = 502, description = "Stripe refused or could not be reached", body = ErrorBody),
        (status = 503, description = "card payments are not configured", body = ErrorBody)))]
pub async fn checkout(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<CardCheckout>, ApiError> {
    Ok(Json(
        cards::checkout(&state.db, &state.settings, &actor).await?,
    ))
}

/// Removes the caller's saved card (Stripe can no longer charge it). With autopay on,
/// the answer warns that the next renewal will need paying by hand.
#[utoipa::path(delete, path = "/api/v1/me/payment-method", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = PaymentSetup), (status = 401, body = ErrorBody),
        (status = 404, description = "no saved card", body = ErrorBody),
        (status = 502, description = "Stripe refused or could not be reached", body = ErrorBody),
        (status = 503, description = "card payments are not configured", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<PaymentSetup>, ApiError> {
    Ok(Json(
        cards::remove(&state.db, &state.settings, &actor).await?,
    ))
}

/// Turns automatic payment of renewals on or off for the caller.
#[utoipa::path(put, path = "/api/v1/me/autopay", tag = "me", security(("bearer" = [])), request_body = AutopaySwitch,
    responses((status = 200, body = PaymentSetup), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "the caller is not a customer", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn autopay(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<AutopaySwitch>,
) -> Result<Json<PaymentSetup>, ApiError> {
    Ok(Json(cards::set_autopay(&state.db, &actor, body).await?))
}

/// A customer's saved card and autopay setting.
#[utoipa::path(get, path = "/api/v1/customers/{id}/payment-method", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = PaymentSetup), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn of_customer(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<PaymentSetup>, ApiError> {
    Ok(Json(cards::setup_of(&state.db, &actor, id).await?))
}
