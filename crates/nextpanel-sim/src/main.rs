//! The `nextpanel-sim` command line: parses flags into a [`SimConfig`] and
//! serves until Ctrl-C. Everything else lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use nextpanel_sim::{config, Credential, Faults, OfflineMode, PermissionLevel, SimConfig};

const LONG_ABOUT: &str = "\
A NextPanel hosting control-panel server for tests, demos and rehearsals.

It speaks the billing API of shared/nextpanel-api.md over real HTTP: health,
list/create/get/suspend/unsuspend/delete/stats of hosting accounts, and the
extensions idempotency, lookup, package and password (advertised in
GET /api/health unless --baseline). Credentials carry a permission level
(billing = full, read_only = GET only) and an optional IP allow-list, and
errors use the exact detail texts of deployed servers.

Sim-only endpoints create databases, domains and email accounts inside an
account (POST /api/v1/billing/accounts/{id}/databases {\"name\": \"..\",
\"license_key\": \"..\"}); with --billing-url they first ask nextpanel-bill to
validate the license (POST /api/v1/licenses/validate, HMAC-signed with the
first credential) and report usage afterwards.

Faults (latency, random 5xx, hanging requests, offline, lost responses,
baseline) are set by flags at start and changed at run time with
POST /_sim/faults. The control API under /_sim needs
'Authorization: Bearer <control token>':
  GET  /_sim/state                      accounts with their resources
  GET  /_sim/stats                      request counts per endpoint, creates_performed
  GET  /_sim/faults, POST /_sim/faults  read / patch fault settings
  POST /_sim/reset                      clear accounts, counters, faults back to start-up
  POST /_sim/credentials/revoke         {\"api_key\": \"npk_...\"}
  POST /_sim/credentials/unrevoke       {\"api_key\": \"npk_...\"}
  GET|POST /_sim/license-callback       {\"billing_url\": \"http://...\" | null}
  POST /_sim/accounts/{id}/usage        {\"extra_storage_bytes\", \"ssl_certificates\",
                                         \"last_login\", \"created_at\"}

A random API key pair and control token are generated and printed when not
given. Log level: RUST_LOG (default info); secrets are never logged.";

const AFTER_HELP: &str = "\
Examples:
  nextpanel-sim
  nextpanel-sim --listen 0.0.0.0:3000 --api-key npk_... --api-secret nps_... --control-token t0ken
  nextpanel-sim --credential npk_ro...:nps_ro...:read_only:10.0.0.0/8,127.0.0.1
  nextpanel-sim --baseline --state /tmp/panel1.json
  nextpanel-sim --billing-url http://127.0.0.1:8080 --latency-ms 200 --jitter-ms 100 --error-rate 0.05
  curl -H 'Authorization: Bearer t0ken' -d '{\"offline\": true}' http://127.0.0.1:3000/_sim/faults";

/// Command-line flags of `nextpanel-sim`.
#[derive(Debug, Parser)]
#[command(name = "nextpanel-sim", version, about, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:3000", env = "NEXTPANEL_SIM_LISTEN")]
    listen: SocketAddr,

    /// API key of the main full-access credential (npk_ + 43 base64url chars).
    #[arg(long, env = "NEXTPANEL_SIM_API_KEY", requires = "api_secret")]
    api_key: Option<String>,

    /// API secret of the main credential (nps_ + 64 base64url chars); also signs license callbacks.
    #[arg(
        long,
        env = "NEXTPANEL_SIM_API_SECRET",
        hide_env_values = true,
        requires = "api_key"
    )]
    api_secret: Option<String>,

    /// Another accepted credential, KEY:SECRET:LEVEL[:IP,IP/NN,...]; LEVEL is billing or read_only. Repeatable.
    #[arg(long = "credential", value_name = "KEY:SECRET:LEVEL[:ALLOWED_IPS]", value_parser = Credential::parse_spec)]
    credentials: Vec<Credential>,

    /// Bearer token for the /_sim control API (random and printed when not given).
    #[arg(long, env = "NEXTPANEL_SIM_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,

    /// Behave like a deployed server: advertise and honour no extensions.
    #[arg(long)]
    baseline: bool,

    /// JSON file holding the state: loaded at start, rewritten atomically after each change.
    #[arg(long = "state", value_name = "PATH")]
    state_file: Option<PathBuf>,

    /// nextpanel-bill base URL to validate licenses against before creating databases, domains, mailboxes.
    #[arg(long, value_name = "URL")]
    billing_url: Option<String>,

    /// Fixed delay added to every /api answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,

    /// Random extra delay of up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,

    /// Probability (0.0 to 1.0) that an /api call fails with 500 or 503 without doing anything.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    error_rate: f64,

    /// Hold every /api request for --hang-ms, then answer 504 without doing anything.
    #[arg(long)]
    timeout: bool,

    /// How long --timeout holds a request, in milliseconds.
    #[arg(long, default_value_t = nextpanel_sim::faults::DEFAULT_HANG_MS)]
    hang_ms: u64,

    /// Start offline: /api answers 503 (or closes connections with --offline-mode refuse).
    #[arg(long)]
    offline: bool,

    /// How an offline simulator refuses.
    #[arg(long, value_enum, default_value_t = OfflineMode::Unavailable)]
    offline_mode: OfflineMode,

    /// Perform every write, then close the connection without answering.
    #[arg(long)]
    lost_response: bool,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("must be between 0.0 and 1.0".to_owned())
    }
}

impl Cli {
    /// Builds the config; the second value lists generated secrets to print once.
    fn into_config(self) -> std::io::Result<(SimConfig, Vec<String>)> {
        let mut generated = Vec::new();
        let mut credentials = Vec::new();
        match (self.api_key, self.api_secret) {
            (Some(key), Some(secret)) => credentials.push(Credential::billing(key, secret)),
            _ if self.credentials.is_empty() => {
                let credential = Credential::generate(PermissionLevel::Billing)?;
                generated.push(format!("API key:       {}", credential.api_key));
                generated.push(format!("API secret:    {}", credential.api_secret));
                credentials.push(credential);
            }
            _ => {}
        }
        credentials.extend(self.credentials);
        let control_token = match self.control_token {
            Some(token) => token,
            None => {
                let token = config::random_token()?;
                generated.push(format!("control token: {token}"));
                token
            }
        };
        let faults = Faults {
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            error_rate: self.error_rate,
            timeout: self.timeout,
            hang_ms: self.hang_ms,
            offline: self.offline,
            offline_mode: self.offline_mode,
            lost_response: self.lost_response,
            baseline: self.baseline,
        };
        let config = SimConfig {
            credentials,
            control_token,
            faults,
            state_file: self.state_file,
            billing_url: self.billing_url,
        };
        Ok((config, generated))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let listen = cli.listen;
    let (config, generated) = match cli.into_config() {
        Ok(built) => built,
        Err(error) => {
            eprintln!("nextpanel-sim: {error}");
            return ExitCode::FAILURE;
        }
    };
    for credential in &config.credentials {
        if !credential.has_standard_format() {
            tracing::warn!(api_key = %credential.api_key, "credential does not have the npk_/nps_ format of real servers");
        }
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("nextpanel-sim: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener.local_addr().map_or(listen, |a| a);
    // Printed on stdout, once, so scripts can pick them up; never logged.
    println!("nextpanel-sim listening on http://{addr}");
    for line in &generated {
        println!("{line}");
    }
    tracing::info!(%addr, baseline = config.faults.baseline, state_file = ?config.state_file, "started");
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match nextpanel_sim::serve_with_shutdown(listener, config, ctrl_c).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nextpanel-sim: {error}");
            ExitCode::FAILURE
        }
    }
}
