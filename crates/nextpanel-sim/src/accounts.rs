//! The account endpoints of the contract: the baseline (health, list, create,
//! get, suspend, unsuspend, delete, stats) and the extensions (idempotency,
//! lookup, package, password), which baseline mode turns off.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::{parse_account_id, parse_json_body, ApiError, ApiResult};
use crate::faults::EXTENSIONS;
use crate::input::{hash_password, NewAccount};
use crate::model::{Account, AccountStatus};
use crate::state::{IdempotencyRecord, SimState};

type Shared = State<Arc<SimState>>;

/// Routes under `/api/v1/billing/accounts`, to be wrapped in authentication.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(show).delete(delete))
        .route("/{id}/suspend", post(suspend))
        .route("/{id}/unsuspend", post(unsuspend))
        .route("/{id}/stats", get(stats))
        .route("/{id}/package", post(change_package))
        .route("/{id}/password", post(change_password))
}

/// `GET /api/health`: no authentication; extensions unless in baseline mode.
pub async fn health(State(state): Shared) -> Json<Value> {
    let mut body = json!({"status": "healthy", "database": "connected", "version": "1.0.0"});
    if !state.faults().baseline {
        body["extensions"] = json!(EXTENSIONS);
    }
    Json(body)
}

/// `GET /accounts`, filtered by `username` and `billing_id` with the lookup extension.
async fn list(State(state): Shared, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    let filter = !state.faults().baseline;
    let matches = |account: &Account| {
        let username_ok = query.get("username").is_none_or(|u| *u == account.username);
        let billing_ok = query
            .get("billing_id")
            .is_none_or(|b| account.billing_id.as_deref() == Some(b.as_str()));
        !filter || (username_ok && billing_ok)
    };
    let accounts = state.read(|data| {
        data.accounts
            .iter()
            .filter(|a| matches(a))
            .map(Account::to_api_json)
            .collect::<Vec<_>>()
    });
    Json(Value::Array(accounts))
}

/// What a create did, for the counters.
enum CreateOutcome {
    Created,
    Refused,
    Replayed,
}

/// `POST /accounts`, answering a repeated `Idempotency-Key` with the first answer.
async fn create(
    State(state): Shared,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let idempotency_key = if state.faults().baseline {
        None
    } else {
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
    };
    let now = Utc::now();
    let result = state.change(|data| {
        if let Some(key) = &idempotency_key {
            if let Some(saved) = data.idempotent_answer(&caller.api_key, key, now) {
                return Ok((saved, CreateOutcome::Replayed));
            }
        }
        let input = parse_json_body::<Value>(&body)
            .and_then(|value| NewAccount::parse(value).map_err(ApiError::bad_request));
        let (answer, outcome) = match input {
            Ok(input) => {
                let name = input.username.as_str();
                if data.accounts.iter().any(|a| a.username == name) {
                    let error = format!("User with username '{name}' already exists");
                    ((400, json!({ "detail": error })), CreateOutcome::Refused)
                } else {
                    let account = Account::create(data.next_id, input, now);
                    data.next_id += 1;
                    let body = account.to_api_json();
                    data.accounts.push(account);
                    ((201, body), CreateOutcome::Created)
                }
            }
            Err(e) => (
                (e.status.as_u16(), json!({ "detail": e.detail })),
                CreateOutcome::Refused,
            ),
        };
        if let Some(key) = idempotency_key.clone() {
            data.idempotency.push(IdempotencyRecord {
                api_key: caller.api_key.clone(),
                key,
                status: answer.0,
                body: answer.1.clone(),
                created_at: now,
            });
        }
        Ok((answer, outcome))
    });
    let ((status, body), outcome) = match result {
        Ok(done) => done,
        Err(error) => return error.into_response(),
    };
    state.count(|c| match outcome {
        CreateOutcome::Created => c.creates_performed += 1,
        CreateOutcome::Replayed => c.idempotent_replays += 1,
        CreateOutcome::Refused => {}
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(body)).into_response();
    if matches!(outcome, CreateOutcome::Replayed) {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// `GET /accounts/{id}`.
async fn show(State(state): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    state.read(|data| data.account(id).map(|a| Json(a.to_api_json())))
}

/// `DELETE /accounts/{id}`: 404 when already gone.
async fn delete(State(state): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let username = state.change(|data| {
        let index = data
            .accounts
            .iter()
            .position(|a| a.id == id)
            .ok_or_else(ApiError::account_not_found)?;
        Ok(data.accounts.remove(index).username)
    })?;
    Ok(Json(
        json!({"message": format!("Account '{username}' deleted"), "id": id}),
    ))
}

#[derive(Deserialize, Default)]
struct SuspendBody {
    reason: Option<String>,
}

/// `POST /accounts/{id}/suspend` with an optional `{"reason": "..."}`.
async fn suspend(
    State(state): Shared,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    let reason = parse_json_body::<Option<SuspendBody>>(&body)?
        .unwrap_or_default()
        .reason;
    set_status(&state, id, AccountStatus::Suspended, reason)
}

/// `POST /accounts/{id}/unsuspend`.
async fn unsuspend(State(state): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    set_status(&state, id, AccountStatus::Active, None)
}

fn set_status(
    state: &SimState,
    id: u64,
    status: AccountStatus,
    reason: Option<String>,
) -> ApiResult<Json<Value>> {
    state.change(|data| {
        let account = data.account_mut(id)?;
        account.status = status;
        account.suspension_reason = reason;
        Ok(Json(account.to_api_json()))
    })
}

/// `GET /accounts/{id}/stats`.
async fn stats(State(state): Shared, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_account_id(&id)?;
    state.read(|data| data.account(id).map(|a| Json(a.stats_json(Utc::now()))))
}

#[derive(Deserialize)]
struct PackageBody {
    package_id: Option<i64>,
}

/// `POST /accounts/{id}/package` (extension `package`).
async fn change_package(
    State(state): Shared,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_extensions(&state)?;
    let id = parse_account_id(&id)?;
    let package_id = parse_json_body::<PackageBody>(&body)?
        .package_id
        .ok_or_else(|| ApiError::bad_request("package_id is required"))?;
    state.change(|data| {
        let account = data.account_mut(id)?;
        account.package_id = Some(package_id);
        Ok(Json(account.to_api_json()))
    })
}

#[derive(Deserialize)]
struct PasswordBody {
    password: Option<String>,
}

/// `POST /accounts/{id}/password` (extension `password`); only a salted hash is kept.
async fn change_password(
    State(state): Shared,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_extensions(&state)?;
    let id = parse_account_id(&id)?;
    let password = parse_json_body::<PasswordBody>(&body)?
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("password is required"))?;
    let hash = hash_password(&password).map_err(|_| ApiError::internal())?;
    state.change(|data| {
        data.account_mut(id)?.password_hash = Some(hash);
        Ok(Json(json!({"message": "Password updated", "id": id})))
    })
}

/// Baseline servers do not have the extension routes at all.
fn require_extensions(state: &SimState) -> ApiResult<()> {
    if state.faults().baseline {
        Err(ApiError::route_not_found())
    } else {
        Ok(())
    }
}
