//! `/api/v1/reports/{report}`: the dashboard's figures as JSON or CSV.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Params, StaffAuth};
use crate::service::reports::{self, Report, ReportName, ReportQuery};

/// `?months=&format=` of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Months back, the current one included (1 to 36, default 12).
    pub months: Option<u32>,
    /// `json` (default) or `csv`.
    pub format: Option<ReportFormat>,
}

/// How a report is answered.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// `application/json`.
    Json,
    /// `text/csv`, one row per series and point.
    Csv,
}

/// A report: `mrr`, `revenue`, `services`, `overdue` or `utilisation`.
#[utoipa::path(get, path = "/api/v1/reports/{report}", tag = "reports", security(("bearer" = [])),
    params(("report" = ReportName, Path, description = "which report"), ReportParams),
    responses(
        (status = 200, content((Report = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(name): Path<String>,
    Params(q): Params<ReportParams>,
) -> Result<Response, ApiError> {
    let name: ReportName = serde_json::from_value(serde_json::Value::String(name.clone()))
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "bad_request",
                format!(
                    "no report named '{name}'; the reports are mrr, revenue, services, overdue and utilisation"
                ),
            )
            .with_field("report")
        })?;
    let report =
        reports::report(&state.db, &actor, name, &ReportQuery { months: q.months }).await?;
    Ok(match q.format.unwrap_or(ReportFormat::Json) {
        ReportFormat::Json => Json(report).into_response(),
        ReportFormat::Csv => {
            let file = format!(
                "attachment; filename=\"{}.csv\"",
                serde_json::to_value(name)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "report".into())
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, file),
                ],
                reports::csv(&report),
            )
                .into_response()
        }
    })
}
