//! `/api/v1/nextpanel/provision` and `/api/v1/nextpanel/accounts`: hosting accounts (admin),
//! and `/api/v1/me/accounts` for customers.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{page_of, PageQuery};
use crate::app::AppState;
use crate::domain::hosting::AccountState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Auth, Body, IdempotencyKey, Params, StaffAuth};
use crate::service::account_ops::{
    ChangePlanRequest, OperationResult, PanelStatsView, PasswordRequest, PasswordResult,
    SuspendRequest,
};
use crate::service::accounts::{self, HostingAccount, MyAccount};
use crate::service::provisioning::{self, ProvisionRequest, ProvisionResult, Provisioned};
use crate::service::usage::PollSummary;
use crate::service::Paginated;
use crate::store::hosting_accounts::AccountFilter;

/// Provisions a hosting account: 201 when it is active within the wait, 202 while it is still
/// being created (poll `status_url`). `Idempotency-Key` makes the call safe to repeat.
#[utoipa::path(post, path = "/api/v1/nextpanel/provision", tag = "accounts", security(("bearer" = [])), request_body = ProvisionRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key: the same key returns the same account")),
    responses((status = 201, body = Provisioned), (status = 202, body = Provisioned), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn provision(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    IdempotencyKey(key): IdempotencyKey,
    Body(body): Body<ProvisionRequest>,
) -> Result<Response, ApiError> {
    let result = provisioning::provision(
        &state.db,
        &state.vault,
        &state.settings,
        &state.wake,
        &actor,
        body,
        key,
    )
    .await?;
    let (status, body) = match result {
        ProvisionResult::Created(p) => (StatusCode::CREATED, p),
        ProvisionResult::Accepted(p) => (StatusCode::ACCEPTED, p),
        ProvisionResult::Replayed(p) => (
            if p.account.state == AccountState::Active {
                StatusCode::CREATED
            } else {
                StatusCode::ACCEPTED
            },
            p,
        ),
    };
    let location = body.status_url.clone();
    Ok((status, [(header::LOCATION, location)], Json(body)).into_response())
}

/// Filters of the account list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountQuery {
    /// Only this customer's accounts.
    pub customer_id: Option<i64>,
    /// Only accounts on this server.
    pub server_id: Option<i64>,
    /// Only accounts in this state.
    pub state: Option<AccountState>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists hosting accounts, newest first.
#[utoipa::path(get, path = "/api/v1/nextpanel/accounts", tag = "accounts", security(("bearer" = [])), params(AccountQuery),
    responses((status = 200, body = Paginated<HostingAccount>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<AccountQuery>,
) -> Result<Json<Paginated<HostingAccount>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    let filter = AccountFilter {
        customer_id: q.customer_id,
        server_id: q.server_id,
        state: q.state.map(AccountState::as_str),
    };
    Ok(Json(
        accounts::list(&state.db, &actor, &filter, page).await?,
    ))
}

/// Live accounts per account type.
#[utoipa::path(get, path = "/api/v1/nextpanel/accounts/counts/by-role", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = BTreeMap<String, i64>)))]
pub async fn counts(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
) -> Result<Json<BTreeMap<String, i64>>, ApiError> {
    Ok(Json(accounts::counts_by_type(&state.db, &actor).await?))
}

/// One hosting account.
#[utoipa::path(get, path = "/api/v1/nextpanel/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = HostingAccount), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<HostingAccount>, ApiError> {
    Ok(Json(accounts::get(&state.db, &actor, id).await?))
}

/// `?reason=` of the seed system's suspend call.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReasonQuery {
    /// Why (the JSON body's `reason` wins).
    pub reason: Option<String>,
}

fn operation_status(result: &OperationResult) -> StatusCode {
    if result.finished {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    }
}

/// Suspends an account on its panel (`{"reason": ...}`, or the seed's `?reason=`).
#[utoipa::path(post, path = "/api/v1/nextpanel/accounts/{id}/suspend", tag = "accounts", security(("bearer" = [])), request_body = SuspendRequest,
    params(("id" = i64, Path, description = "hosting account id"), ReasonQuery),
    responses((status = 200, body = OperationResult), (status = 202, body = OperationResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn suspend(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Params(q): Params<ReasonQuery>,
    body: Option<Body<SuspendRequest>>,
) -> Result<(StatusCode, Json<OperationResult>), ApiError> {
    let reason = body.and_then(|Body(b)| b.reason).or(q.reason);
    let result = state.ops().suspend(&actor, id, reason).await?;
    Ok((operation_status(&result), Json(result)))
}

/// Puts a suspended account back in service.
#[utoipa::path(post, path = "/api/v1/nextpanel/accounts/{id}/unsuspend", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = OperationResult), (status = 202, body = OperationResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unsuspend(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<OperationResult>), ApiError> {
    let result = state.ops().unsuspend(&actor, id).await?;
    Ok((operation_status(&result), Json(result)))
}

/// Terminates an account (removes it from the panel); also cancels a failed one.
#[utoipa::path(delete, path = "/api/v1/nextpanel/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = OperationResult), (status = 202, body = OperationResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn terminate(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<OperationResult>), ApiError> {
    let result = state.ops().terminate(&actor, id).await?;
    Ok((operation_status(&result), Json(result)))
}

/// Moves an account and its license to another plan; `job.result` says whether the panel changed.
#[utoipa::path(post, path = "/api/v1/nextpanel/accounts/{id}/change-plan", tag = "accounts", security(("bearer" = [])), request_body = ChangePlanRequest,
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = OperationResult), (status = 202, body = OperationResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_plan(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(body): Body<ChangePlanRequest>,
) -> Result<(StatusCode, Json<OperationResult>), ApiError> {
    let result = state.ops().change_plan(&actor, id, body).await?;
    Ok((operation_status(&result), Json(result)))
}

/// Sets a new hosting password (409 when the server cannot).
#[utoipa::path(post, path = "/api/v1/nextpanel/accounts/{id}/password", tag = "accounts", security(("bearer" = [])), request_body = PasswordRequest,
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = PasswordResult), (status = 202, body = PasswordResult), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn password(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    body: Option<Body<PasswordRequest>>,
) -> Result<(StatusCode, Json<PasswordResult>), ApiError> {
    let result = state
        .ops()
        .set_password(&actor, id, body.map(|Body(b)| b).unwrap_or_default())
        .await?;
    Ok((operation_status(&result.operation), Json(result)))
}

/// Retries a failed account's provisioning.
#[utoipa::path(post, path = "/api/v1/nextpanel/accounts/{id}/retry", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = OperationResult), (status = 202, body = OperationResult), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<OperationResult>), ApiError> {
    let result = state.ops().retry(&actor, id).await?;
    Ok((operation_status(&result), Json(result)))
}

/// Usage figures from the panel, fetched now.
#[utoipa::path(get, path = "/api/v1/nextpanel/accounts/{id}/stats", tag = "accounts", security(("bearer" = [])),
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = PanelStatsView), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<PanelStatsView>, ApiError> {
    Ok(Json(state.ops().stats(&actor, id).await?))
}

/// The caller's hosting accounts.
#[utoipa::path(get, path = "/api/v1/me/accounts", tag = "me", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Paginated<MyAccount>)))]
pub async fn mine(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Params(q): Params<PageQuery>,
) -> Result<Json<Paginated<MyAccount>>, ApiError> {
    Ok(Json(
        accounts::list_mine(&state.db, &actor, q.page()?).await?,
    ))
}

/// One of the caller's hosting accounts.
#[utoipa::path(get, path = "/api/v1/me/accounts/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "hosting account id")),
    responses((status = 200, body = MyAccount), (status = 404, body = ErrorBody)))]
pub async fn mine_one(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<MyAccount>, ApiError> {
    Ok(Json(accounts::get_mine(&state.db, &actor, id).await?))
}

/// Reads every account's usage from its panel now, stores it per license and queues
/// quota messages (80 % warning, 100 % reached), as the hourly poll does.
#[utoipa::path(post, path = "/api/v1/nextpanel/usage/poll", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = PollSummary)))]
pub async fn poll_usage(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<PollSummary>, ApiError> {
    Ok(Json(state.usage_poller().poll_now(&actor).await?))
}
