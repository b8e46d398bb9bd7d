//! `/api/v1/nextpanel/servers/{id}/reconcile` and `/api/v1/nextpanel/reconciliations`:
//! comparing a server's accounts with ours, and the stored reports (admin only).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_of;
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, Params};
use crate::service::reconciliation::{self, ReconcileRequest, Reconciliation};
use crate::service::Paginated;

/// Compares the server's account list with ours now and stores the report. One list call,
/// so it runs synchronously. A server that cannot be listed still answers 200, with a
/// report of status `error` naming the reason. With `"fix": true` each mismatch gets our
/// state applied on the panel (suspend or unsuspend); orphans are never deleted and
/// missing accounts never recreated — they are reported for an admin to decide.
#[utoipa::path(post, path = "/api/v1/nextpanel/servers/{id}/reconcile", tag = "servers", security(("bearer" = [])),
    request_body = ReconcileRequest,
    params(("id" = i64, Path, description = "server id")),
    responses((status = 200, body = Reconciliation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reconcile(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    body: Option<Body<ReconcileRequest>>,
) -> Result<Json<Reconciliation>, ApiError> {
    let request = body.map(|Body(b)| b).unwrap_or_default();
    Ok(Json(
        state
            .reconciler()
            .reconcile_now(&actor, id, request)
            .await?,
    ))
}

/// Filters of the reconciliation list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReconciliationQuery {
    /// Only reports of this server.
    pub server_id: Option<i64>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists stored reconciliation reports, newest first.
#[utoipa::path(get, path = "/api/v1/nextpanel/reconciliations", tag = "servers", security(("bearer" = [])), params(ReconciliationQuery),
    responses((status = 200, body = Paginated<Reconciliation>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Params(q): Params<ReconciliationQuery>,
) -> Result<Json<Paginated<Reconciliation>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        reconciliation::list(&state.db, &actor, q.server_id, page).await?,
    ))
}

/// One stored reconciliation report.
#[utoipa::path(get, path = "/api/v1/nextpanel/reconciliations/{id}", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "reconciliation id")),
    responses((status = 200, body = Reconciliation), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<Reconciliation>, ApiError> {
    Ok(Json(reconciliation::get(&state.db, &actor, id).await?))
}
