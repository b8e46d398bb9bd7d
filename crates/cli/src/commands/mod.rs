//! The commands that talk to a running nextpanel-bill over its HTTP API.

pub mod accounts;
pub mod auth;
pub mod customers;
pub mod invoices;
pub mod jobs;
pub mod plans;
pub mod reports;
pub mod servers;

use std::io::{BufRead, IsTerminal};

/// Whether we may ask questions: stdin and stderr (where prompts go) are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Reads one line from stdin (for `--password-stdin` and friends), without its line end.
pub fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        anyhow::bail!("no {what} on standard input");
    }
    Ok(line)
}

/// The user stopped at a prompt (Ctrl-C): nothing was changed. `main` exits with 130 for it,
/// as a shell does for an interrupted command.
#[derive(Debug)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled: nothing was changed")
    }
}

impl std::error::Error for Cancelled {}

/// Turns a prompt failure into an error; Ctrl-C gives [`Cancelled`].
pub fn prompt_error(e: dialoguer::Error) -> anyhow::Error {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == std::io::ErrorKind::Interrupted {
        // A list prompt hides the cursor while it runs; give it back.
        if std::io::stderr().is_terminal() {
            eprintln!("\x1b[?25h");
        }
        anyhow::Error::new(Cancelled)
    } else {
        anyhow::Error::new(io).context("cannot read the answer from the terminal")
    }
}

/// Resolves a plan given by id or by name (case-insensitive) against `GET /api/v1/plans`.
pub async fn find_plan(
    client: &mut crate::client::Client,
    wanted: &str,
) -> anyhow::Result<serde_json::Value> {
    let plans = client.get("/api/v1/plans?include_inactive=true").await?;
    let plans = plans.as_array().cloned().unwrap_or_default();
    let id = wanted.parse::<i64>().ok();
    plans
        .iter()
        .find(|p| id.is_some() && p["id"].as_i64() == id)
        .or_else(|| {
            plans.iter().find(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            })
        })
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = plans.iter().filter_map(|p| p["name"].as_str()).collect();
            anyhow::anyhow!(
                "no plan {wanted:?}; the plans are: {}",
                if names.is_empty() {
                    "none yet".to_owned()
                } else {
                    names.join(", ")
                }
            )
        })
}
