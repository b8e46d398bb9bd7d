//! `accounts list|show|suspend|unsuspend|terminate|change-plan|password|retry`:
//! hosting accounts' lifecycle.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{query, Client};
use crate::output::{items, print_json, print_page, text, Table};

/// What to do with hosting accounts.
#[derive(Subcommand)]
pub enum AccountsCommand {
    /// List hosting accounts, newest first.
    #[command(
        after_help = "Example:\n  nextpanel-bill accounts list --state suspended --server 2"
    )]
    List {
        /// Only accounts in this state.
        #[arg(long, value_parser = ["pending", "provisioning", "active", "suspended", "terminated", "failed"])]
        state: Option<String>,
        /// Only this customer's accounts (customer id).
        #[arg(long)]
        customer: Option<i64>,
        /// Only accounts on this server (server id).
        #[arg(long)]
        server: Option<i64>,
        /// Page number.
        #[arg(long)]
        page: Option<i64>,
        /// Items per page (1 to 200).
        #[arg(long)]
        per_page: Option<i64>,
    },
    /// Show one account.
    #[command(after_help = "Example:\n  nextpanel-bill accounts show 7 --json")]
    Show {
        /// Account id.
        id: i64,
    },
    /// Set a new hosting password (generated and shown once unless --password-stdin).
    #[command(
        after_help = "Examples:\n  nextpanel-bill accounts password 7\n  echo 'new-pass-2026' | nextpanel-bill accounts password 7 --password-stdin"
    )]
    Password {
        /// Account id.
        id: i64,
        /// Read the new password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Retry the provisioning of a failed account.
    #[command(after_help = "Example:\n  nextpanel-bill accounts retry 7")]
    Retry {
        /// Account id.
        id: i64,
    },
    /// Suspend an account on its panel.
    #[command(
        after_help = "Example:\n  nextpanel-bill accounts suspend 7 --reason 'unpaid invoice'"
    )]
    Suspend {
        /// Account id.
        id: i64,
        /// Why (kept with the account and in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Put a suspended account back in service.
    #[command(after_help = "Example:\n  nextpanel-bill accounts unsuspend 7")]
    Unsuspend {
        /// Account id.
        id: i64,
    },
    /// Remove an account from its panel (cannot be undone).
    #[command(after_help = "Example:\n  nextpanel-bill accounts terminate 7 --yes")]
    Terminate {
        /// Account id.
        id: i64,
        /// Do not ask for confirmation (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Move an account and its license to another plan.
    #[command(after_help = "Example:\n  nextpanel-bill accounts change-plan 7 --plan Business")]
    ChangePlan {
        /// Account id.
        id: i64,
        /// New plan, by id or name.
        #[arg(long)]
        plan: String,
    },
}

/// Prints an operation's outcome (`OperationResult`).
fn report(result: &Value, done: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(result);
    }
    let account = &result["account"];
    let job = &result["job"];
    if result["finished"].as_bool() == Some(true) {
        if job["state"].as_str() == Some("done") {
            println!(
                "account {} ({}) {done}; state: {}",
                text(&account["id"]),
                text(&account["username"]),
                text(&account["state"])
            );
        } else {
            anyhow::bail!(
                "account {} ({}): job {} {}: {}",
                text(&account["id"]),
                text(&account["username"]),
                text(&job["id"]),
                text(&job["state"]),
                text(&job["last_error"])
            );
        }
    } else {
        println!(
            "account {} ({}): job {} is still running (state: {}); follow it with `nextpanel-bill jobs list`",
            text(&account["id"]),
            text(&account["username"]),
            text(&job["id"]),
            text(&job["state"])
        );
    }
    Ok(())
}

/// Runs an `accounts` command.
pub async fn run(cmd: AccountsCommand, client: &mut Client, json: bool) -> anyhow::Result<()> {
    match cmd {
        AccountsCommand::List {
            state,
            customer,
            server,
            page,
            per_page,
        } => {
            let path = format!(
                "/api/v1/nextpanel/accounts{}",
                query(&[
                    ("state", state),
                    ("customer_id", customer.map(|c| c.to_string())),
                    ("server_id", server.map(|s| s.to_string())),
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
                "USERNAME",
                "CUSTOMER",
                "SERVER",
                "STATE",
                "NEXTPANEL ID",
                "CREATED",
            ]);
            for a in items(&list["items"]) {
                t.row(vec![
                    text(&a["id"]),
                    text(&a["username"]),
                    text(&a["customer_id"]),
                    text(&a["server_id"]),
                    text(&a["state"]),
                    text(&a["nextpanel_user_id"]),
                    text(&a["created_at"]),
                ]);
            }
            t.print("accounts");
            print_page(&list);
        }
        AccountsCommand::Show { id } => {
            let account = client
                .get(&format!("/api/v1/nextpanel/accounts/{id}"))
                .await?;
            if json {
                return print_json(&account);
            }
            let mut t = Table::new(&["FIELD", "VALUE"]);
            for field in [
                "id",
                "username",
                "state",
                "customer_id",
                "license_id",
                "server_id",
                "nextpanel_user_id",
                "account_type",
                "package_id",
                "suspend_reason",
                "failure_reason",
                "created_at",
                "updated_at",
            ] {
                t.row(vec![field.to_owned(), text(&account[field])]);
            }
            t.print("account");
        }
        AccountsCommand::Password { id, password_stdin } => {
            let body = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                json!({"password": line.trim_end_matches(['\r', '\n'])})
            } else {
                json!({})
            };
            let result = client
                .post(&format!("/api/v1/nextpanel/accounts/{id}/password"), &body)
                .await?;
            report(&result, "has a new password", json)?;
            if !json {
                if let Some(generated) = result["generated_password"].as_str() {
                    println!("new hosting password (shown once): {generated}");
                }
            }
        }
        AccountsCommand::Retry { id } => {
            let result = client
                .post(
                    &format!("/api/v1/nextpanel/accounts/{id}/retry"),
                    &json!({}),
                )
                .await?;
            report(&result, "provisioned", json)?;
        }
        AccountsCommand::Suspend { id, reason } => {
            let result = client
                .post(
                    &format!("/api/v1/nextpanel/accounts/{id}/suspend"),
                    &json!({"reason": reason}),
                )
                .await?;
            report(&result, "suspended", json)?;
        }
        AccountsCommand::Unsuspend { id } => {
            let result = client
                .post(
                    &format!("/api/v1/nextpanel/accounts/{id}/unsuspend"),
                    &json!({}),
                )
                .await?;
            report(&result, "unsuspended", json)?;
        }
        AccountsCommand::Terminate { id, yes } => {
            if !yes {
                if !super::interactive() {
                    anyhow::bail!(
                        "terminating removes the account and its data: confirm with --yes"
                    );
                }
                let account = client
                    .get(&format!("/api/v1/nextpanel/accounts/{id}"))
                    .await?;
                let sure = dialoguer::Confirm::new()
                    .with_prompt(format!(
                        "Terminate account {id} ({}) and delete its data on the panel?",
                        text(&account["username"])
                    ))
                    .default(false)
                    .interact()
                    .map_err(super::prompt_error)?;
                if !sure {
                    anyhow::bail!("cancelled: nothing was changed");
                }
            }
            let result = client
                .delete(&format!("/api/v1/nextpanel/accounts/{id}"))
                .await?;
            report(&result, "terminated", json)?;
        }
        AccountsCommand::ChangePlan { id, plan } => {
            let plan = super::find_plan(client, &plan).await?;
            let result = client
                .post(
                    &format!("/api/v1/nextpanel/accounts/{id}/change-plan"),
                    &json!({"plan_id": plan["id"]}),
                )
                .await?;
            report(
                &result,
                &format!("moved to plan {}", text(&plan["name"])),
                json,
            )?;
        }
    }
    Ok(())
}
