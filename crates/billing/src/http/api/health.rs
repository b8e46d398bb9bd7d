//! `/health` and `/ready`: liveness with a real database round trip.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;

/// Health of the service and its database.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// Version of nextpanel-bill.
    pub version: &'static str,
    /// `connected` or `unreachable`.
    pub database: &'static str,
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// On `/ready`: whether email can go out, and how many messages wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// On `/ready`: how current payments are (a stale webhook or an old unsettled charge
    /// is worth a look, but never makes the instance unready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<crate::service::settlement::PaymentsHealth>,
    /// On `/ready`, with `database_replica_url` set: the read replica's state. A replica
    /// that is down never makes the instance unready: lists and reports read from the
    /// primary meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<crate::store::replica::ReplicaHealth>,
    /// On `/ready`: the latest scheduled ledger check (every invariant of money and
    /// state). Broken books are an alarm for people, not a reason to stop taking traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
}

async fn check(state: &AppState) -> (StatusCode, Json<Health>) {
    let ping = tokio::time::timeout(Duration::from_secs(3), state.db.ping()).await;
    let up = matches!(ping, Ok(Ok(())));
    if let Ok(Err(e)) = &ping {
        tracing::warn!(error = %e, "database ping failed");
    }
    let engine = match state.db.engine() {
        crate::store::Engine::Sqlite => "sqlite",
        crate::store::Engine::Postgres => "postgres",
    };
    let body = Health {
        status: if up { "healthy" } else { "unhealthy" },
        version: env!("CARGO_PKG_VERSION"),
        database: if up { "connected" } else { "unreachable" },
        engine,
        email: None,
        payments: None,
        replica: None,
        ledger: None,
    };
    (
        if up {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// Liveness: is the process up and its database reachable.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "database unreachable", body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    check(&state).await
}

/// Readiness: may this instance take traffic.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "not ready", body = Health)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (status, Json(mut health)) = check(&state).await;
    let queued = match state.db.conn().await {
        Ok(mut conn) => crate::store::outbox::queued_count(&mut conn)
            .await
            .unwrap_or(0),
        Err(_) => 0,
    };
    // Email is not needed to take traffic, so it never makes /ready fail; it is said plainly.
    health.email = Some(if state.settings.smtp.is_some() {
        format!("configured; {queued} message(s) waiting")
    } else {
        format!("not configured: {queued} message(s) queued and kept until SMTP is set up")
    });
    health.payments = crate::service::settlement::health(&state.db).await.ok();
    if let Some(replica) = state.db.replica() {
        health.replica = Some(replica.health().await);
    }
    health.ledger = Some(match state.ledger.latest() {
        Some((0, at)) => format!("books hold (checked {})", at.to_rfc3339()),
        Some((n, at)) => format!(
            "{n} violation(s) at the check of {}: run `nextpanel-bill check` for the ids",
            at.to_rfc3339()
        ),
        None if state.settings.ledger_check_interval_secs == 0 => {
            "not scheduled (ledger_check_interval_secs = 0)".to_owned()
        }
        None => "not checked yet".to_owned(),
    });
    (status, Json(health))
}
