//! Sim-only endpoints that create and remove databases, domains and email
//! accounts inside an account, so stats change and the license callback round
//! trip can be tested. Real NextPanel servers do this from their own UI.
//!
//! With a billing URL configured, a create first asks nextpanel-bill to
//! validate the license (refused: 403 with billing's error), then reports the
//! usage; a removal reports a negative delta. A failed usage report is logged
//! and counted, not fatal: usage polling of `/stats` corrects drift.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{parse_account_id, parse_json_body, ApiError, ApiResult};
use crate::license_callback::{LicenseClient, Verdict};
use crate::model::{Resource, ResourceKind};
use crate::state::SimState;

type Shared = State<Arc<SimState>>;

/// Routes under `/api/v1/billing/accounts`, to be wrapped in authentication.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/{id}/databases", post(create_database))
        .route("/{id}/databases/{name}", delete(remove_database))
        .route("/{id}/domains", post(create_domain))
        .route("/{id}/domains/{name}", delete(remove_domain))
        .route("/{id}/email-accounts", post(create_email_account))
        .route("/{id}/email-accounts/{name}", delete(remove_email_account))
}

async fn create_database(state: Shared, id: Path<String>, body: Bytes) -> Response {
    create(state, id, body, ResourceKind::Database).await
}

async fn create_domain(state: Shared, id: Path<String>, body: Bytes) -> Response {
    create(state, id, body, ResourceKind::Domain).await
}

async fn create_email_account(state: Shared, id: Path<String>, body: Bytes) -> Response {
    create(state, id, body, ResourceKind::EmailAccount).await
}

async fn remove_database(state: Shared, path: Path<(String, String)>) -> Response {
    remove(state, path, ResourceKind::Database).await
}

async fn remove_domain(state: Shared, path: Path<(String, String)>) -> Response {
    remove(state, path, ResourceKind::Domain).await
}

async fn remove_email_account(state: Shared, path: Path<(String, String)>) -> Response {
    remove(state, path, ResourceKind::EmailAccount).await
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
    license_key: Option<String>,
    #[serde(default)]
    size_bytes: u64,
}

async fn create(
    State(state): Shared,
    Path(id): Path<String>,
    body: Bytes,
    kind: ResourceKind,
) -> Response {
    match try_create(&state, &id, &body, kind).await {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn try_create(
    state: &SimState,
    id: &str,
    body: &[u8],
    kind: ResourceKind,
) -> ApiResult<Value> {
    let id = parse_account_id(id)?;
    let body: CreateBody = parse_json_body(body)?;
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("name is required"))?;
    state.read(|data| check_free(data.account(id)?, kind, &name))?;

    let billing_url = state.billing_url();
    let mut remaining_quota = None;
    if let Some(url) = &billing_url {
        let license_key = body.license_key.as_deref().ok_or_else(|| {
            ApiError::bad_request("license_key is required: license validation is enabled")
        })?;
        let credential = state
            .config
            .primary_credential()
            .ok_or_else(ApiError::internal)?;
        let client = LicenseClient::new(&state.http, url, credential);
        state.count(|c| c.license_validations += 1);
        match client.validate(license_key, kind.feature()).await {
            Ok(Verdict::Allowed { remaining_quota: q }) => remaining_quota = Some(q),
            Ok(Verdict::Refused { error }) => {
                state.count(|c| c.license_refusals += 1);
                return Err(ApiError::new(StatusCode::FORBIDDEN, error));
            }
            Err(error) => {
                tracing::warn!(%error, feature = kind.feature(), "license validation failed");
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("License validation failed: {error}"),
                ));
            }
        }
    }

    let resource = Resource {
        name,
        created_at: Utc::now(),
        size_bytes: body.size_bytes,
        license_key: body.license_key,
    };
    // The account may have changed while billing was asked, so check again.
    state.change(|data| {
        let account = data.account_mut(id)?;
        check_free(account, kind, &resource.name)?;
        account.resources_mut(kind).push(resource.clone());
        Ok(())
    })?;
    if let Some(license_key) = &resource.license_key {
        report_usage(state, billing_url.as_deref(), license_key, kind, 1).await;
    }
    let mut answer = json!({
        "account_id": id,
        "type": kind.usage_resource(),
        "name": resource.name,
        "size_bytes": resource.size_bytes,
        "created_at": resource.created_at,
    });
    if let Some(q) = remaining_quota {
        answer["remaining_quota"] = json!(q);
    }
    Ok(answer)
}

fn check_free(account: &crate::model::Account, kind: ResourceKind, name: &str) -> ApiResult<()> {
    if account.resources(kind).iter().any(|r| r.name == name) {
        Err(ApiError::bad_request(format!(
            "{} '{name}' already exists",
            kind.label()
        )))
    } else {
        Ok(())
    }
}

async fn remove(
    State(state): Shared,
    Path((id, name)): Path<(String, String)>,
    kind: ResourceKind,
) -> Response {
    let result = async {
        let id = parse_account_id(&id)?;
        let removed = state.change(|data| {
            let list = data.account_mut(id)?.resources_mut(kind);
            let index = list.iter().position(|r| r.name == name).ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, format!("{} not found", kind.label()))
            })?;
            Ok(list.remove(index))
        })?;
        if let Some(license_key) = &removed.license_key {
            report_usage(
                &state,
                state.billing_url().as_deref(),
                license_key,
                kind,
                -1,
            )
            .await;
        }
        Ok::<_, ApiError>(json!({"message": format!("{} '{name}' deleted", kind.label())}))
    };
    match result.await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn report_usage(
    state: &SimState,
    billing_url: Option<&str>,
    license_key: &str,
    kind: ResourceKind,
    delta: i64,
) {
    let (Some(url), Some(credential)) = (billing_url, state.config.primary_credential()) else {
        return;
    };
    let client = LicenseClient::new(&state.http, url, credential);
    match client
        .report_usage(license_key, kind.usage_resource(), delta)
        .await
    {
        Ok(_) => state.count(|c| c.usage_reports += 1),
        Err(error) => {
            tracing::warn!(%error, resource = kind.usage_resource(), delta, "usage report failed");
            state.count(|c| c.usage_report_failures += 1);
        }
    }
}
