//! Wiring: builds the state from the configuration, migrates and seeds the
//! database, and serves HTTP until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::{MasterKeySource, Settings};
use crate::jobs::JobContext;
use crate::mail::smtp::{MailError, SmtpSender};
use crate::mail::templates::Templates;
use crate::panel::PanelTimeouts;
use crate::service::account_ops::Ops;
use crate::service::notifications::Mailer;
use crate::service::reconciliation::Reconciler;
use crate::service::server_health::Monitor;
use crate::service::usage::UsagePoller;
use crate::service::users::{self, SeededAdmin};
use crate::service::ServiceError;
use crate::store::{Db, StoreError};
use crate::vault::{Vault, VaultError};

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The effective configuration.
    pub settings: Arc<Settings>,
    /// Seals and opens server credentials.
    pub vault: Vault,
    /// Timeouts of calls to NextPanel servers.
    pub panel_timeouts: PanelTimeouts,
    /// Wakes this process's job workers when a job is enqueued.
    pub wake: Arc<Notify>,
    /// Panel clients shared by this process's job workers.
    pub panel_clients: Arc<crate::service::servers::ClientCache>,
    /// This process's request-rate limits (license callbacks, password resets).
    pub limits: Arc<crate::service::rate_limit::RateLimiter>,
    /// Writes this process's license validation answers in batches.
    pub answers: crate::service::answer_book::AnswerBook,
    /// Reads what this process's license validations need, in batches.
    pub validation_reads: crate::service::license_check::ValidationReads,
    /// The outcome of this instance's latest scheduled ledger check.
    pub ledger: Arc<crate::service::ledger::LedgerStatus>,
}

impl AppState {
    /// What the job runner needs.
    pub fn jobs(&self) -> JobContext {
        JobContext {
            db: self.db.clone(),
            vault: self.vault.clone(),
            timeouts: self.panel_timeouts,
            settings: self.settings.clone(),
            wake: self.wake.clone(),
            clients: self.panel_clients.clone(),
            panel_calls: Arc::new(tokio::sync::Semaphore::new(
                self.settings.jobs.workers.max(1),
            )),
        }
    }

    /// Account operations over this state.
    pub fn ops(&self) -> Ops<'_> {
        Ops {
            db: &self.db,
            vault: &self.vault,
            settings: &self.settings,
            wake: &self.wake,
            timeouts: self.panel_timeouts,
        }
    }

    /// The mailer, when SMTP is configured.
    pub fn mailer(&self) -> Result<Option<Mailer>, MailError> {
        let Some(smtp) = &self.settings.smtp else {
            return Ok(None);
        };
        Ok(Some(Mailer {
            db: self.db.clone(),
            vault: self.vault.clone(),
            sender: SmtpSender::new(smtp)?,
            templates: Templates::new(
                self.settings.email_templates_dir.clone(),
                self.settings.company.clone(),
            ),
            settings: self.settings.clone(),
            max_attempts: self.settings.mail_max_attempts,
            backoff_base_ms: self.settings.jobs.backoff_base_ms,
            backoff_cap_ms: self.settings.jobs.backoff_cap_ms,
            lease_secs: self.settings.jobs.lease_secs,
        }))
    }

    /// What applying a payment needs.
    pub fn payment_context(&self) -> crate::service::payments::PaymentContext<'_> {
        crate::service::payments::PaymentContext {
            db: &self.db,
            settings: &self.settings,
            vault: &self.vault,
            wake: &self.wake,
        }
    }

    /// The billing run over this state.
    pub fn billing_runner(&self) -> crate::service::billing_run::BillingRunner {
        crate::service::billing_run::BillingRunner {
            db: self.db.clone(),
            settings: self.settings.clone(),
            wake: self.wake.clone(),
            vault: self.vault.clone(),
        }
    }

    /// The payment sweep over this state.
    pub fn payment_sweeper(&self) -> crate::service::settlement::PaymentSweeper {
        crate::service::settlement::PaymentSweeper {
            db: self.db.clone(),
            settings: self.settings.clone(),
            vault: self.vault.clone(),
            wake: self.wake.clone(),
        }
    }

    /// The usage poller over this state.
    pub fn usage_poller(&self) -> UsagePoller {
        UsagePoller {
            db: self.db.clone(),
            vault: self.vault.clone(),
            timeouts: self.panel_timeouts,
            concurrency: self.settings.usage_poll_concurrency,
        }
    }

    /// The server health monitor over this state.
    pub fn monitor(&self) -> Monitor {
        Monitor {
            db: self.db.clone(),
            vault: self.vault.clone(),
            policy: self.settings.health_policy,
            timeouts: self.panel_timeouts,
        }
    }

    /// Reconciliation of servers with our accounts, over this state.
    pub fn reconciler(&self) -> Reconciler {
        Reconciler {
            db: self.db.clone(),
            vault: self.vault.clone(),
            timeouts: self.panel_timeouts,
        }
    }
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
    /// The master key could not be loaded.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The SMTP settings are unusable.
    #[error("email: {0}")]
    Mail(#[from] MailError),
    /// Binding or serving failed.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
}

/// The vault for secrets at rest, from the configured key or key file (created with mode
/// 0600 on first use).
pub fn open_vault(settings: &Settings) -> Result<Vault, AppError> {
    Ok(match &settings.master_key {
        MasterKeySource::Key(key) => Vault::from_hex(key.expose_secret())?,
        MasterKeySource::File(path) => {
            let (vault, created) = Vault::from_file_or_create(path)?;
            if created {
                tracing::warn!(path = %path.display(), "created a new master key file for secrets at rest; back it up with the database");
            }
            vault
        }
    })
}

/// Connects to the configured database, migrates it and creates the first admin if needed.
pub async fn prepare(settings: Settings) -> Result<(AppState, Option<SeededAdmin>), AppError> {
    let db = connect(&settings).await?;
    prepare_with_db(db, settings).await
}

/// Connects to the configured database and, when `database_replica_url` is set, gives it
/// its read replica (connected on first use, so a replica that is down delays nothing).
pub async fn connect(settings: &Settings) -> Result<Db, AppError> {
    let db = Db::connect(settings.database_url.expose_secret()).await?;
    let Some(url) = &settings.database_replica_url else {
        return Ok(db);
    };
    let db = db.with_replica(url.expose_secret())?;
    if let Some(replica) = db.replica() {
        tracing::info!(replica = %replica.shown(), "admin lists and reports read from the replica");
    }
    Ok(db)
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
    let vault = open_vault(&settings)?;
    crate::service::servers::fill_in_api_key_lookups(&db, &vault).await?;
    warn_about_shared_files(&settings);
    let settings_timeouts = settings.panel_timeouts;
    let state = AppState {
        // Its answers may be lost in a database crash without harm (answer_book says why),
        // so their commits do not wait for the disk.
        answers: crate::service::answer_book::AnswerBook::start(db.relaxed_pool(2).await?),
        validation_reads: crate::service::license_check::start_reads(db.clone()),
        ledger: crate::service::ledger::LedgerStatus::new(),
        db,
        settings: Arc::new(settings),
        vault,
        panel_timeouts: settings_timeouts,
        wake: Arc::new(Notify::new()),
        panel_clients: Arc::default(),
        limits: Arc::default(),
    };
    Ok((state, seeded))
}

/// Says at start-up which existing data files others may read: the database, its WAL
/// and SHM files, the provisioning log and the master key hold customers' data or
/// secrets, and files made by older versions (or by hand) may be 0644.
fn warn_about_shared_files(settings: &Settings) {
    let mut paths = crate::files::sqlite_files(settings.database_url.expose_secret());
    paths.push(settings.provisioning_log.clone());
    if let MasterKeySource::File(key) = &settings.master_key {
        paths.push(key.clone());
    }
    for (path, mode) in crate::files::shared(&paths) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "this file holds customers' data or secrets and other users may read it; run chmod 600 on it"
        );
    }
}

/// Serves the application on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let interval = state.settings.health_interval_secs;
    let monitor =
        (interval > 0).then(|| tokio::spawn(state.monitor().run(Duration::from_secs(interval))));
    let every = state.settings.reconcile_interval_secs;
    let reconciler =
        (every > 0).then(|| tokio::spawn(state.reconciler().run(Duration::from_secs(every))));
    let every = state.settings.usage_poll_interval_secs;
    let poller =
        (every > 0).then(|| tokio::spawn(state.usage_poller().run(Duration::from_secs(every))));
    let every = state.settings.billing.interval_secs;
    let billing =
        (every > 0).then(|| tokio::spawn(state.billing_runner().run(Duration::from_secs(every))));
    let every = state.settings.collection.sweep_interval_secs;
    let sweeper = (every > 0 && state.settings.stripe.secret_key.is_some())
        .then(|| tokio::spawn(state.payment_sweeper().run(Duration::from_secs(every))));
    let every = state.settings.collection.sweep_interval_secs;
    let manual_refunds = (every > 0).then(|| {
        tokio::spawn(
            state
                .payment_sweeper()
                .settle_manual_refunds(Duration::from_secs(every)),
        )
    });
    let every = state.settings.ledger_check_interval_secs;
    let ledger = (every > 0).then(|| {
        tokio::spawn(crate::service::ledger::run_scheduled(
            state.db.clone(),
            state.ledger.clone(),
            Duration::from_secs(every),
            Duration::from_secs(state.settings.collection.sweep_interval_secs),
        ))
    });
    let housekeeping = tokio::spawn(
        crate::service::housekeeping::Housekeeper {
            db: state.db.clone(),
            settings: state.settings.clone(),
        }
        .run(Duration::from_secs(3_600)),
    );
    match (&state.settings.stripe.secret_key, &state.settings.stripe.webhook_secret) {
        (None, _) => tracing::warn!("Stripe is not configured (stripe_secret_key): card payments are off"),
        (Some(_), None) => tracing::warn!(
            "stripe_webhook_secret is not set: webhooks are refused, payments are confirmed by the return page and the payment sweep"
        ),
        (Some(_), Some(_)) => {}
    }
    let mailer = match state.mailer()? {
        Some(mailer) => Some(tokio::spawn(mailer.run())),
        None => {
            tracing::warn!("SMTP is not configured (smtp_host): emails stay queued until it is");
            None
        }
    };
    // Twice as many job loops as panel turns (one job's commits overlap another's call),
    // on connections of their own: requests that queue for the server-slot lock inside
    // their transactions (a burst of orders) can hold every connection of the shared
    // pool, and provisioning would wait behind them.
    let workers = state.settings.jobs.workers;
    let jobs = if workers == 0 {
        state.jobs()
    } else {
        let connections = u32::try_from(workers.saturating_mul(2))
            .unwrap_or(u32::MAX)
            .saturating_add(2);
        JobContext {
            db: state.db.separate_pool(connections).await?,
            ..state.jobs()
        }
    };
    let workers: Vec<_> = (0..workers.saturating_mul(2))
        .map(|n| tokio::spawn(jobs.clone().work(n)))
        .collect();
    let router = crate::http::router(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    for task in [
        monitor,
        reconciler,
        poller,
        billing,
        sweeper,
        mailer,
        ledger,
        manual_refunds,
    ]
    .into_iter()
    .flatten()
    {
        task.abort();
    }
    housekeeping.abort();
    // A job cut off here keeps its lease and is picked up again once the lease expires.
    for worker in workers {
        worker.abort();
    }
    Ok(())
}

/// Runs only the job workers (no HTTP, no monitor) until `shutdown` resolves:
/// `nextpanel-bill worker`, for extra job capacity beside `serve` on PostgreSQL.
pub async fn run_workers(state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) {
    let count = state.settings.jobs.workers.max(1);
    // One context, so the loops share its panel turns; twice as many loops as turns.
    let jobs = state.jobs();
    let workers: Vec<_> = (0..count.saturating_mul(2))
        .map(|n| tokio::spawn(jobs.clone().work(n)))
        .collect();
    tracing::info!(workers = count, "job workers running");
    shutdown.await;
    // A job cut off here keeps its lease and is picked up again once the lease expires.
    for worker in workers {
        worker.abort();
    }
}
