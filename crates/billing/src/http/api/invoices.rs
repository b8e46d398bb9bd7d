//! Invoices and payments: `/api/v1/invoices` for admins and staff, `/api/v1/me/...`
//! for a customer's own orders and invoices, `POST /api/v1/billing/run` for admins.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_of;
use crate::app::AppState;
use crate::domain::invoice::InvoiceStatus;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Auth, Body, Params, StaffAuth};
use crate::service::billing_run::BillingRunReport;
use crate::service::invoices::{self, Invoice, NewOrder, VoidInvoice};
use crate::service::payments::{self, CheckoutLink, ManualPayment};
use crate::service::Paginated;

/// Filters of the invoice list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Only this customer's invoices (ignored for customers: always their own).
    pub customer_id: Option<i64>,
    /// Only invoices in this status.
    pub status: Option<InvoiceStatus>,
    /// Only the invoice with this number (`INV-2026-000042`).
    pub number: Option<String>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists invoices, newest first.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "invoices", security(("bearer" = [])), params(InvoiceQuery),
    responses((status = 200, body = Paginated<Invoice>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<InvoiceQuery>,
) -> Result<Json<Paginated<Invoice>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        invoices::list(
            &state.db,
            &actor,
            q.customer_id,
            q.status,
            q.number.as_deref(),
            page,
        )
        .await?,
    ))
}

/// One invoice with its lines and payments.
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<Invoice>, ApiError> {
    Ok(Json(invoices::get(&state.db, &actor, id).await?))
}

/// Voids an open invoice: it can no longer be paid.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/void", tag = "invoices", security(("bearer" = [])), request_body = VoidInvoice,
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn void(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    body: Option<Body<VoidInvoice>>,
) -> Result<Json<Invoice>, ApiError> {
    let body = body.map(|Body(b)| b).unwrap_or_default();
    Ok(Json(invoices::void(&state.db, &actor, id, body).await?))
}

/// Records a payment received outside Stripe (bank transfer) and applies it as a card
/// payment would be: an order gets its license and hosting account, a renewal extends
/// the license.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/mark-paid", tag = "invoices", security(("bearer" = [])), request_body = ManualPayment,
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mark_paid(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<ManualPayment>,
) -> Result<Json<Invoice>, ApiError> {
    let ctx = state.payment_context();
    Ok(Json(payments::mark_paid(&ctx, &actor, id, body).await?))
}

/// A Stripe Checkout link for an open invoice, to send to the customer.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/checkout", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = CheckoutLink), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, description = "Stripe refused or could not be reached", body = ErrorBody),
        (status = 503, description = "Stripe is not configured", body = ErrorBody)))]
pub async fn checkout(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<CheckoutLink>, ApiError> {
    Ok(Json(
        payments::checkout(&state.db, &state.settings, &actor, id).await?,
    ))
}

/// Orders a plan for a customer: an open invoice; paying it creates the hosting account.
#[utoipa::path(post, path = "/api/v1/customers/{id}/orders", tag = "invoices", security(("bearer" = [])), request_body = NewOrder,
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 201, body = Invoice), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn order_for(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<NewOrder>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let invoice = payments::order(&state.payment_context(), &actor, id, body).await?;
    Ok((StatusCode::CREATED, Json(invoice)))
}

/// Orders a plan: an open invoice (and the "invoice created" message). Pay it with
/// `POST /api/v1/me/invoices/{id}/checkout`; the hosting account is created when it is paid.
/// An order that costs nothing (a free plan) is paid at once.
#[utoipa::path(post, path = "/api/v1/me/orders", tag = "me", security(("bearer" = [])), request_body = NewOrder,
    responses((status = 201, body = Invoice), (status = 409, description = "an open order for this username exists", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn order(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Body(body): Body<NewOrder>,
) -> Result<(StatusCode, Json<Invoice>), ApiError> {
    let me = actor.user_id.ok_or(ApiError::not_found("customer"))?;
    let invoice = payments::order(&state.payment_context(), &actor, me, body).await?;
    Ok((StatusCode::CREATED, Json(invoice)))
}

/// The caller's invoices, newest first.
#[utoipa::path(get, path = "/api/v1/me/invoices", tag = "me", security(("bearer" = [])), params(InvoiceQuery),
    responses((status = 200, body = Paginated<Invoice>)))]
pub async fn list_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<InvoiceQuery>,
) -> Result<Json<Paginated<Invoice>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        invoices::list_mine(&state.db, &actor, q.status, q.number.as_deref(), page).await?,
    ))
}

/// One of the caller's invoices with lines and payments.
#[utoipa::path(get, path = "/api/v1/me/invoices/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = Invoice), (status = 404, body = ErrorBody)))]
pub async fn get_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Invoice>, ApiError> {
    Ok(Json(invoices::get_mine(&state.db, &actor, id).await?))
}

/// Where to pay one of the caller's open invoices (Stripe Checkout).
#[utoipa::path(post, path = "/api/v1/me/invoices/{id}/checkout", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, body = CheckoutLink), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, description = "Stripe refused or could not be reached", body = ErrorBody),
        (status = 503, description = "card payments are not configured", body = ErrorBody)))]
pub async fn checkout_mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CheckoutLink>, ApiError> {
    let actor = invoices::as_owner(&actor);
    Ok(Json(
        payments::checkout(&state.db, &state.settings, &actor, id).await?,
    ))
}

/// Runs billing now, as the hourly run does: renewal invoices for licenses expiring
/// within `renewal_lead_days`, reminders about overdue invoices, and suspension of
/// hosting whose renewal is unpaid `suspend_overdue_after_days` after its due date.
#[utoipa::path(post, path = "/api/v1/billing/run", tag = "invoices", security(("bearer" = [])),
    responses((status = 200, body = BillingRunReport)))]
pub async fn run(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<BillingRunReport>, ApiError> {
    Ok(Json(state.billing_runner().run_now(&actor).await?))
}
