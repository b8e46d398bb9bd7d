//! `plans list`: the hosting plans with their prices in major units.

use clap::Subcommand;

use crate::client::Client;
use crate::output::{items, plan_prices, print_json, text, Table};

/// What to do with plans.
#[derive(Subcommand)]
pub enum PlansCommand {
    /// List plans with prices (e.g. `9.99 USD/monthly`).
    #[command(after_help = "Example:\n  nextpanel-bill plans list --all")]
    List {
        /// Include retired plans.
        #[arg(long)]
        all: bool,
    },
}

/// Runs a `plans` command.
pub async fn run(cmd: PlansCommand, client: &mut Client, json: bool) -> anyhow::Result<()> {
    match cmd {
        PlansCommand::List { all } => {
            let path = if all {
                "/api/v1/plans?include_inactive=true"
            } else {
                "/api/v1/plans"
            };
            let plans = client.get(path).await?;
            if json {
                return print_json(&plans);
            }
            let mut t = Table::new(&["ID", "NAME", "PRICES", "SETUP", "ACCOUNTS", "ACTIVE"]);
            for p in items(&plans) {
                let currency = p["currency"].as_str().unwrap_or("");
                t.row(vec![
                    text(&p["id"]),
                    text(&p["name"]),
                    plan_prices(p),
                    crate::output::money(p["setup_fee"].as_i64().unwrap_or(0), currency),
                    match p["quotas"]["max_accounts"].as_i64() {
                        Some(-1) => "unlimited".to_owned(),
                        _ => text(&p["quotas"]["max_accounts"]),
                    },
                    text(&p["is_active"]),
                ]);
            }
            t.print("plans");
        }
    }
    Ok(())
}
