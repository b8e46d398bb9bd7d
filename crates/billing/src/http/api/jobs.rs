//! `/api/v1/jobs`: the durable job queue, for admins to watch and retry.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_of;
use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{AdminAuth, Params, StaffAuth};
use crate::service::account_ops::{self, JobView};
use crate::service::Paginated;

/// Filters of the job list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `queued`, `running`, `done`, `failed` or `dead`.
    pub state: Option<String>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists jobs, newest first (`?state=dead` for the ones that gave up).
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", security(("bearer" = [])), params(JobQuery),
    responses((status = 200, body = Paginated<JobView>), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<JobQuery>,
) -> Result<Json<Paginated<JobView>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        account_ops::list_jobs(&state.db, &actor, q.state.as_deref(), page).await?,
    ))
}

/// One job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(account_ops::get_job(&state.db, &actor, id).await?))
}

/// Queues a dead or failed job again for a fresh set of attempts.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", security(("bearer" = [])),
    params(("id" = i64, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<i64>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(
        account_ops::retry_job(&state.db, &state.wake, &actor, id).await?,
    ))
}
