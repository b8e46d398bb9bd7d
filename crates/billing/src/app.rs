//! Wiring: builds the state from the configuration, migrates and seeds the
//! database, and serves HTTP until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::service::users::{self, SeededAdmin};
use crate::service::ServiceError;
use crate::store::{Db, StoreError};

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The effective configuration.
    pub settings: Arc<Settings>,
}

/// Why the application could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The database could not be reached or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Seeding the first admin failed.
    #[error("cannot create the first admin: {0}")]
    Seed(#[from] ServiceError),
    /// Binding or serving failed.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}

/// Connects to the configured database, migrates it and creates the first admin if needed.
pub async fn prepare(settings: Settings) -> Result<(AppState, Option<SeededAdmin>), AppError> {
    let db = Db::connect(settings.database_url.expose_secret()).await?;
    prepare_with_db(db, settings).await
}

/// Like [`prepare`] on an already-connected database (tests pin a PostgreSQL schema this way).
pub async fn prepare_with_db(
    db: Db,
    settings: Settings,
) -> Result<(AppState, Option<SeededAdmin>), AppError> {
    db.migrate().await?;
    let password = settings
        .admin_password
        .as_ref()
        .map(|p| p.expose_secret().to_owned());
    let seeded = users::ensure_admin(&db, &settings.admin_email, password.as_deref()).await?;
    let state = AppState {
        db,
        settings: Arc::new(settings),
    };
    Ok((state, seeded))
}

/// Serves the application on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let router = crate::http::router(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}
