//! `/api/v1/nextpanel/servers`: the NextPanel fleet (admin only), and `/metrics`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, StaffAuth};
use crate::service::server_health;
use crate::service::servers::{
    self, NewServer, Server, ServerPatch, ServerStatus, TestResult, TestServer,
};

/// Tests a server's URL and credentials from the backend; a failed test is 200 with `success: false`.
#[utoipa::path(post, path = "/api/v1/nextpanel/servers/test", tag = "servers", security(("bearer" = [])), request_body = TestServer,
    responses((status = 200, body = TestResult), (status = 422, body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<TestServer>,
) -> Result<Json<TestResult>, ApiError> {
    Ok(Json(
        servers::test(&actor, body, state.panel_timeouts).await?,
    ))
}

/// Registers a server; its connection is tested first unless `skip_test`.
#[utoipa::path(post, path = "/api/v1/nextpanel/servers", tag = "servers", security(("bearer" = [])), request_body = NewServer,
    responses((status = 201, body = Server), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewServer>,
) -> Result<(StatusCode, Json<Server>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(servers::create(&state.db, &state.vault, state.panel_timeouts, &actor, body).await?),
    ))
}

/// Lists servers with capacity, load and the monitor's latest health.
#[utoipa::path(get, path = "/api/v1/nextpanel/servers", tag = "servers", security(("bearer" = [])),
    responses((status = 200, body = Vec<Server>)))]
pub async fn list(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<Vec<Server>>, ApiError> {
    Ok(Json(servers::list(&state.db, &actor).await?))
}

/// The status of every server from the monitor's latest results (no probe per request).
#[utoipa::path(get, path = "/api/v1/nextpanel/servers/status", tag = "servers", security(("bearer" = [])),
    responses((status = 200, body = Vec<ServerStatus>)))]
pub async fn status(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<Vec<ServerStatus>>, ApiError> {
    Ok(Json(servers::status(&state.db, &actor).await?))
}

/// One server.
#[utoipa::path(get, path = "/api/v1/nextpanel/servers/{id}", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(servers::get(&state.db, &actor, id).await?))
}

/// Renames, resizes, moves or re-keys a server (new URL or credentials are tested first).
#[utoipa::path(patch, path = "/api/v1/nextpanel/servers/{id}", tag = "servers", security(("bearer" = [])), request_body = ServerPatch,
    params(("id" = i64, Path, description = "server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(patch): Body<ServerPatch>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(
        servers::update(
            &state.db,
            &state.vault,
            state.panel_timeouts,
            &actor,
            id,
            patch,
        )
        .await?,
    ))
}

/// Removes a server that holds no live accounts.
#[utoipa::path(delete, path = "/api/v1/nextpanel/servers/{id}", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "server id")),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    servers::delete(&state.db, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops new accounts from going to the server.
#[utoipa::path(post, path = "/api/v1/nextpanel/servers/{id}/disable", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(
        servers::set_active(&state.db, &actor, id, false).await?,
    ))
}

/// Lets new accounts go to the server again.
#[utoipa::path(post, path = "/api/v1/nextpanel/servers/{id}/enable", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn enable(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(
        servers::set_active(&state.db, &actor, id, true).await?,
    ))
}

/// Runs one health check of the server now and records it like the monitor does.
#[utoipa::path(post, path = "/api/v1/nextpanel/servers/{id}/check", tag = "servers", security(("bearer" = [])),
    params(("id" = i64, Path, description = "server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<Server>, ApiError> {
    Ok(Json(state.monitor().check_now(&actor, id).await?))
}

/// Prometheus metrics (server health gauges); needs an admin or staff token.
#[utoipa::path(get, path = "/metrics", tag = "health", security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
) -> Result<impl IntoResponse, ApiError> {
    let mut text = server_health::metrics(&state.db, &actor).await?;
    if let Some((violations, at)) = state.ledger.latest() {
        text.push_str(&format!(
            "# HELP nextpanel_bill_ledger_violations Invariants of money and state broken at the latest ledger check.\n\
             # TYPE nextpanel_bill_ledger_violations gauge\n\
             nextpanel_bill_ledger_violations {violations}\n\
             # HELP nextpanel_bill_ledger_checked_timestamp_seconds When the latest ledger check ran.\n\
             # TYPE nextpanel_bill_ledger_checked_timestamp_seconds gauge\n\
             nextpanel_bill_ledger_checked_timestamp_seconds {}\n",
            at.timestamp()
        ));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
