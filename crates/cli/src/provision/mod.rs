//! `nextpanel-bill provision`: customer, license and hosting account in one go.
//!
//! Every question is asked (or read from a flag) before the first write, so Ctrl-C at a
//! prompt creates nothing. Each step that creates something is recorded in the resume file;
//! `--resume` skips what exists and repeats the provision call with the same idempotency
//! key, so the account cannot be created twice.

mod ask;
mod choices;
mod report;
pub mod resume;
mod steps;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use serde_json::Value;

use crate::client::Client;
use crate::commands::interactive;
use crate::output::{print_json, text};
use resume::ResumeState;

/// Examples shown by `provision --help`.
pub const EXAMPLES: &str = "Examples:
  nextpanel-bill provision                      (asks for everything on a terminal)
  nextpanel-bill provision --email ann@example.com --name 'Ann Lee' --plan Starter \\
      --cycle monthly --username annlee --server auto --yes --json
  nextpanel-bill provision --resume --yes       (continue after a failure)";

/// Flags of `provision`; each answers one question of the interactive mode.
#[derive(Args)]
pub struct ProvisionArgs {
    /// Customer email (an existing customer with it is reused).
    #[arg(long)]
    pub email: Option<String>,
    /// Customer's full name (for a new customer).
    #[arg(long)]
    pub name: Option<String>,
    /// Customer's company (for a new customer).
    #[arg(long)]
    pub company: Option<String>,
    /// Portal password of a new customer [default: generated and shown once].
    #[arg(long, env = "NEXTPANEL_BILL_CUSTOMER_PASSWORD", hide_env_values = true)]
    pub customer_password: Option<String>,
    /// Plan, by id or name.
    #[arg(long)]
    pub plan: Option<String>,
    /// Billing cycle [default: monthly, or the plan's first].
    #[arg(long, value_parser = ["monthly", "quarterly", "semiannual", "annual"])]
    pub cycle: Option<String>,
    /// Hosting username: 3 to 32 of a-z0-9, starting with a letter.
    #[arg(long)]
    pub username: Option<String>,
    /// Hosting password (12+ characters with a letter and a digit) [default: generated and shown once].
    #[arg(long, env = "NEXTPANEL_BILL_HOSTING_PASSWORD", hide_env_values = true)]
    pub hosting_password: Option<String>,
    /// Server: id, name, or `auto` (the least used usable one) [default: auto].
    #[arg(long)]
    pub server: Option<String>,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Continue the last provisioning that failed mid-way.
    #[arg(long)]
    pub resume: bool,
}

/// Everything decided before the first write.
pub struct Choices {
    /// Customer email.
    pub email: String,
    /// The existing customer, when there is one.
    pub customer: Option<Value>,
    /// Full name of a new customer.
    pub name: Option<String>,
    /// Company of a new customer.
    pub company: Option<String>,
    /// Portal password of a new customer.
    pub customer_password: Option<String>,
    /// Whether that password was generated here (and so must be shown).
    pub customer_password_generated: bool,
    /// The plan.
    pub plan: Value,
    /// Billing cycle.
    pub cycle: String,
    /// Hosting username.
    pub username: String,
    /// Hosting password; `None` lets the server generate one.
    pub hosting_password: Option<String>,
    /// The server; `None` is auto.
    pub server: Option<Value>,
}

/// Set just before the first write: from then on an interruption may leave records behind.
static WRITING: AtomicBool = AtomicBool::new(false);

/// Handles Ctrl-C ourselves so the terminal gets its cursor back (a prompt may have hidden
/// it) and the user learns what the interruption left: nothing before the first write, a
/// resumable run after it.
fn handle_ctrl_c() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            if std::io::stderr().is_terminal() {
                eprint!("\x1b[?25h");
            }
            if WRITING.load(Ordering::SeqCst) {
                eprintln!("\ninterrupted: what was created so far is kept; continue with `nextpanel-bill provision --resume`");
            } else {
                eprintln!("\ncancelled: nothing was created");
            }
            std::process::exit(130);
        }
    });
}

/// Prints a step on stderr (stdout stays for the summary and `--json`).
fn step(n: usize, what: &str) {
    eprintln!("[{n}/5] {what}");
}

/// Runs `provision`.
pub async fn run(args: ProvisionArgs, client: &mut Client, json: bool) -> anyhow::Result<()> {
    handle_ctrl_c();
    let pending = resume::load()?;
    let state = match (args.resume, pending) {
        (true, Some(state)) => Some(state),
        (true, None) => anyhow::bail!("there is no unfinished provisioning to resume"),
        (false, Some(state)) => anyhow::bail!(
            "an unfinished provisioning of {:?} is waiting: continue it with `nextpanel-bill provision --resume`, or remove {} to start over",
            state.username,
            resume::path()?.display()
        ),
        (false, None) => None,
    };

    step(
        1,
        &format!("checking nextpanel-bill at {}", client.base_url()),
    );
    preflight(client).await?;

    let (choices, mut state) = match state {
        Some(state) => (
            choices::resumed_choices(client, &args, &state).await?,
            state,
        ),
        None => {
            let choices = choices::gather(client, &args).await?;
            let state = ResumeState {
                idempotency_key: resume::new_key()?,
                email: choices.email.clone(),
                username: choices.username.clone(),
                plan_id: choices.plan["id"].as_i64().unwrap_or(0),
                billing_cycle: choices.cycle.clone(),
                server_id: choices.server.as_ref().and_then(|s| s["id"].as_i64()),
                ..ResumeState::default()
            };
            (choices, state)
        }
    };
    if let Some(server) = &choices.server {
        state.server_id = server["id"].as_i64();
    }

    eprint!("{}", report::review(&choices));
    if !args.yes {
        if !interactive() {
            anyhow::bail!("missing --yes: confirm the provisioning (no terminal to ask on)");
        }
        let go = dialoguer::Confirm::new()
            .with_prompt("Create all this?")
            .default(true)
            .interact()
            .map_err(crate::commands::prompt_error)?;
        if !go {
            anyhow::bail!("cancelled: nothing was created");
        }
    }

    WRITING.store(true, Ordering::SeqCst);
    match steps::execute(client, &choices, &mut state).await {
        Ok(summary) => {
            resume::clear()?;
            if json {
                print_json(&summary)
            } else {
                report::print_summary(&summary);
                Ok(())
            }
        }
        Err(e) => {
            report::report_partial(&choices, &state)?;
            Err(e)
        }
    }
}

/// Checks the server answers and we are logged in as an admin.
async fn preflight(client: &mut Client) -> anyhow::Result<()> {
    let health = client.get("/health").await?;
    if health["status"].as_str() != Some("healthy") {
        anyhow::bail!(
            "nextpanel-bill at {} is not healthy (database: {})",
            client.base_url(),
            text(&health["database"])
        );
    }
    let me = client.get("/api/v1/auth/me").await?;
    if me["role"].as_str() != Some("admin") {
        anyhow::bail!(
            "logged in as {} ({}): provisioning needs an admin",
            text(&me["email"]),
            text(&me["role"])
        );
    }
    Ok(())
}
