//! Commands that work on this machine's configuration and database, not over HTTP:
//! `serve`, `worker`, `config`, `migrate` and `admin create`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use billing::config::{Layer, LogFormat, Settings};
use clap::Args;

/// Settings shared by every command that touches the server or database.
#[derive(Args, Clone)]
pub struct SettingsArgs {
    /// TOML configuration file (default: ./nextpanel-bill.toml when it exists).
    #[arg(long, env = "NEXTPANEL_BILL_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8001].
    #[arg(long)]
    listen: Option<String>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (DATABASE_URL is honoured too)
    /// [default: sqlite://nextpanel-bill.db].
    #[arg(long = "database")]
    database_url: Option<String>,
    /// PostgreSQL hot standby that admin lists and reports read from (postgres://... only;
    /// NEXTPANEL_BILL_DATABASE_REPLICA_URL[_FILE] too) [default: none, every read on the primary].
    #[arg(long = "database-replica")]
    database_replica_url: Option<String>,
    /// Email of the admin created on first start [default: admin@example.com].
    #[arg(long)]
    admin_email: Option<String>,
    /// Password of the admin created on first start (random and printed once when unset).
    #[arg(long)]
    admin_password: Option<String>,
    /// Whether customers may register themselves [default: true].
    #[arg(long)]
    allow_registration: Option<bool>,
    /// Log format: pretty or json [default: pretty].
    #[arg(long)]
    log_format: Option<String>,
    /// Master key for server credentials at rest, 64 hex characters (prefer the environment).
    #[arg(long)]
    master_key: Option<String>,
    /// File holding the master key, created with mode 0600 when missing [default: ./nextpanel-bill.key].
    #[arg(long)]
    master_key_file: Option<String>,
    /// Seconds between server health checks; 0 turns the monitor off [default: 30].
    #[arg(long = "health-interval")]
    health_interval_secs: Option<i64>,
    /// Seconds between reconciliations of every active server (report only); 0 turns them off [default: 86400].
    #[arg(long = "reconcile-interval")]
    reconcile_interval_secs: Option<i64>,
    /// Seconds between usage polls of every account (quota emails); 0 turns them off [default: 3600].
    #[arg(long = "usage-poll-interval")]
    usage_poll_interval_secs: Option<i64>,
    /// Behind a reverse proxy: take client addresses from X-Forwarded-For [default: false].
    #[arg(long)]
    behind_proxy: Option<bool>,
    /// Job workers in this process; 0 runs no jobs here [default: 4].
    #[arg(long)]
    workers: Option<i64>,
    /// File the provisioning log is appended to [default: ./provisioned_accounts.log].
    #[arg(long)]
    provisioning_log: Option<String>,
    /// Where customers reach this service, e.g. https://billing.example.com [default: http://<listen>].
    #[arg(long)]
    public_url: Option<String>,
    /// Stripe secret API key (sk_...); without it there are no card payments.
    #[arg(long)]
    stripe_secret_key: Option<String>,
    /// Stripe webhook signing secret (whsec_...); without it /webhooks/stripe answers 503.
    #[arg(long)]
    stripe_webhook_secret: Option<String>,
    /// Seconds between billing runs (renewal invoices, reminders, suspensions); 0 turns them off [default: 3600].
    #[arg(long = "billing-interval")]
    billing_interval_secs: Option<i64>,
}

impl SettingsArgs {
    /// Merges flags over `NEXTPANEL_BILL_*` variables over the TOML file over defaults.
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        Ok(self.load()?.0)
    }

    /// [`SettingsArgs::resolve`], with where each setting came from.
    pub fn load(&self) -> anyhow::Result<(Settings, BTreeMap<String, String>)> {
        let flags = Layer {
            listen: self.listen.clone(),
            database_url: self.database_url.clone(),
            database_replica_url: self.database_replica_url.clone(),
            admin_email: self.admin_email.clone(),
            admin_password: self.admin_password.clone(),
            allow_registration: self.allow_registration,
            log_format: self.log_format.clone(),
            master_key: self.master_key.clone(),
            master_key_file: self.master_key_file.clone(),
            health_interval_secs: self.health_interval_secs,
            reconcile_interval_secs: self.reconcile_interval_secs,
            usage_poll_interval_secs: self.usage_poll_interval_secs,
            behind_proxy: self.behind_proxy,
            workers: self.workers,
            provisioning_log: self.provisioning_log.clone(),
            public_url: self.public_url.clone(),
            stripe_secret_key: self.stripe_secret_key.clone(),
            stripe_webhook_secret: self.stripe_webhook_secret.clone(),
            billing_interval_secs: self.billing_interval_secs,
            ..Layer::default()
        };
        let default_file = PathBuf::from("nextpanel-bill.toml");
        let file = match &self.config {
            Some(path) => Some(path.as_path()),
            None if default_file.exists() => Some(default_file.as_path()),
            None => None,
        };
        let loaded = billing::config::sources::load_from_process(file, &flags)?;
        Ok((Settings::from_layer(loaded.layer)?, loaded.sources))
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colour codes only for a person at a terminal, not in files or the journal.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

fn print_seeded(seeded: &billing::service::users::SeededAdmin) {
    println!("================================================================");
    println!(" nextpanel-bill: created the first admin account");
    println!("   email:    {}", seeded.email);
    match &seeded.generated_password {
        Some(p) => {
            println!("   password: {p}");
            println!(" This password is shown only once. Log in and change it.");
        }
        None => println!("   password: the one you configured"),
    }
    println!("================================================================");
}

/// Keeps glibc's allocator from holding on to memory a long-running server no longer uses.
///
/// Two habits of glibc malloc showed up as resident memory that never came back: every
/// thread that allocates gets its own arena (SQLite runs one thread per connection, tokio
/// a blocking pool), and after a large block is freed the threshold for giving blocks
/// their own mapping rises, so the next Argon2 hash's 19 MiB comes from an arena and stays
/// there. Two arenas and a fixed 1 MiB threshold keep both in check.
fn lean_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters, with valid values; it is
        // called once, at start-up.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

/// Runs `serve`.
pub async fn serve(args: SettingsArgs) -> anyhow::Result<()> {
    lean_allocator();
    let settings = args.resolve()?;
    init_logging(settings.log_format);
    let listen = settings.listen;
    let (state, seeded) = billing::app::prepare(settings)
        .await
        .context("cannot prepare the database")?;
    if let Some(seeded) = &seeded {
        print_seeded(seeded);
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, engine = ?state.db.engine(), "nextpanel-bill listening; API docs at http://{addr}/docs");
    billing::app::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

/// Runs `worker`.
pub async fn worker(args: SettingsArgs) -> anyhow::Result<()> {
    lean_allocator();
    let settings = args.resolve()?;
    init_logging(settings.log_format);
    let (state, seeded) = billing::app::prepare(settings)
        .await
        .context("cannot prepare the database")?;
    if let Some(seeded) = &seeded {
        print_seeded(seeded);
    }
    billing::app::run_workers(state, shutdown_signal()).await;
    Ok(())
}

/// Runs `admin create`.
pub async fn admin_create(
    email: String,
    password: Option<String>,
    args: SettingsArgs,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let settings = args.resolve()?;
    let db = billing::store::Db::connect(settings.database_url.expose_secret()).await?;
    db.migrate().await?;
    let created = billing::service::users::create_admin(&db, &email, password.as_deref()).await?;
    print_seeded(&created);
    Ok(())
}
