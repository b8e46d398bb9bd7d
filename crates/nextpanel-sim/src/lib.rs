//! `nextpanel-sim`: a NextPanel hosting control-panel server that speaks the
//! billing API of `shared/nextpanel-api.md` over real HTTP, with every
//! extension, the license-validation callback as a client, and fault
//! injection (latency, errors, timeouts, outages, lost responses).
//!
//! Tests start one in-process on a random port:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = nextpanel_sim::spawn(nextpanel_sim::SimConfig::random()?).await?;
//! let url = sim.base_url(); // e.g. http://127.0.0.1:41234
//! sim.set_faults(serde_json::json!({"latency_ms": 50})).map_err(std::io::Error::other)?;
//! # Ok(()) }
//! ```

mod accounts;
mod auth;
pub mod config;
mod control;
pub mod error;
pub mod faults;
mod input;
pub mod license_callback;
mod model;
mod random;
mod resources;
mod server;
mod state;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{Credential, IpRule, PermissionLevel, SimConfig};
pub use faults::{Faults, FaultsPatch, OfflineMode, EXTENSIONS};
pub use server::endpoint_key;

use state::SimState;

/// Serves the simulator on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: SimConfig) -> io::Result<()> {
    serve_with_shutdown(listener, config, std::future::pending()).await
}

/// Serves the simulator on `listener` until `signal` completes.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    config: SimConfig,
    signal: impl Future<Output = ()>,
) -> io::Result<()> {
    let state = Arc::new(SimState::load(config)?);
    let (stop, stopped) = watch::channel(false);
    let server = server::run(listener, server::router(state), stopped);
    tokio::select! {
        result = server => result,
        () = signal => {
            // Tell open connections to close too.
            let _ = stop.send(true);
            Ok(())
        }
    }
}

/// Starts a simulator on `127.0.0.1` with a random port, in the background.
pub async fn spawn(config: SimConfig) -> io::Result<SimHandle> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    spawn_on(listener, config)
}

/// Starts a simulator on an existing listener, in the background.
pub fn spawn_on(listener: TcpListener, config: SimConfig) -> io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState::load(config)?);
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(server::run(
        listener,
        server::router(state.clone()),
        stopped,
    ));
    Ok(SimHandle {
        addr,
        state,
        stop,
        task: Some(task),
    })
}

/// A running in-process simulator; dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<SimState>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token of the control API.
    pub fn control_token(&self) -> &str {
        &self.state.config.control_token
    }

    /// The first credential's API key (empty when there is none).
    pub fn api_key(&self) -> &str {
        self.state
            .config
            .primary_credential()
            .map_or("", |c| c.api_key.as_str())
    }

    /// The first credential's API secret (empty when there is none).
    pub fn api_secret(&self) -> &str {
        self.state
            .config
            .primary_credential()
            .map_or("", |c| c.api_secret.as_str())
    }

    /// The configuration it started with.
    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    /// The fault settings in force.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Changes the faults with a JSON patch such as `{"offline": true}`, as `POST /_sim/faults`.
    pub fn set_faults(&self, patch: serde_json::Value) -> Result<Faults, String> {
        let patch = FaultsPatch::from_json(patch)?;
        Ok(self.state.patch_faults(&patch))
    }

    /// `{"accounts": [...]}` with resources, as `GET /_sim/state`.
    pub fn state(&self) -> serde_json::Value {
        self.state.state_json()
    }

    /// Whether `username` could log in to the panel with `password`, as `POST /_sim/login`.
    pub fn login(&self, username: &str, password: &str) -> bool {
        self.state.login(username, password)
    }

    /// Request counters and `creates_performed`, as `GET /_sim/stats`.
    pub fn stats(&self) -> serde_json::Value {
        self.state.stats_json()
    }

    /// Clears accounts and counters and restores the start-up faults, as `POST /_sim/reset`.
    pub fn reset(&self) -> io::Result<()> {
        self.state.reset().map_err(|e| io::Error::other(e.detail))
    }

    /// Revokes (or restores) a configured API key; false when the key is unknown.
    pub fn set_revoked(&self, api_key: &str, revoked: bool) -> io::Result<bool> {
        if !self
            .state
            .config
            .credentials
            .iter()
            .any(|c| c.api_key == api_key)
        {
            return Ok(false);
        }
        self.state
            .change(|data| {
                if revoked {
                    data.revoked_keys.insert(api_key.to_owned());
                } else {
                    data.revoked_keys.remove(api_key);
                }
                Ok(())
            })
            .map_err(|e| io::Error::other(e.detail))?;
        Ok(true)
    }

    /// Points license callbacks at a nextpanel-bill base URL, or turns them off.
    pub fn set_billing_url(&self, url: Option<String>) {
        self.state.set_billing_url(url);
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) -> io::Result<()> {
        let _ = self.stop.send(true);
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
