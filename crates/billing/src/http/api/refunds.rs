//! Refunds, credit notes and disputes: `POST /api/v1/payments/{id}/refund` (admins),
//! `/api/v1/credit-notes` and `/api/v1/disputes` (admins and staff),
//! `/api/v1/me/credit-notes` (customers, their own).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_of;
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Auth, Body, IdempotencyKey, Params, StaffAuth};
use crate::service::disputes::{self, Dispute};
use crate::service::refunds::{self, CreditNote, NewRefund, Refund};
use crate::service::Paginated;

/// Filters of the credit-note and dispute lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Only this customer's.
    pub customer_id: Option<i64>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Refunds a payment in full (the default) or in part, with a reason; issues a credit
/// note. A card payment goes back through Stripe; a manual one is recorded as given
/// back by hand.
#[utoipa::path(post, path = "/api/v1/payments/{id}/refund", tag = "invoices", security(("bearer" = [])),
    request_body = NewRefund,
    params(("id" = i64, Path, description = "payment id (from the invoice's payments)"),
        ("Idempotency-Key" = Option<String>, Header, description = "a second refund under the same key is refused (409)")),
    responses((status = 200, body = Refund), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "failed payment, refunded in full, or Idempotency-Key used", body = ErrorBody),
        (status = 422, description = "amount or currency not possible", body = ErrorBody),
        (status = 502, description = "Stripe refused, or did not answer (the refund then stays pending and is retried)", body = ErrorBody),
        (status = 503, description = "card payments are not configured", body = ErrorBody)))]
pub async fn refund(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    IdempotencyKey(key): IdempotencyKey,
    Body(body): Body<NewRefund>,
) -> Result<Json<Refund>, ApiError> {
    Ok(Json(
        refunds::refund(&state.payment_context(), &actor, id, key.as_deref(), body).await?,
    ))
}

/// Credit notes, newest first.
#[utoipa::path(get, path = "/api/v1/credit-notes", tag = "invoices", security(("bearer" = [])), params(CustomerQuery),
    responses((status = 200, body = Paginated<CreditNote>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn credit_notes(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<CustomerQuery>,
) -> Result<Json<Paginated<CreditNote>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        refunds::credit_notes(&state.db, &actor, q.customer_id, page).await?,
    ))
}

/// The caller's credit notes, newest first.
#[utoipa::path(get, path = "/api/v1/me/credit-notes", tag = "me", security(("bearer" = [])), params(CustomerQuery),
    responses((status = 200, body = Paginated<CreditNote>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn my_credit_notes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<CustomerQuery>,
) -> Result<Json<Paginated<CreditNote>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        refunds::my_credit_notes(&state.db, &actor, page).await?,
    ))
}

/// Card disputes, newest first.
#[utoipa::path(get, path = "/api/v1/disputes", tag = "invoices", security(("bearer" = [])), params(CustomerQuery),
    responses((status = 200, body = Paginated<Dispute>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn disputes(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<CustomerQuery>,
) -> Result<Json<Paginated<Dispute>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        disputes::list(&state.db, &actor, q.customer_id, page).await?,
    ))
}
