//! `/api/v1/audit-log`: who changed what.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page_of;
use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Params, StaffAuth};
use crate::service::audit::{self, AuditEntry};
use crate::service::Paginated;

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this kind of record (`user`, `plan`, `license`, `api_key`).
    pub entity_type: Option<String>,
    /// Only entries about this record id.
    pub entity_id: Option<i64>,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Items per page (1 to 200, default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id;
    /// 1 or more, not with a `page` other than 1; `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

/// Lists audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Paginated<AuditEntry>)))]
pub async fn list(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Paginated<AuditEntry>>, ApiError> {
    let page = page_of(q.page, q.per_page, q.after)?;
    Ok(Json(
        audit::list(
            &state.db,
            &actor,
            q.entity_type.as_deref(),
            q.entity_id,
            page,
        )
        .await?,
    ))
}
