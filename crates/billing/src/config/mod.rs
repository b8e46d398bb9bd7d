//! Typed configuration: command-line flags, then `NEXTPANEL_BILL_*` environment
//! variables, then an optional TOML file, then defaults ([`sources`] merges them with
//! figment). Validated once at start-up.

pub mod sources;

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::service::auth::AuthPolicy;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8001";
/// Default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://nextpanel-bill.db";
/// Default email of the admin created on first start.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@example.com";

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML file is malformed or has unknown keys.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// File path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A key that is no setting.
    #[error("unknown setting `{key}` in {origin}")]
    Unknown {
        /// The key as written.
        key: String,
        /// Where it was written.
        origin: String,
    },
    /// A value of the wrong type, or a secret file that cannot be read.
    #[error("invalid setting `{key}` in {origin}: {message}")]
    Value {
        /// Setting name.
        key: String,
        /// Where the value was written.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid setting `{key}`: {message}")]
    Invalid {
        /// Setting name.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Settings as given in the TOML file, flags or environment; every key optional. A new
/// setting is one field here (its environment variable and file key follow from the name)
/// and its check in [`Settings::from_layer`].
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Listen address.
    pub listen: Option<String>,
    /// Database URL.
    pub database_url: Option<String>,
    /// URL of a PostgreSQL read replica for admin lists and reports.
    pub database_replica_url: Option<String>,
    /// Email of the admin created on first start.
    pub admin_email: Option<String>,
    /// Password of the admin created on first start.
    pub admin_password: Option<String>,
    /// Whether customers may register themselves.
    pub allow_registration: Option<bool>,
    /// Running behind a reverse proxy: take the client address from X-Forwarded-For.
    pub behind_proxy: Option<bool>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: Option<i64>,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_ttl_secs: Option<i64>,
    /// Lifetime of a console sign-in (its session cookie) in seconds.
    pub console_session_ttl_secs: Option<i64>,
    /// Failed logins allowed per account in the window.
    pub login_max_failures_per_account: Option<i64>,
    /// Failed logins allowed per client address in the window.
    pub login_max_failures_per_client: Option<i64>,
    /// The failed-login window in seconds.
    pub login_failure_window_secs: Option<i64>,
    /// `pretty` or `json`.
    pub log_format: Option<String>,
    /// Master key for secrets at rest, 64 hex characters.
    pub master_key: Option<String>,
    /// File holding the master key; created with mode 0600 when missing.
    pub master_key_file: Option<String>,
    /// Seconds between server health checks.
    pub health_interval_secs: Option<i64>,
    /// Seconds between ledger checks (0: off).
    pub ledger_check_interval_secs: Option<i64>,
    /// Seconds between reconciliations of every active server (0: off).
    pub reconcile_interval_secs: Option<i64>,
    /// Seconds between usage polls of every account (0: off).
    pub usage_poll_interval_secs: Option<i64>,
    /// Usage calls a poll keeps in flight to each server.
    pub usage_poll_concurrency: Option<i64>,
    /// Consecutive failed checks that take a server offline.
    pub health_failures_to_offline: Option<i64>,
    /// Consecutive successful checks that bring a server back online.
    pub health_successes_to_online: Option<i64>,
    /// Job workers in this process: how many jobs call panels at once (0: this process
    /// runs no jobs). Twice as many jobs run, so recording one overlaps another's call.
    pub workers: Option<i64>,
    /// Attempts of a job before it is dead.
    pub job_max_attempts: Option<i64>,
    /// First retry delay in milliseconds (doubles each attempt).
    pub job_backoff_base_ms: Option<i64>,
    /// Longest retry delay in milliseconds.
    pub job_backoff_cap_ms: Option<i64>,
    /// Seconds a claimed job or message is leased (renewed while it runs) before another
    /// worker may take it over.
    pub job_lease_secs: Option<i64>,
    /// Seconds `POST /provision` waits for the account before answering 202.
    pub provision_wait_secs: Option<i64>,
    /// Servers a create may try before giving up.
    pub provision_max_servers: Option<i64>,
    /// File the provisioning log (one JSON line per change) is appended to.
    pub provisioning_log: Option<String>,
    /// Timeout of panel calls other than create and health, in milliseconds.
    pub panel_timeout_ms: Option<i64>,
    /// Timeout of account creation on a panel, in milliseconds.
    pub panel_create_timeout_ms: Option<i64>,
    /// SMTP server host; without it messages stay queued.
    pub smtp_host: Option<String>,
    /// SMTP server port.
    pub smtp_port: Option<i64>,
    /// `starttls`, `tls` or `none`.
    pub smtp_security: Option<String>,
    /// SMTP login.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<String>,
    /// Sender address of every message.
    pub smtp_from: Option<String>,
    /// Timeout of one SMTP conversation.
    pub smtp_timeout_secs: Option<i64>,
    /// PEM file of an extra certificate authority the SMTP server's certificate may chain to.
    pub smtp_ca_file: Option<String>,
    /// Company name in messages.
    pub company_name: Option<String>,
    /// Logo at the top of HTML messages.
    pub company_logo_url: Option<String>,
    /// Support address in message footers.
    pub support_email: Option<String>,
    /// The seller's postal address on invoices (several lines allowed).
    pub company_address: Option<String>,
    /// The seller's country (ISO 3166 alpha-2): decides the EU reverse charge.
    pub company_country: Option<String>,
    /// The seller's VAT number or tax id on invoices.
    pub company_tax_id: Option<String>,
    /// Format of invoice numbers, e.g. `INV-{YYYY}-{seq:06}`.
    pub invoice_number_format: Option<String>,
    /// Format of credit-note numbers, e.g. `CN-{YYYY}-{seq:06}`.
    pub credit_note_number_format: Option<String>,
    /// Directory of template files that replace the built-in ones.
    pub email_templates_dir: Option<String>,
    /// Send attempts of a message before it is marked failed.
    pub mail_max_attempts: Option<i64>,
    /// Link in password-reset messages; `{token}` is replaced by the code (default: the
    /// web console's reset page under `public_url`).
    pub password_reset_url: Option<String>,
    /// Where customers reach this service (links in messages, Stripe return pages).
    pub public_url: Option<String>,
    /// Stripe secret API key (`sk_...`).
    pub stripe_secret_key: Option<String>,
    /// Stripe webhook signing secret (`whsec_...`).
    pub stripe_webhook_secret: Option<String>,
    /// Stripe API base URL (tests point it at a local fake).
    pub stripe_api_base: Option<String>,
    /// Return page after paying; `{public_url}` and `{invoice_id}` are replaced.
    pub checkout_success_url: Option<String>,
    /// Return page after giving up on paying; same placeholders.
    pub checkout_cancel_url: Option<String>,
    /// Seconds between billing runs (renewal invoices, reminders, suspensions); 0: off.
    pub billing_interval_secs: Option<i64>,
    /// Days before a license expires that its renewal invoice is issued.
    pub renewal_lead_days: Option<i64>,
    /// Days a new order's invoice is payable.
    pub order_due_days: Option<i64>,
    /// Days between reminders about an overdue invoice.
    pub reminder_interval_days: Option<i64>,
    /// Reminders per overdue invoice at most.
    pub max_reminders: Option<i64>,
    /// Days after an unpaid renewal's due date when its hosting is suspended.
    pub suspend_overdue_after_days: Option<i64>,
    /// Late fee: minor units charged once for a renewal unpaid `late_fee_after_days` after it was due.
    pub late_fee_fixed: Option<i64>,
    /// Late fee: basis points of the overdue invoice's total (added to the fixed part).
    pub late_fee_percent_bp: Option<i64>,
    /// Days after the due date when the late fee is charged.
    pub late_fee_after_days: Option<i64>,
    /// Days audit entries are kept; unset keeps them all.
    pub audit_retention_days: Option<i64>,
    /// Days after its due date when an unpaid order is voided.
    pub void_unpaid_orders_after_days: Option<i64>,
    /// Accept version-1 license callbacks (no `request_id`, so replayable).
    pub license_callbacks_v1: Option<bool>,
    /// Days after a renewal's due date of the automatic charges of the saved card.
    pub autopay_retry_days: Option<Vec<i64>>,
    /// Days before a renewal that a customer whose card expires first is told.
    pub card_expiry_notice_days: Option<i64>,
    /// Seconds between sweeps asking Stripe about unsettled payments (0: off).
    pub payment_sweep_interval_secs: Option<i64>,
    /// Suspend the hosting a disputed payment paid for.
    pub suspend_on_dispute: Option<bool>,
    /// Take orders even when no server can take the account now.
    pub accept_orders_when_full: Option<bool>,
    /// Automatic charges in flight at once during a billing run.
    pub autopay_concurrency: Option<i64>,
    /// `immediate` or `after_provisioning`: when an order's card payment is taken.
    pub capture: Option<String>,
    /// License callbacks one server may make per minute (to this instance).
    pub license_callbacks_per_minute: Option<i64>,
    /// Password-reset requests one client address may make per hour (to this instance).
    pub password_resets_per_client_per_hour: Option<i64>,
    /// `inline` (the password in the welcome email) or `link` (a single-use link).
    pub welcome_credentials: Option<String>,
    /// Hours a credentials link works.
    pub credential_link_hours: Option<i64>,
}

impl Layer {
    /// `self` over `lower`: every key set in `self` wins (for settings layered in code, such
    /// as tests; the command line uses [`sources`]).
    pub fn or(self, lower: Layer) -> Layer {
        let (Ok(serde_json::Value::Object(top)), Ok(serde_json::Value::Object(mut merged))) =
            (serde_json::to_value(&self), serde_json::to_value(&lower))
        else {
            return self;
        };
        for (key, value) in top.into_iter().filter(|(_, v)| !v.is_null()) {
            merged.insert(key, value);
        }
        serde_json::from_value(serde_json::Value::Object(merged)).unwrap_or(self)
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The effective, validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Database URL (may hold a password: print only [`Settings::masked`]).
    pub database_url: SecretString,
    /// URL of a PostgreSQL hot standby that admin lists and reports read from (may hold a
    /// password too); `None`: every read goes to the primary.
    pub database_replica_url: Option<SecretString>,
    /// Email of the admin created on first start.
    pub admin_email: String,
    /// Password of that admin; random and printed once when unset.
    pub admin_password: Option<SecretString>,
    /// Token lifetimes, registration and login throttling.
    pub auth: AuthPolicy,
    /// Log format.
    pub log_format: LogFormat,
    /// Where the master key for secrets at rest comes from.
    pub master_key: MasterKeySource,
    /// Seconds between server health checks; 0 disables the background monitor.
    pub health_interval_secs: u64,
    /// Seconds between this instance's ledger checks (every invariant of money and state,
    /// reported by `/ready` and `/metrics`); 0 turns them off.
    pub ledger_check_interval_secs: u64,
    /// Seconds between reconciliations of every active server (report only, no fixes);
    /// 0 disables the background job (reconciliations then run only on request).
    pub reconcile_interval_secs: u64,
    /// Seconds between usage polls (quota alerts, usage drift); 0 disables the loop.
    pub usage_poll_interval_secs: u64,
    /// Usage calls a poll keeps in flight to each server.
    pub usage_poll_concurrency: usize,
    /// Online/offline hysteresis of the health monitor.
    pub health_policy: crate::domain::server::HealthPolicy,
    /// Job workers, retries and leases.
    pub jobs: JobSettings,
    /// Seconds `POST /provision` waits before answering 202.
    pub provision_wait_secs: u64,
    /// Servers a create may try.
    pub provision_max_servers: usize,
    /// Where the provisioning log goes.
    pub provisioning_log: std::path::PathBuf,
    /// Timeouts of calls to NextPanel servers.
    pub panel_timeouts: crate::panel::PanelTimeouts,
    /// SMTP settings; `None`: messages stay queued until SMTP is configured.
    pub smtp: Option<crate::mail::smtp::SmtpSettings>,
    /// Company details in messages.
    pub company: crate::mail::Company,
    /// Template overrides.
    pub email_templates_dir: Option<std::path::PathBuf>,
    /// Send attempts of a message before it is marked failed.
    pub mail_max_attempts: i64,
    /// Link in password-reset messages, with `{token}` replaced.
    pub password_reset_url: String,
    /// Take the client address from the proxy's X-Forwarded-For (login throttling).
    pub behind_proxy: bool,
    /// Where customers reach this service, without a trailing slash.
    pub public_url: String,
    /// Stripe keys and API base.
    pub stripe: crate::payments::StripeSettings,
    /// Invoicing, reminders and suspension for non-payment.
    pub billing: BillingSettings,
    /// Document numbers and the seller on invoices.
    pub invoicing: InvoicingSettings,
    /// Days audit entries are kept; `None` keeps them all.
    pub audit_retention_days: Option<i64>,
    /// Accept version-1 license callbacks (without `request_id`, which can be
    /// replayed within the clock window); off by default.
    pub license_callbacks_v1: bool,
    /// Collecting money: automatic charges, the payment sweep, disputes.
    pub collection: CollectionSettings,
    /// License callbacks one server may make per minute.
    pub license_callbacks_per_minute: u32,
    /// Password-reset requests one client address may make per hour.
    pub password_resets_per_client_per_hour: u32,
    /// The welcome email carries a single-use link to the password instead of the password.
    pub welcome_by_link: bool,
    /// Hours a credentials link works.
    pub credential_link_hours: i64,
}

/// How money is collected once owed: when saved cards are charged for renewals, when
/// their holders are warned, how often Stripe is asked about lost webhooks, and what a
/// dispute does.
#[derive(Debug, Clone)]
pub struct CollectionSettings {
    /// Days after the due date of each automatic attempt.
    pub retry: crate::domain::autopay::RetrySchedule,
    /// Days before a renewal that a customer whose card expires first is told.
    pub card_expiry_notice_days: i64,
    /// Seconds between sweeps asking Stripe about unsettled payments; 0: off.
    pub sweep_interval_secs: u64,
    /// Suspend the hosting a disputed payment paid for.
    pub suspend_on_dispute: bool,
    /// Automatic charges in flight at once during a billing run.
    pub concurrency: usize,
    /// Orders' card payments are authorized at checkout and captured once the hosting
    /// account is active (released if it cannot be created).
    pub capture_after_provisioning: bool,
}

/// How invoices are issued and chased.
#[derive(Debug, Clone, Copy)]
pub struct BillingSettings {
    /// Seconds between billing runs; 0: only on request.
    pub interval_secs: u64,
    /// Days before expiry that a renewal invoice is issued (and when it falls due: at expiry).
    pub renewal_lead_days: i64,
    /// Days a new order's invoice is payable.
    pub order_due_days: i64,
    /// Reminders and suspension.
    pub dunning: crate::domain::invoice::DunningPolicy,
    /// Take orders even when no server can take the account now (it waits for one).
    pub accept_orders_when_full: bool,
    /// The late fee charged on overdue renewals (none when both parts are 0).
    pub late_fee: crate::domain::invoice::LateFee,
}

/// What invoices and credit notes say about the seller, and how they are numbered.
#[derive(Debug, Clone)]
pub struct InvoicingSettings {
    /// Format of invoice numbers.
    pub invoice_numbers: crate::domain::document_number::NumberFormat,
    /// Format of credit-note numbers.
    pub credit_note_numbers: crate::domain::document_number::NumberFormat,
    /// The seller's postal address.
    pub seller_address: Option<String>,
    /// The seller's country code.
    pub seller_country: Option<String>,
    /// The seller's tax id.
    pub seller_tax_id: Option<String>,
}

/// How the durable job queue runs.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// Workers in this process: jobs calling panels at once (twice as many run).
    pub workers: usize,
    /// Attempts before `dead`.
    pub max_attempts: i64,
    /// First retry delay.
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_cap_ms: u64,
    /// Lease of a claimed job or message, renewed every third of it while it runs.
    pub lease_secs: u64,
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// Given directly (environment or file setting), 64 hex characters.
    Key(SecretString),
    /// Read from this file, created on first start.
    File(std::path::PathBuf),
}

/// Default key file, beside the default database.
pub const DEFAULT_MASTER_KEY_FILE: &str = "nextpanel-bill.key";

fn positive(key: &'static str, value: Option<i64>, default: i64) -> Result<i64, ConfigError> {
    let v = value.unwrap_or(default);
    if v < 1 {
        return Err(ConfigError::Invalid {
            key,
            message: "must be 1 or more".to_owned(),
        });
    }
    Ok(v)
}

impl Settings {
    /// Whether the service is reached over HTTPS (HSTS, `Secure` cookies).
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Validates a merged layer, filling defaults.
    pub fn from_layer(layer: Layer) -> Result<Settings, ConfigError> {
        let listen_raw = layer.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_raw.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            message: format!("'{listen_raw}' is not an address like 127.0.0.1:8001"),
        })?;
        let database_url = layer
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|p| database_url.starts_with(p))
        {
            return Err(ConfigError::Invalid {
                key: "database_url",
                message: "must start with sqlite:// or postgres://".to_owned(),
            });
        }
        let database_replica_url = replica_url(&database_url, layer.database_replica_url)?;
        let log_format = match layer.log_format.as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "log_format",
                    message: format!("'{other}' is not pretty or json"),
                })
            }
        };
        if let Some(p) = &layer.admin_password {
            crate::domain::customer::NewPassword::parse("admin_password", p).map_err(|e| {
                ConfigError::Invalid {
                    key: "admin_password",
                    message: e.message,
                }
            })?;
        }
        let admin_email = layer
            .admin_email
            .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned());
        crate::domain::customer::Email::parse(&admin_email).map_err(|e| ConfigError::Invalid {
            key: "admin_email",
            message: e.message,
        })?;
        let defaults = AuthPolicy::default();
        let auth = AuthPolicy {
            access_ttl: chrono::Duration::seconds(positive(
                "access_token_ttl_secs",
                layer.access_token_ttl_secs,
                defaults.access_ttl.num_seconds(),
            )?),
            refresh_ttl: chrono::Duration::seconds(positive(
                "refresh_token_ttl_secs",
                layer.refresh_token_ttl_secs,
                defaults.refresh_ttl.num_seconds(),
            )?),
            console_ttl: chrono::Duration::seconds(positive(
                "console_session_ttl_secs",
                layer.console_session_ttl_secs,
                defaults.console_ttl.num_seconds(),
            )?),
            allow_registration: layer
                .allow_registration
                .unwrap_or(defaults.allow_registration),
            max_failures_per_account: positive(
                "login_max_failures_per_account",
                layer.login_max_failures_per_account,
                defaults.max_failures_per_account,
            )?,
            max_failures_per_client: positive(
                "login_max_failures_per_client",
                layer.login_max_failures_per_client,
                defaults.max_failures_per_client,
            )?,
            failure_window: chrono::Duration::seconds(positive(
                "login_failure_window_secs",
                layer.login_failure_window_secs,
                defaults.failure_window.num_seconds(),
            )?),
        };
        let master_key = match (layer.master_key, layer.master_key_file) {
            (Some(key), _) => {
                crate::vault::Vault::from_hex(&key).map_err(|e| ConfigError::Invalid {
                    key: "master_key",
                    message: e.to_string(),
                })?;
                MasterKeySource::Key(SecretString::from(key))
            }
            (None, file) => MasterKeySource::File(
                file.unwrap_or_else(|| DEFAULT_MASTER_KEY_FILE.to_owned())
                    .into(),
            ),
        };
        let health_policy = crate::domain::server::HealthPolicy {
            failures_to_offline: positive(
                "health_failures_to_offline",
                layer.health_failures_to_offline,
                3,
            )?,
            successes_to_online: positive(
                "health_successes_to_online",
                layer.health_successes_to_online,
                2,
            )?,
        };
        // 0 turns the background monitor off (checks then run only on request).
        let health_interval_secs = match layer.health_interval_secs {
            Some(0) => 0,
            other => positive("health_interval_secs", other, 30)?.unsigned_abs(),
        };
        let ledger_check_interval_secs = match layer.ledger_check_interval_secs {
            Some(0) => 0,
            other => positive("ledger_check_interval_secs", other, 900)?.unsigned_abs(),
        };
        let reconcile_interval_secs = match layer.reconcile_interval_secs {
            Some(0) => 0,
            other => positive("reconcile_interval_secs", other, 86_400)?.unsigned_abs(),
        };
        let usage_poll_interval_secs = match layer.usage_poll_interval_secs {
            Some(0) => 0,
            other => positive("usage_poll_interval_secs", other, 3_600)?.unsigned_abs(),
        };
        let usage_poll_concurrency =
            positive("usage_poll_concurrency", layer.usage_poll_concurrency, 4)?.unsigned_abs()
                as usize;
        let workers = match layer.workers {
            Some(0) => 0,
            other => positive("workers", other, 4)?.unsigned_abs() as usize,
        };
        let jobs = JobSettings {
            workers,
            max_attempts: positive("job_max_attempts", layer.job_max_attempts, 8)?,
            backoff_base_ms: positive("job_backoff_base_ms", layer.job_backoff_base_ms, 2_000)?
                .unsigned_abs(),
            backoff_cap_ms: positive("job_backoff_cap_ms", layer.job_backoff_cap_ms, 600_000)?
                .unsigned_abs(),
            lease_secs: positive("job_lease_secs", layer.job_lease_secs, 15)?.unsigned_abs(),
        };
        let provision_wait_secs = match layer.provision_wait_secs {
            Some(0) => 0,
            other => positive("provision_wait_secs", other, 20)?.unsigned_abs(),
        };
        let provision_max_servers =
            positive("provision_max_servers", layer.provision_max_servers, 3)?.unsigned_abs()
                as usize;
        let mut panel_timeouts = crate::panel::PanelTimeouts::default();
        let ms = |v: i64| std::time::Duration::from_millis(v.unsigned_abs());
        if let Some(v) = layer.panel_timeout_ms {
            panel_timeouts.other = ms(positive("panel_timeout_ms", Some(v), 10_000)?);
            panel_timeouts.health = panel_timeouts.other.min(panel_timeouts.health);
            panel_timeouts.connect = panel_timeouts.other.min(panel_timeouts.connect);
        }
        if let Some(v) = layer.panel_create_timeout_ms {
            panel_timeouts.create = ms(positive("panel_create_timeout_ms", Some(v), 30_000)?);
        }
        let smtp = match layer.smtp_host {
            None => None,
            Some(host) => {
                let security = layer.smtp_security.as_deref().unwrap_or("starttls");
                let security = crate::mail::smtp::Security::parse(security).ok_or_else(|| {
                    ConfigError::Invalid {
                        key: "smtp_security",
                        message: format!("'{security}' is not starttls, tls or none"),
                    }
                })?;
                let port = positive("smtp_port", layer.smtp_port, 587)?;
                Some(crate::mail::smtp::SmtpSettings {
                    host,
                    port: u16::try_from(port).map_err(|_| ConfigError::Invalid {
                        key: "smtp_port",
                        message: "must be a TCP port".into(),
                    })?,
                    security,
                    username: layer.smtp_username,
                    password: layer.smtp_password.map(SecretString::from),
                    from: layer
                        .smtp_from
                        .clone()
                        .unwrap_or_else(|| "nextpanel-bill <billing@localhost>".to_owned()),
                    timeout: std::time::Duration::from_secs(
                        positive("smtp_timeout_secs", layer.smtp_timeout_secs, 30)?.unsigned_abs(),
                    ),
                    ca_file: layer.smtp_ca_file.clone().map(Into::into),
                })
            }
        };
        if let Some(from) = &layer.smtp_from {
            from.parse::<lettre::message::Mailbox>()
                .map_err(|_| ConfigError::Invalid {
                    key: "smtp_from",
                    message: format!("'{from}' is not an address like Name <billing@example.com>"),
                })?;
        }
        let company = crate::mail::Company {
            name: layer
                .company_name
                .unwrap_or_else(|| "NextPanel Hosting".to_owned()),
            logo_url: layer.company_logo_url,
            support_email: layer.support_email,
        };
        let number_format = |key: &'static str, value: Option<&str>, default: &str| {
            crate::domain::document_number::NumberFormat::parse(key, value.unwrap_or(default))
                .map_err(|e| ConfigError::Invalid {
                    key,
                    message: e.message,
                })
        };
        let invoicing = InvoicingSettings {
            invoice_numbers: number_format(
                "invoice_number_format",
                layer.invoice_number_format.as_deref(),
                crate::domain::document_number::INVOICE_DEFAULT,
            )?,
            credit_note_numbers: number_format(
                "credit_note_number_format",
                layer.credit_note_number_format.as_deref(),
                crate::domain::document_number::CREDIT_NOTE_DEFAULT,
            )?,
            seller_address: layer
                .company_address
                .clone()
                .filter(|a| !a.trim().is_empty()),
            seller_country: layer
                .company_country
                .as_deref()
                .map(|c| {
                    crate::domain::tax::country(c).map_err(|e| ConfigError::Invalid {
                        key: "company_country",
                        message: e.message,
                    })
                })
                .transpose()?,
            seller_tax_id: layer
                .company_tax_id
                .clone()
                .filter(|t| !t.trim().is_empty()),
        };
        let billing = BillingSettings {
            interval_secs: match layer.billing_interval_secs {
                Some(0) => 0,
                other => positive("billing_interval_secs", other, 3_600)?.unsigned_abs(),
            },
            renewal_lead_days: positive("renewal_lead_days", layer.renewal_lead_days, 14)?,
            order_due_days: positive("order_due_days", layer.order_due_days, 7)?,
            accept_orders_when_full: layer.accept_orders_when_full.unwrap_or(false),
            dunning: crate::domain::invoice::DunningPolicy {
                reminder_interval_days: positive(
                    "reminder_interval_days",
                    layer.reminder_interval_days,
                    3,
                )?,
                max_reminders: match layer.max_reminders {
                    Some(0) => 0,
                    other => positive("max_reminders", other, 3)?,
                },
                suspend_after_days: positive(
                    "suspend_overdue_after_days",
                    layer.suspend_overdue_after_days,
                    14,
                )?,
                void_orders_after_days: positive(
                    "void_unpaid_orders_after_days",
                    layer.void_unpaid_orders_after_days,
                    30,
                )?,
            },
            late_fee: crate::domain::invoice::LateFee {
                fixed: match layer.late_fee_fixed {
                    Some(v) if v < 0 => {
                        return Err(ConfigError::Invalid {
                            key: "late_fee_fixed",
                            message: "must be 0 or more (minor units)".into(),
                        })
                    }
                    v => v.unwrap_or(0),
                },
                percent_bp: match layer.late_fee_percent_bp {
                    Some(v) if !(0..=10_000).contains(&v) => {
                        return Err(ConfigError::Invalid {
                            key: "late_fee_percent_bp",
                            message: "must be 0 to 10000 basis points".into(),
                        })
                    }
                    v => v.unwrap_or(0),
                },
                after_days: positive("late_fee_after_days", layer.late_fee_after_days, 7)?,
            },
        };
        let public_url = layer
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"));
        let public_url = public_url.trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                key: "public_url",
                message: format!("'{public_url}' is not an http:// or https:// URL"),
            });
        }
        // The console's reset page takes the code from the link.
        let password_reset_url = layer
            .password_reset_url
            .clone()
            .unwrap_or_else(|| format!("{public_url}/ui/#/reset?token={{token}}"));
        let secret = |v: Option<String>| v.filter(|s| !s.is_empty()).map(SecretString::from);
        let stripe = crate::payments::StripeSettings {
            secret_key: secret(layer.stripe_secret_key),
            webhook_secret: secret(layer.stripe_webhook_secret),
            api_base: layer
                .stripe_api_base
                .unwrap_or_else(|| crate::payments::STRIPE_API_BASE.to_owned()),
            success_url: layer
                .checkout_success_url
                .unwrap_or_else(|| crate::payments::DEFAULT_SUCCESS_URL.to_owned()),
            cancel_url: layer
                .checkout_cancel_url
                .unwrap_or_else(|| crate::payments::DEFAULT_CANCEL_URL.to_owned()),
        };
        let audit_retention_days = match layer.audit_retention_days {
            None => None,
            Some(days) if days >= 30 => Some(days),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    key: "audit_retention_days",
                    message: "must be 30 or more (leave it unset to keep the audit log whole)"
                        .into(),
                })
            }
        };
        let collection = CollectionSettings {
            retry: match layer.autopay_retry_days {
                None => crate::domain::autopay::RetrySchedule::default(),
                Some(days) => crate::domain::autopay::RetrySchedule::new(days).map_err(|m| {
                    ConfigError::Invalid {
                        key: "autopay_retry_days",
                        message: m.into(),
                    }
                })?,
            },
            card_expiry_notice_days: match layer.card_expiry_notice_days {
                None => 14,
                Some(days) if (1..=365).contains(&days) => days,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        key: "card_expiry_notice_days",
                        message: "must be between 1 and 365".into(),
                    })
                }
            },
            sweep_interval_secs: match layer.payment_sweep_interval_secs {
                Some(0) => 0,
                other => positive("payment_sweep_interval_secs", other, 900)?.unsigned_abs(),
            },
            suspend_on_dispute: layer.suspend_on_dispute.unwrap_or(true),
            capture_after_provisioning: match layer.capture.as_deref() {
                None | Some("immediate") => false,
                Some("after_provisioning") => true,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        key: "capture",
                        message: "must be immediate or after_provisioning".into(),
                    })
                }
            },
            concurrency: match layer.autopay_concurrency {
                None => 8,
                Some(n) if (1..=64).contains(&n) => usize::try_from(n).unwrap_or(8),
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        key: "autopay_concurrency",
                        message: "must be between 1 and 64".into(),
                    })
                }
            },
        };
        let limit = |key: &'static str, value: Option<i64>, default: i64| {
            positive(key, value, default).and_then(|n| {
                u32::try_from(n).map_err(|_| ConfigError::Invalid {
                    key,
                    message: "is too large".into(),
                })
            })
        };
        let license_callbacks_per_minute = limit(
            "license_callbacks_per_minute",
            layer.license_callbacks_per_minute,
            6_000,
        )?;
        let password_resets_per_client_per_hour = limit(
            "password_resets_per_client_per_hour",
            layer.password_resets_per_client_per_hour,
            10,
        )?;
        let welcome_by_link = match layer.welcome_credentials.as_deref() {
            None | Some("inline") => false,
            Some("link") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    key: "welcome_credentials",
                    message: "must be inline or link".into(),
                })
            }
        };
        let credential_link_hours =
            positive("credential_link_hours", layer.credential_link_hours, 72)?;
        Ok(Settings {
            welcome_by_link,
            credential_link_hours,
            license_callbacks_per_minute,
            password_resets_per_client_per_hour,
            collection,
            audit_retention_days,
            license_callbacks_v1: layer.license_callbacks_v1.unwrap_or(false),
            public_url,
            stripe,
            billing,
            invoicing,
            behind_proxy: layer.behind_proxy.unwrap_or(false),
            smtp,
            company,
            email_templates_dir: layer.email_templates_dir.map(Into::into),
            mail_max_attempts: positive("mail_max_attempts", layer.mail_max_attempts, 20)?,
            password_reset_url,
            panel_timeouts,
            jobs,
            provision_wait_secs,
            provision_max_servers,
            provisioning_log: layer
                .provisioning_log
                .unwrap_or_else(|| "provisioned_accounts.log".to_owned())
                .into(),
            master_key,
            health_interval_secs,
            ledger_check_interval_secs,
            reconcile_interval_secs,
            usage_poll_interval_secs,
            usage_poll_concurrency,
            health_policy,
            listen,
            database_url: SecretString::from(database_url),
            database_replica_url,
            admin_email,
            admin_password: layer.admin_password.map(SecretString::from),
            auth,
            log_format,
        })
    }

    /// The effective configuration as TOML, with passwords replaced by `********`.
    pub fn masked(&self) -> String {
        #[derive(Serialize)]
        struct Shown<'a> {
            listen: String,
            database_url: String,
            database_replica_url: String,
            admin_email: &'a str,
            admin_password: &'a str,
            allow_registration: bool,
            behind_proxy: bool,
            access_token_ttl_secs: i64,
            refresh_token_ttl_secs: i64,
            console_session_ttl_secs: i64,
            login_max_failures_per_account: i64,
            login_max_failures_per_client: i64,
            login_failure_window_secs: i64,
            log_format: LogFormat,
            master_key: String,
            health_interval_secs: u64,
            ledger_check_interval_secs: u64,
            reconcile_interval_secs: u64,
            usage_poll_interval_secs: u64,
            usage_poll_concurrency: usize,
            health_failures_to_offline: i64,
            health_successes_to_online: i64,
            workers: usize,
            job_max_attempts: i64,
            job_backoff_base_ms: u64,
            job_backoff_cap_ms: u64,
            job_lease_secs: u64,
            provision_wait_secs: u64,
            provision_max_servers: usize,
            provisioning_log: String,
            smtp: String,
            company_name: &'a str,
            company_address: Option<&'a str>,
            company_country: Option<&'a str>,
            company_tax_id: Option<&'a str>,
            invoice_number_format: String,
            credit_note_number_format: String,
            public_url: &'a str,
            stripe_secret_key: &'a str,
            stripe_webhook_secret: &'a str,
            stripe_api_base: &'a str,
            billing_interval_secs: u64,
            renewal_lead_days: i64,
            order_due_days: i64,
            reminder_interval_days: i64,
            max_reminders: i64,
            suspend_overdue_after_days: i64,
            late_fee_fixed: i64,
            late_fee_percent_bp: i64,
            late_fee_after_days: i64,
            void_unpaid_orders_after_days: i64,
            audit_retention_days: String,
            license_callbacks_v1: bool,
            autopay_retry_days: &'a [i64],
            card_expiry_notice_days: i64,
            payment_sweep_interval_secs: u64,
            suspend_on_dispute: bool,
            accept_orders_when_full: bool,
            autopay_concurrency: usize,
            capture: &'static str,
            license_callbacks_per_minute: u32,
            password_resets_per_client_per_hour: u32,
            welcome_credentials: &'static str,
            credential_link_hours: i64,
        }
        let set = |v: &Option<SecretString>| {
            if v.is_some() {
                "********"
            } else {
                "(not set: payments are off)"
            }
        };
        let shown = Shown {
            audit_retention_days: self
                .audit_retention_days
                .map_or_else(|| "keep all".to_owned(), |d| d.to_string()),
            license_callbacks_v1: self.license_callbacks_v1,
            autopay_retry_days: self.collection.retry.days(),
            card_expiry_notice_days: self.collection.card_expiry_notice_days,
            payment_sweep_interval_secs: self.collection.sweep_interval_secs,
            suspend_on_dispute: self.collection.suspend_on_dispute,
            accept_orders_when_full: self.billing.accept_orders_when_full,
            autopay_concurrency: self.collection.concurrency,
            license_callbacks_per_minute: self.license_callbacks_per_minute,
            welcome_credentials: if self.welcome_by_link {
                "link"
            } else {
                "inline"
            },
            credential_link_hours: self.credential_link_hours,
            password_resets_per_client_per_hour: self.password_resets_per_client_per_hour,
            capture: if self.collection.capture_after_provisioning {
                "after_provisioning"
            } else {
                "immediate"
            },
            public_url: &self.public_url,
            stripe_secret_key: set(&self.stripe.secret_key),
            stripe_webhook_secret: set(&self.stripe.webhook_secret),
            stripe_api_base: &self.stripe.api_base,
            billing_interval_secs: self.billing.interval_secs,
            renewal_lead_days: self.billing.renewal_lead_days,
            order_due_days: self.billing.order_due_days,
            reminder_interval_days: self.billing.dunning.reminder_interval_days,
            max_reminders: self.billing.dunning.max_reminders,
            suspend_overdue_after_days: self.billing.dunning.suspend_after_days,
            late_fee_fixed: self.billing.late_fee.fixed,
            late_fee_percent_bp: self.billing.late_fee.percent_bp,
            late_fee_after_days: self.billing.late_fee.after_days,
            void_unpaid_orders_after_days: self.billing.dunning.void_orders_after_days,
            smtp: match &self.smtp {
                None => "not configured: messages stay queued".to_owned(),
                Some(m) => format!(
                    "{}:{} ({:?}), user {}, password {}, from {}",
                    m.host,
                    m.port,
                    m.security,
                    m.username.as_deref().unwrap_or("(none)"),
                    if m.password.is_some() {
                        "********"
                    } else {
                        "(none)"
                    },
                    m.from
                ),
            },
            company_name: &self.company.name,
            company_address: self.invoicing.seller_address.as_deref(),
            company_country: self.invoicing.seller_country.as_deref(),
            company_tax_id: self.invoicing.seller_tax_id.as_deref(),
            invoice_number_format: self.invoicing.invoice_numbers.to_string(),
            credit_note_number_format: self.invoicing.credit_note_numbers.to_string(),
            workers: self.jobs.workers,
            job_max_attempts: self.jobs.max_attempts,
            job_backoff_base_ms: self.jobs.backoff_base_ms,
            job_backoff_cap_ms: self.jobs.backoff_cap_ms,
            job_lease_secs: self.jobs.lease_secs,
            provision_wait_secs: self.provision_wait_secs,
            provision_max_servers: self.provision_max_servers,
            provisioning_log: self.provisioning_log.display().to_string(),
            master_key: match &self.master_key {
                MasterKeySource::Key(_) => "******** (from configuration)".to_owned(),
                MasterKeySource::File(path) => format!("file {}", path.display()),
            },
            health_interval_secs: self.health_interval_secs,
            ledger_check_interval_secs: self.ledger_check_interval_secs,
            reconcile_interval_secs: self.reconcile_interval_secs,
            usage_poll_interval_secs: self.usage_poll_interval_secs,
            usage_poll_concurrency: self.usage_poll_concurrency,
            health_failures_to_offline: self.health_policy.failures_to_offline,
            health_successes_to_online: self.health_policy.successes_to_online,
            listen: self.listen.to_string(),
            database_url: mask_url_password(self.database_url.expose_secret()),
            database_replica_url: self.database_replica_url.as_ref().map_or_else(
                || "(not set: every read goes to the primary)".to_owned(),
                |u| mask_url_password(u.expose_secret()),
            ),
            admin_email: &self.admin_email,
            admin_password: if self.admin_password.is_some() {
                "********"
            } else {
                "(random on first start)"
            },
            allow_registration: self.auth.allow_registration,
            behind_proxy: self.behind_proxy,
            access_token_ttl_secs: self.auth.access_ttl.num_seconds(),
            refresh_token_ttl_secs: self.auth.refresh_ttl.num_seconds(),
            console_session_ttl_secs: self.auth.console_ttl.num_seconds(),
            login_max_failures_per_account: self.auth.max_failures_per_account,
            login_max_failures_per_client: self.auth.max_failures_per_client,
            login_failure_window_secs: self.auth.failure_window.num_seconds(),
            log_format: self.log_format,
        };
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

impl Settings {
    /// [`Settings::masked`] with, after each value, where it came from (`sources` as
    /// [`sources::Loaded`] gives them; a key in no source is a default).
    pub fn describe(&self, sources: &std::collections::BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut shown = std::collections::BTreeSet::new();
        for line in self.masked().lines() {
            let Some((key, _)) = line.split_once(" = ") else {
                out.push_str(line);
                out.push('\n');
                continue;
            };
            shown.insert(key.to_owned());
            // Lines that sum up several settings take the source of the one that decides.
            let lookup = match key {
                "smtp" => "smtp_host",
                "master_key" if !sources.contains_key("master_key") => "master_key_file",
                other => other,
            };
            let source = sources.get(lookup).map_or("default", String::as_str);
            out.push_str(&format!("{line}  # {source}\n"));
        }
        // Settings folded into a line above (smtp_port, support_email...), by name.
        let folded: Vec<_> = sources
            .iter()
            .filter(|(k, _)| !shown.contains(*k))
            .collect();
        if !folded.is_empty() {
            out.push_str("\n# also set (values above):\n");
            for (key, source) in folded {
                out.push_str(&format!("#   {key}: {source}\n"));
            }
        }
        out
    }
}

/// Checks `database_replica_url` against the primary's URL: replicas are PostgreSQL
/// standbys, so both must be PostgreSQL. The URL itself never appears in the error.
fn replica_url(
    database_url: &str,
    replica: Option<String>,
) -> Result<Option<SecretString>, ConfigError> {
    let Some(url) = replica.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let postgres = |u: &str| u.starts_with("postgres://") || u.starts_with("postgresql://");
    if !postgres(&url) {
        return Err(ConfigError::Invalid {
            key: "database_replica_url",
            message: "must be a postgres:// URL of a PostgreSQL hot standby".to_owned(),
        });
    }
    if !postgres(database_url) {
        return Err(ConfigError::Invalid {
            key: "database_replica_url",
            message: "read replicas need PostgreSQL, but database_url is SQLite: unset database_replica_url or move to PostgreSQL".to_owned(),
        });
    }
    Ok(Some(SecretString::from(url)))
}

/// Replaces the password of `scheme://user:password@host/...` with `********`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_no_source_sets() -> Result<(), ConfigError> {
        let flags = Layer {
            listen: Some("127.0.0.1:9000".into()),
            ..Layer::default()
        };
        let loaded = sources::load(
            None,
            [(
                "NEXTPANEL_BILL_ALLOW_REGISTRATION".to_owned(),
                "false".to_owned(),
            )],
            &flags,
        )?;
        let s = Settings::from_layer(loaded.layer)?;
        assert_eq!(s.listen.to_string(), "127.0.0.1:9000");
        assert!(!s.auth.allow_registration);
        assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        let shown = s.describe(&loaded.sources);
        assert!(
            shown.contains("listen = \"127.0.0.1:9000\"  # command-line flag"),
            "{shown}"
        );
        assert!(
            shown.contains(
                "allow_registration = false  # environment NEXTPANEL_BILL_ALLOW_REGISTRATION"
            ),
            "{shown}"
        );
        assert!(shown.contains("workers = 4  # default"), "{shown}");
        Ok(())
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<Layer>("lisen = \"x\"").is_err());
    }

    #[test]
    fn bad_values_are_named() {
        let err = Settings::from_layer(Layer {
            listen: Some("nope".into()),
            ..Layer::default()
        });
        assert!(matches!(
            err,
            Err(ConfigError::Invalid { key: "listen", .. })
        ));
        let err = Settings::from_layer(Layer {
            admin_password: Some("short".into()),
            ..Layer::default()
        });
        assert!(matches!(
            err,
            Err(ConfigError::Invalid {
                key: "admin_password",
                ..
            })
        ));
        let err = Settings::from_layer(Layer {
            database_url: Some("mysql://x".into()),
            ..Layer::default()
        });
        assert!(matches!(
            err,
            Err(ConfigError::Invalid {
                key: "database_url",
                ..
            })
        ));
    }

    #[test]
    fn a_replica_needs_postgresql_and_never_shows_its_password() -> Result<(), ConfigError> {
        for (primary, replica) in [
            ("sqlite://bill.db", "postgres://bill:s3cret@standby/bill"),
            (
                "postgres://bill@primary/bill",
                "mysql://bill:s3cret@standby/bill",
            ),
            (
                DEFAULT_DATABASE_URL,
                "postgresql://bill:s3cret@standby/bill",
            ),
        ] {
            let err = Settings::from_layer(Layer {
                database_url: Some(primary.into()),
                database_replica_url: Some(replica.into()),
                ..Layer::default()
            });
            let Err(e) = err else {
                panic!("{primary} with a replica {replica} was taken");
            };
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        key: "database_replica_url",
                        ..
                    }
                ),
                "{e:?}"
            );
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let s = Settings::from_layer(Layer {
            database_url: Some("postgres://bill:s3cret@primary/bill".into()),
            database_replica_url: Some("postgres://bill:s3cret@standby/bill".into()),
            ..Layer::default()
        })?;
        let shown = s.masked();
        assert!(
            shown.contains("database_replica_url = \"postgres://bill:********@standby/bill\""),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
        let none = Settings::from_layer(Layer::default())?;
        assert!(none.database_replica_url.is_none());
        assert!(none.masked().contains("database_replica_url = \"(not set"));
        Ok(())
    }

    #[test]
    fn masking_hides_passwords() -> Result<(), ConfigError> {
        assert_eq!(
            mask_url_password("postgres://bill:s3cret@db:5432/bill"),
            "postgres://bill:********@db:5432/bill"
        );
        assert_eq!(
            mask_url_password("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        let s = Settings::from_layer(Layer {
            database_url: Some("postgres://bill:s3cret@db/bill".into()),
            admin_password: Some("very-secret-password".into()),
            master_key: Some("ab".repeat(32)),
            ..Layer::default()
        })?;
        let shown = s.masked();
        assert!(!shown.contains("s3cret"));
        assert!(!shown.contains("very-secret-password"));
        assert!(!shown.contains(&"ab".repeat(32)));
        assert!(shown.contains("listen = \"127.0.0.1:8001\""));
        Ok(())
    }
}
