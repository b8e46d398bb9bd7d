//! JSON API handlers under `/api/v1`: each parses input, calls one service function, maps the result.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod coupons;
pub mod customers;
pub mod documents;
pub mod emails;
pub mod health;
pub mod invoices;
pub mod jobs;
pub mod license_check;
pub mod licenses;
pub mod me;
pub mod payment_methods;
pub mod plan_changes;
pub mod plans;
pub mod reconciliations;
pub mod refunds;
pub mod reports;
pub mod servers;
pub mod sessions;
pub mod tax;
pub mod two_factor;
pub mod users;
pub mod webhooks;

use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use crate::store::Page;

/// Largest page size a list returns.
pub const MAX_PER_PAGE: i64 = 200;

/// `?page=&per_page=&after=` of list endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 200 (default 50).
    pub per_page: Option<i64>,
    /// Keyset cursor (the previous page's `next_after`): only items with a smaller id,
    /// newest first; 1 or more, and not with a `page` other than 1. Fast at any depth;
    /// the answer's `total` is then null.
    #[param(minimum = 1)]
    pub after: Option<i64>,
}

impl PageQuery {
    /// Validates into a [`Page`].
    pub fn page(&self) -> Result<Page, ApiError> {
        page_of(self.page, self.per_page, self.after)
    }
}

/// Validates page parameters (shared by list queries that carry their own filters).
pub fn page_of(
    page: Option<i64>,
    per_page: Option<i64>,
    after: Option<i64>,
) -> Result<Page, ApiError> {
    let bad = |field: &str, message: String| {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message).with_field(field)
    };
    let number = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(50);
    if number < 1 {
        return Err(bad("page", "page must be 1 or more".to_owned()));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(bad(
            "per_page",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    if after.is_some_and(|a| a < 1) {
        return Err(bad("after", "after must be 1 or more".to_owned()));
    }
    if after.is_some() && number != 1 {
        // Both say where the page starts; taking one silently would hide a client's bug.
        return Err(bad(
            "page",
            "page and after both say where to start: send one of them".to_owned(),
        ));
    }
    Ok(Page {
        page: number,
        per_page,
        after,
    })
}
