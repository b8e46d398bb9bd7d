//! `/api/v1/plans`: public catalogue reads, admin writes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Body, MaybeAuth, Params};
use crate::service::plans::{self, NewPlan, Plan, PlanPatch};

/// Filters of the plan list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// Include retired plans (admin and staff only).
    pub include_inactive: Option<bool>,
}

/// The plans on sale, in display order (no login needed).
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans", params(PlanQuery),
    responses((status = 200, body = Vec<Plan>)))]
pub async fn list(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    Params(q): Params<PlanQuery>,
) -> Result<Json<Vec<Plan>>, ApiError> {
    Ok(Json(
        plans::list(
            &state.db,
            actor.as_ref(),
            q.include_inactive.unwrap_or(false),
        )
        .await?,
    ))
}

/// One plan (no login needed for plans on sale).
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans", params(("id" = i64, Path, description = "plan id")),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    MaybeAuth(actor): MaybeAuth,
    Path(id): Path<i64>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(plans::get(&state.db, actor.as_ref(), id).await?))
}

/// Creates a plan.
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", security(("bearer" = [])), request_body = NewPlan,
    responses((status = 201, body = Plan), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Body(body): Body<NewPlan>,
) -> Result<(StatusCode, Json<Plan>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(plans::create(&state.db, &actor, body).await?),
    ))
}

/// Changes a plan; licenses already issued keep their quotas.
#[utoipa::path(patch, path = "/api/v1/plans/{id}", tag = "plans", security(("bearer" = [])), request_body = PlanPatch,
    params(("id" = i64, Path, description = "plan id")),
    responses((status = 200, body = Plan), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
    Body(patch): Body<PlanPatch>,
) -> Result<Json<Plan>, ApiError> {
    Ok(Json(plans::update(&state.db, &actor, id, patch).await?))
}
