//! HTTP plumbing: the router, the per-request pipeline (log line, request
//! counter, faults) and our own accept loop.
//!
//! We serve connections ourselves instead of `axum::serve` so that a handler
//! can close its connection without answering: each connection runs inside a
//! `tokio::select!` with a [`Notify`] that the pipeline fires for
//! `lost_response` and `offline_mode: refuse`. Dropping the connection future
//! closes the socket, so the client sees a closed connection, not a slow one.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

use crate::error::{self, ApiError};
use crate::faults::{Faults, OfflineMode};
use crate::state::SimState;
use crate::{accounts, auth, control, random, resources};

/// What the pipeline knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address, for IP allow-lists.
    pub peer: SocketAddr,
    kill: Arc<Notify>,
}

/// The whole application: API, control API, fallbacks and the pipeline.
pub fn router(state: Arc<SimState>) -> Router {
    let accounts_api =
        accounts::routes()
            .merge(resources::routes())
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_credentials,
            ));
    Router::new()
        .route("/api/health", get(accounts::health))
        .nest("/api/v1/billing/accounts", accounts_api)
        .nest("/_sim", control::routes(state.clone()))
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
        .layer(middleware::from_fn_with_state(state.clone(), pipeline))
        .with_state(state)
}

/// One log line per request; counting and faults for everything under `/api`.
async fn pipeline(State(state): State<Arc<SimState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = if path == "/api" || path.starts_with("/api/") {
        let endpoint = endpoint_key(&method, &path);
        state.count(|c| *c.requests.entry(endpoint).or_default() += 1);
        with_faults(&state, request, next, &method, &path, started).await
    } else {
        next.run(request).await
    };
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        latency_ms = elapsed_ms(started),
        "request"
    );
    response
}

async fn with_faults(
    state: &SimState,
    request: Request,
    next: Next,
    method: &Method,
    path: &str,
    started: Instant,
) -> Response {
    let faults: Faults = state.faults();
    let conn = request.extensions().get::<ConnInfo>().cloned();
    if faults.offline {
        return match faults.offline_mode {
            OfflineMode::Unavailable => unavailable(),
            OfflineMode::Refuse => drop_connection(state, conn, method, path, started).await,
        };
    }
    let delay = faults
        .latency_ms
        .saturating_add(random::up_to(faults.jitter_ms));
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if faults.timeout {
        // Held long enough for the client to give up; then let go, having done nothing.
        tokio::time::sleep(Duration::from_millis(faults.hang_ms)).await;
        return ApiError::new(StatusCode::GATEWAY_TIMEOUT, "Gateway timeout").into_response();
    }
    if random::chance(faults.error_rate) {
        state.count(|c| c.injected_errors += 1);
        return if random::chance(0.5) {
            ApiError::internal().into_response()
        } else {
            unavailable()
        };
    }
    let writes = !matches!(*method, Method::GET | Method::HEAD) && path.starts_with("/api/v1/");
    let response = next.run(request).await;
    if writes && faults.lost_response {
        return drop_connection(state, conn, method, path, started).await;
    }
    response
}

fn unavailable() -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error::SERVICE_UNAVAILABLE).into_response()
}

/// Closes the connection without an answer; never returns on our own server.
async fn drop_connection(
    state: &SimState,
    conn: Option<ConnInfo>,
    method: &Method,
    path: &str,
    started: Instant,
) -> Response {
    let Some(conn) = conn else {
        // Not served by our accept loop (e.g. a router used directly): nothing to close.
        return unavailable();
    };
    state.count(|c| c.dropped_connections += 1);
    tracing::info!(%method, %path, status = "dropped", latency_ms = elapsed_ms(started), "request");
    conn.kill.notify_one();
    // The connection task drops this future when it sees the notification.
    std::future::pending().await
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `METHOD /path` with ids and resource names replaced by `{id}` and `{name}`.
pub fn endpoint_key(method: &Method, path: &str) -> String {
    let mut previous = "";
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let shown = if matches!(previous, "databases" | "domains" | "email-accounts") {
                "{name}"
            } else if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            };
            previous = segment;
            shown
        })
        .collect();
    format!("{method} {}", segments.join("/"))
}

/// Accepts connections until `shutdown` turns true or its sender is dropped.
pub async fn run(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(serve_connection(
                    stream,
                    peer,
                    router.clone(),
                    shutdown.clone(),
                ));
            }
            Err(error) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    // Latency figures must not include Nagle delays.
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let info = ConnInfo {
        peer,
        kill: kill.clone(),
    };
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(info.clone());
        router.clone().oneshot(request)
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        () = kill.notified() => tracing::debug!(%peer, "connection closed on purpose"),
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keys_hide_ids_and_names() {
        assert_eq!(
            endpoint_key(&Method::POST, "/api/v1/billing/accounts"),
            "POST /api/v1/billing/accounts"
        );
        assert_eq!(
            endpoint_key(&Method::GET, "/api/v1/billing/accounts/42/stats"),
            "GET /api/v1/billing/accounts/{id}/stats"
        );
        assert_eq!(
            endpoint_key(&Method::DELETE, "/api/v1/billing/accounts/4/databases/shop"),
            "DELETE /api/v1/billing/accounts/{id}/databases/{name}"
        );
    }
}
