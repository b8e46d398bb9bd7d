//! `servers list|add|test|status|disable|enable`: the NextPanel servers accounts go to.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::Client;
use crate::output::{items, print_json, text, Table};

/// What to do with servers.
#[derive(Subcommand)]
pub enum ServersCommand {
    /// List servers with capacity and health.
    #[command(after_help = "Example:\n  nextpanel-bill servers list --json")]
    List,
    /// Register a NextPanel server (its connection is tested first unless --skip-test).
    #[command(
        after_help = "Example:\n  printf '%s\\n' \"$NP_SECRET\" | nextpanel-bill servers add --name web1 \\\n    --base-url https://panel1.example.com --api-key npk_... --api-secret-stdin --capacity 200"
    )]
    Add {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Base URL of the NextPanel API.
        #[arg(long)]
        base_url: String,
        /// API key (`npk_...`).
        #[arg(long)]
        api_key: String,
        /// API secret (`nps_...`); prefer --api-secret-stdin, which keeps it out of `ps`.
        #[arg(
            long,
            env = "NEXTPANEL_API_SECRET",
            hide_env_values = true,
            required_unless_present = "api_secret_stdin"
        )]
        api_secret: Option<String>,
        /// Read the API secret from the first line of standard input.
        #[arg(long, conflicts_with = "api_secret")]
        api_secret_stdin: bool,
        /// Accounts the server may hold.
        #[arg(long, default_value_t = 100)]
        capacity: i64,
        /// Location label, matched against plans.
        #[arg(long)]
        location: Option<String>,
        /// Group label, matched against plans.
        #[arg(long)]
        group: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Register without testing the connection.
        #[arg(long)]
        skip_test: bool,
    },
    /// Check a registered server now (by id or name).
    #[command(after_help = "Example:\n  nextpanel-bill servers test web1")]
    Test {
        /// Server id or name.
        server: String,
    },
    /// Health of every server as last seen by the monitor.
    #[command(after_help = "Example:\n  nextpanel-bill servers status")]
    Status,
    /// Stop placing new accounts on a server.
    #[command(after_help = "Example:\n  nextpanel-bill servers disable web1")]
    Disable {
        /// Server id or name.
        server: String,
    },
    /// Place new accounts on a server again.
    #[command(after_help = "Example:\n  nextpanel-bill servers enable web1")]
    Enable {
        /// Server id or name.
        server: String,
    },
}

/// Finds a server by id or by name.
pub async fn find(client: &mut Client, wanted: &str) -> anyhow::Result<Value> {
    let servers = client.get("/api/v1/nextpanel/servers").await?;
    let servers = servers.as_array().cloned().unwrap_or_default();
    let id = wanted.parse::<i64>().ok();
    servers
        .iter()
        .find(|s| id.is_some() && s["id"].as_i64() == id)
        .or_else(|| servers.iter().find(|s| s["name"].as_str() == Some(wanted)))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no server {wanted:?} (see `nextpanel-bill servers list`)"))
}

/// One table row per server.
pub fn table(servers: &[Value]) -> Table {
    let mut t = Table::new(&[
        "ID", "NAME", "URL", "LOCATION", "GROUP", "ACTIVE", "ONLINE", "ACCOUNTS", "USED",
    ]);
    for s in servers {
        t.row(vec![
            text(&s["id"]),
            text(&s["name"]),
            text(&s["base_url"]),
            text(&s["location"]),
            text(&s["group"]),
            text(&s["is_active"]),
            text(&s["is_online"]),
            format!("{}/{}", text(&s["current_accounts"]), text(&s["capacity"])),
            format!("{}%", text(&s["utilization_percent"])),
        ]);
    }
    t
}

fn describe(s: &Value) -> String {
    format!("server {} ({})", text(&s["id"]), text(&s["name"]))
}

/// Runs a `servers` command.
pub async fn run(cmd: ServersCommand, client: &mut Client, json: bool) -> anyhow::Result<()> {
    match cmd {
        ServersCommand::List => {
            let list = client.get("/api/v1/nextpanel/servers").await?;
            if json {
                return print_json(&list);
            }
            let servers = list.as_array().cloned().unwrap_or_default();
            if servers.is_empty() {
                println!("no servers yet; add one with `nextpanel-bill servers add --name NAME --base-url URL --api-key KEY --api-secret-stdin`");
            } else {
                table(&servers).print("servers");
            }
        }
        ServersCommand::Add {
            name,
            base_url,
            api_key,
            api_secret,
            api_secret_stdin,
            capacity,
            location,
            group,
            description,
            skip_test,
        } => {
            let secret = match api_secret {
                Some(s) if !api_secret_stdin => s,
                _ => super::read_stdin_line("API secret")?,
            };
            let body = json!({
                "name": name, "base_url": base_url, "api_key": api_key, "api_secret": secret,
                "capacity": capacity, "location": location, "group": group,
                "description": description, "skip_test": skip_test,
            });
            let server = client.post("/api/v1/nextpanel/servers", &body).await?;
            if json {
                return print_json(&server);
            }
            println!(
                "added {} at {}; online: {}",
                describe(&server),
                text(&server["base_url"]),
                text(&server["is_online"])
            );
        }
        ServersCommand::Test { server } => {
            let id = find(client, &server).await?["id"].clone();
            let checked = client
                .post(&format!("/api/v1/nextpanel/servers/{id}/check"), &json!({}))
                .await?;
            if json {
                return print_json(&checked);
            }
            if checked["is_online"].as_bool() == Some(true) {
                println!(
                    "{} is online (NextPanel {}, {} ms)",
                    describe(&checked),
                    text(&checked["version"]),
                    text(&checked["last_latency_ms"])
                );
            } else {
                anyhow::bail!(
                    "{} is offline: {}",
                    describe(&checked),
                    text(&checked["last_error"])
                );
            }
        }
        ServersCommand::Status => {
            let list = client.get("/api/v1/nextpanel/servers/status").await?;
            if json {
                return print_json(&list);
            }
            let mut t = Table::new(&[
                "ID", "NAME", "STATUS", "ACCOUNTS", "USED", "LATENCY", "CHECKED", "ERROR",
            ]);
            for s in items(&list) {
                t.row(vec![
                    text(&s["id"]),
                    text(&s["name"]),
                    text(&s["status"]),
                    format!("{}/{}", text(&s["current_accounts"]), text(&s["capacity"])),
                    format!("{}%", text(&s["utilization_percent"])),
                    s["last_latency_ms"]
                        .as_i64()
                        .map_or("-".to_owned(), |ms| format!("{ms} ms")),
                    text(&s["last_checked_at"]),
                    text(&s["last_error"]),
                ]);
            }
            t.print("servers");
        }
        ServersCommand::Disable { server } => switch(client, &server, "disable", json).await?,
        ServersCommand::Enable { server } => switch(client, &server, "enable", json).await?,
    }
    Ok(())
}

/// Disables or enables a server (`action` is the path segment).
async fn switch(client: &mut Client, server: &str, action: &str, json: bool) -> anyhow::Result<()> {
    let id = find(client, server).await?["id"].clone();
    let changed = client
        .post(
            &format!("/api/v1/nextpanel/servers/{id}/{action}"),
            &json!({}),
        )
        .await?;
    if json {
        return print_json(&changed);
    }
    println!("{} {action}d", describe(&changed));
    Ok(())
}
