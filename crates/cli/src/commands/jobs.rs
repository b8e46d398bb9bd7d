//! `jobs list|retry`: the durable job queue.

use clap::Subcommand;
use serde_json::json;

use crate::client::{query, Client};
use crate::output::{items, print_json, print_page, text, Table};

/// What to do with jobs.
#[derive(Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    #[command(after_help = "Example:\n  nextpanel-bill jobs list --state dead")]
    List {
        /// Only jobs in this state.
        #[arg(long, value_parser = ["queued", "running", "done", "failed", "dead"])]
        state: Option<String>,
        /// Page number.
        #[arg(long)]
        page: Option<i64>,
        /// Items per page (1 to 200).
        #[arg(long)]
        per_page: Option<i64>,
    },
    /// Run a failed or dead job again.
    #[command(after_help = "Example:\n  nextpanel-bill jobs retry 42")]
    Retry {
        /// Job id.
        id: i64,
    },
}

/// Runs a `jobs` command.
pub async fn run(cmd: JobsCommand, client: &mut Client, json: bool) -> anyhow::Result<()> {
    match cmd {
        JobsCommand::List {
            state,
            page,
            per_page,
        } => {
            let path = format!(
                "/api/v1/jobs{}",
                query(&[
                    ("state", state),
                    ("page", page.map(|p| p.to_string())),
                    ("per_page", per_page.map(|p| p.to_string())),
                ])
            );
            let list = client.get(&path).await?;
            if json {
                return print_json(&list);
            }
            let mut t = Table::new(&[
                "ID",
                "KIND",
                "STATE",
                "ATTEMPTS",
                "ACCOUNT",
                "RUN AT",
                "LAST ERROR",
            ]);
            for j in items(&list["items"]) {
                t.row(vec![
                    text(&j["id"]),
                    text(&j["kind"]),
                    text(&j["state"]),
                    format!("{}/{}", text(&j["attempts"]), text(&j["max_attempts"])),
                    text(&j["hosting_account_id"]),
                    text(&j["run_at"]),
                    text(&j["last_error"]),
                ]);
            }
            t.print("jobs");
            print_page(&list);
        }
        JobsCommand::Retry { id } => {
            let job = client
                .post(&format!("/api/v1/jobs/{id}/retry"), &json!({}))
                .await?;
            if json {
                return print_json(&job);
            }
            println!("job {id} queued again (state: {})", text(&job["state"]));
        }
    }
    Ok(())
}
