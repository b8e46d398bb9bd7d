//! The contract's connection test — health answers, and an authenticated
//! account list succeeds — reported in words an administrator can act on.

use std::future::Future;
use std::time::Instant;

use super::error::{PanelError, PanelErrorKind};
use super::types::ConnectionTest;
use super::ControlPanel;

/// Runs the test against `panel` at `base`, with `list` as the authenticated call.
pub(crate) async fn run<P, F, Fut>(panel: &P, base: &str, list: F) -> ConnectionTest
where
    P: ControlPanel,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), PanelError>>,
{
    let started = Instant::now();
    let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let failed = |kind, message: String, version, extensions| ConnectionTest {
        ok: false,
        kind: Some(kind),
        message,
        latency_ms: elapsed(),
        version,
        extensions,
    };
    let health = match panel.health().await {
        Ok(health) => health,
        Err(e) => {
            let message = match e.kind {
                PanelErrorKind::NotFound => format!(
                    "the server at {base} has no NextPanel health endpoint (HTTP 404); check the base URL"
                ),
                PanelErrorKind::ConnectionLost => format!(
                    "the server at {base} accepted the connection but closed it without answering"
                ),
                PanelErrorKind::UnexpectedResponse => {
                    format!("the server at {base} does not look like NextPanel: {}", e.message)
                }
                _ => e.message,
            };
            return failed(e.kind, message, None, Vec::new());
        }
    };
    if !health.is_healthy() {
        let message = format!(
            "the server answered but reports itself unwell (status '{}')",
            health.status
        );
        return failed(
            PanelErrorKind::ServerError,
            message,
            health.version,
            health.extensions,
        );
    }
    if let Err(e) = list().await {
        let message = match e.kind {
            PanelErrorKind::NotFound => format!(
                "the server at {base} answers health but has no NextPanel billing API (HTTP 404)"
            ),
            _ => e.message,
        };
        return failed(e.kind, message, health.version, health.extensions);
    }
    let extensions = if health.extensions.is_empty() {
        "none (a baseline server)".to_owned()
    } else {
        health.extensions.join(", ")
    };
    ConnectionTest {
        ok: true,
        kind: None,
        message: format!(
            "connected to NextPanel {} at {base}; the API key works; extensions: {extensions}",
            health
                .version
                .as_deref()
                .unwrap_or("(version not reported)")
        ),
        latency_ms: elapsed(),
        version: health.version,
        extensions: health.extensions,
    }
}
