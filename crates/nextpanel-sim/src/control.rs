//! The control API under `/_sim`, for tests and rehearsals: inspect state and
//! counters, change faults, revoke keys, point license callbacks somewhere,
//! set usage figures, reset. Guarded by `Authorization: Bearer <control token>`
//! and never subject to faults.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::constant_time_eq;
use crate::error::{parse_account_id, parse_json_body, ApiError, ApiResult};
use crate::faults::FaultsPatch;
use crate::state::SimState;

type Shared = State<Arc<SimState>>;

/// The `/_sim` routes, token check included.
pub fn routes(state: Arc<SimState>) -> Router<Arc<SimState>> {
    Router::new()
        .route("/state", get(show_state))
        .route("/stats", get(show_stats))
        .route("/faults", get(show_faults).post(change_faults))
        .route("/reset", post(reset))
        .route("/login", post(login))
        .route("/credentials/revoke", post(revoke))
        .route("/credentials/unrevoke", post(unrevoke))
        .route(
            "/license-callback",
            get(show_billing_url).post(set_billing_url),
        )
        .route("/accounts/{id}/usage", post(set_usage))
        .layer(middleware::from_fn_with_state(state, require_token))
}

async fn require_token(State(state): Shared, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(presented.as_bytes(), state.config.control_token.as_bytes()) {
        next.run(request).await
    } else {
        ApiError::new(StatusCode::UNAUTHORIZED, "Invalid control token").into_response()
    }
}

async fn show_state(State(state): Shared) -> Json<Value> {
    Json(state.state_json())
}

async fn show_stats(State(state): Shared) -> Json<Value> {
    Json(state.stats_json())
}

async fn show_faults(State(state): Shared) -> Json<Value> {
    Json(json!(state.faults()))
}

async fn change_faults(State(state): Shared, body: Bytes) -> ApiResult<Json<Value>> {
    let patch = FaultsPatch::from_json(parse_json_body(&body)?).map_err(ApiError::bad_request)?;
    let faults = state.patch_faults(&patch);
    tracing::info!(?faults, "fault settings changed");
    Ok(Json(json!(faults)))
}

async fn reset(State(state): Shared) -> ApiResult<Json<Value>> {
    state.reset()?;
    Ok(Json(json!({"reset": true, "faults": state.faults()})))
}

#[derive(Deserialize)]
struct KeyBody {
    api_key: String,
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

/// `POST /_sim/login`: whether the panel would let this user log in (`{"ok": bool}`).
async fn login(State(state): Shared, body: Bytes) -> ApiResult<Json<Value>> {
    let LoginBody { username, password } = parse_json_body(&body)?;
    Ok(Json(json!({ "ok": state.login(&username, &password) })))
}

async fn revoke(State(state): Shared, body: Bytes) -> ApiResult<Json<Value>> {
    set_revoked(&state, &body, true)
}

async fn unrevoke(State(state): Shared, body: Bytes) -> ApiResult<Json<Value>> {
    set_revoked(&state, &body, false)
}

fn set_revoked(state: &SimState, body: &[u8], revoked: bool) -> ApiResult<Json<Value>> {
    let KeyBody { api_key } = parse_json_body(body)?;
    if !state
        .config
        .credentials
        .iter()
        .any(|c| c.api_key == api_key)
    {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Unknown API key"));
    }
    state.change(|data| {
        if revoked {
            data.revoked_keys.insert(api_key.clone());
        } else {
            data.revoked_keys.remove(&api_key);
        }
        Ok(())
    })?;
    Ok(Json(json!({"api_key": api_key, "revoked": revoked})))
}

async fn show_billing_url(State(state): Shared) -> Json<Value> {
    Json(json!({"billing_url": state.billing_url()}))
}

#[derive(Deserialize)]
struct BillingUrlBody {
    billing_url: Option<String>,
}

async fn set_billing_url(State(state): Shared, body: Bytes) -> ApiResult<Json<Value>> {
    let BillingUrlBody { billing_url } = parse_json_body(&body)?;
    state.set_billing_url(billing_url.filter(|u| !u.is_empty()));
    Ok(Json(json!({"billing_url": state.billing_url()})))
}

/// Usage figures a real panel would measure; only the keys present change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageBody {
    extra_storage_bytes: Option<u64>,
    ssl_certificates: Option<u64>,
    #[serde(default, with = "optional_field")]
    last_login: Option<Option<DateTime<Utc>>>,
    created_at: Option<DateTime<Utc>>,
}

// Tells "key absent" (leave alone) from "key null" (clear).
mod optional_field {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

async fn set_usage(
    State(state): Shared,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let usage: UsageBody = parse_json_body(&body)?;
    state.change(|data| {
        let account = data.account_mut(id)?;
        if let Some(bytes) = usage.extra_storage_bytes {
            account.extra_storage_bytes = bytes;
        }
        if let Some(count) = usage.ssl_certificates {
            account.ssl_certificates = count;
        }
        if let Some(last_login) = usage.last_login {
            account.last_login = last_login;
        }
        if let Some(created_at) = usage.created_at {
            account.created_at = created_at;
        }
        Ok(Json(account.to_state_json()))
    })
}
