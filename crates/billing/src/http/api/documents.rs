//! Invoices and credit notes as PDF and HTML documents.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{Auth, StaffAuth};
use crate::service::documents::{self, Rendered};

/// A file name made of the document number's safe characters.
fn file_name(number: &str, extension: &str) -> String {
    let safe: String = number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.{extension}")
}

fn pdf_answer(r: Rendered<Vec<u8>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", file_name(&r.number, "pdf")),
            ),
        ],
        r.body,
    )
        .into_response()
}

fn html_answer(r: Rendered<String>) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], r.body).into_response()
}

/// An invoice as PDF.
#[utoipa::path(get, path = "/api/v1/invoices/{id}/pdf", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, content_type = "application/pdf", body = String), (status = 404, body = ErrorBody)))]
pub async fn invoice_pdf(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let doc = documents::invoice(&state.db, &state.settings, &actor, id).await?;
    Ok(pdf_answer(documents::pdf(&doc)))
}

/// An invoice as an HTML page (for the browser and printing).
#[utoipa::path(get, path = "/api/v1/invoices/{id}/html", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = ErrorBody)))]
pub async fn invoice_html(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let doc = documents::invoice(&state.db, &state.settings, &actor, id).await?;
    Ok(html_answer(documents::html(&doc)))
}

/// One of the caller's invoices as PDF.
#[utoipa::path(get, path = "/api/v1/me/invoices/{id}/pdf", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, content_type = "application/pdf", body = String), (status = 404, body = ErrorBody)))]
pub async fn my_invoice_pdf(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let doc = documents::invoice(
        &state.db,
        &state.settings,
        &crate::service::invoices::as_owner(&actor),
        id,
    )
    .await?;
    Ok(pdf_answer(documents::pdf(&doc)))
}

/// One of the caller's invoices as an HTML page.
#[utoipa::path(get, path = "/api/v1/me/invoices/{id}/html", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "invoice id")),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = ErrorBody)))]
pub async fn my_invoice_html(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let doc = documents::invoice(
        &state.db,
        &state.settings,
        &crate::service::invoices::as_owner(&actor),
        id,
    )
    .await?;
    Ok(html_answer(documents::html(&doc)))
}

/// A credit note as PDF.
#[utoipa::path(get, path = "/api/v1/credit-notes/{id}/pdf", tag = "invoices", security(("bearer" = [])),
    params(("id" = i64, Path, description = "credit note id")),
    responses((status = 200, content_type = "application/pdf", body = String), (status = 404, body = ErrorBody)))]
pub async fn credit_note_pdf(
    State(state): State<AppState>,
    StaffAuth(actor): StaffAuth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let doc = documents::credit_note(&state.db, &state.settings, &actor, id).await?;
    Ok(pdf_answer(documents::pdf(&doc)))
}

/// One of the caller's credit notes as PDF.
#[utoipa::path(get, path = "/api/v1/me/credit-notes/{id}/pdf", tag = "me", security(("bearer" = [])),
    params(("id" = i64, Path, description = "credit note id")),
    responses((status = 200, content_type = "application/pdf", body = String), (status = 404, body = ErrorBody)))]
pub async fn my_credit_note_pdf(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let doc = documents::credit_note(
        &state.db,
        &state.settings,
        &crate::service::invoices::as_owner(&actor),
        id,
    )
    .await?;
    Ok(pdf_answer(documents::pdf(&doc)))
}
