//! `/api/v1/customers`: the admin's customer records and their licenses.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{page_of, PageQuery};
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, Params, StaffAuth};
use crate::service::customers::{self, CustomerDetail, CustomerPatch, NewCustomer};
use crate::service::imported_history::ImportedHistory;
use crate::service::licenses::{self, License, NewLicense};
use crate::service::users::User;
use crate::service::Paginated;

/// Filters of the customer list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Case-insensitive text matched against email, name and company.
    pub search: Option<String>,
    /// Include deactivated customers (default false).
    pub include_inactive: Option<bool>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Creates a customer.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])), request_body = NewCustomer,
    responses((status = 201, body = User), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewCustomer>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(customers::create(&state.db, &actor, body).await?),
    ))
}

/// Lists customers, newest first.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])), params(CustomerQuery),
    responses((status = 200, body = Paginated<User>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<CustomerQuery>,
) -> Result<Json<Paginated<User>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    let list = customers::list(
        &state.db,
        &actor,
        q.search.as_deref(),
        q.include_inactive.unwrap_or(false),
        page,
    )
    .await?;
    Ok(Json(list))
}

/// One customer, with their hosting accounts.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = CustomerDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<CustomerDetail>, ApiError> {
    Ok(Json(customers::detail(&state.db, &actor, id).await?))
}

/// Changes a customer's details or password.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", security(("bearer" = [])), request_body = CustomerPatch,
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(patch): Body<CustomerPatch>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(customers::update(&state.db, &actor, id, patch).await?))
}

/// Deactivates a customer: they can no longer log in; their data stays.
#[utoipa::path(post, path = "/api/v1/customers/{id}/deactivate", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn deactivate(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        customers::set_active(&state.db, &actor, id, false).await?,
    ))
}

/// Reactivates a deactivated customer.
#[utoipa::path(post, path = "/api/v1/customers/{id}/activate", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        customers::set_active(&state.db, &actor, id, true).await?,
    ))
}

/// Issues a license of a plan to the customer ("Add Product").
#[utoipa::path(post, path = "/api/v1/customers/{id}/licenses", tag = "licenses", security(("bearer" = [])), request_body = NewLicense,
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 201, body = License), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn issue_license(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<NewLicense>,
) -> Result<(StatusCode, Json<License>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(licenses::issue(&state.db, &actor, id, body).await?),
    ))
}

/// The customer's licenses.
#[utoipa::path(get, path = "/api/v1/customers/{id}/licenses", tag = "licenses", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id"), PageQuery),
    responses((status = 200, body = Paginated<License>), (status = 404, body = ErrorBody)))]
pub async fn list_licenses(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Paginated<License>>, ApiError> {
    Ok(Json(
        licenses::list(&state.db, &actor, Some(id), None, q.page()?).await?,
    ))
}

/// The customer's invoices and payments from the older billing system (read-only).
#[utoipa::path(get, path = "/api/v1/customers/{id}/imported-history", tag = "customers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "customer id")),
    responses((status = 200, body = ImportedHistory), (status = 404, body = ErrorBody)))]
pub async fn imported_history(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<ImportedHistory>, ApiError> {
    Ok(Json(
        crate::service::imported_history::of_customer(&state.db, &actor, id).await?,
    ))
}
