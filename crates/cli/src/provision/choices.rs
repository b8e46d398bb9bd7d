//! The answers of `provision`: from the flags (unattended), the terminal (see `ask`) or the
//! resume file, all checked against the API before anything is written.

use serde_json::Value;

use super::{ask, resume, Choices, ProvisionArgs};
use crate::client::Client;
use crate::commands::{customers, find_plan, interactive};
use crate::output::text;
use resume::ResumeState;

/// Reads every answer from the flags, asking on a terminal for what is missing.
pub async fn gather(client: &mut Client, args: &ProvisionArgs) -> anyhow::Result<Choices> {
    let plans = client.get("/api/v1/plans").await?;
    let plans = plans.as_array().cloned().unwrap_or_default();
    let servers = client.get("/api/v1/nextpanel/servers").await?;
    let servers = servers.as_array().cloned().unwrap_or_default();
    if interactive() && (args.email.is_none() || args.plan.is_none() || args.username.is_none()) {
        return ask::ask(client, args, &plans, &servers).await;
    }
    let missing: Vec<&str> = [
        ("--email", args.email.is_none()),
        ("--plan", args.plan.is_none()),
        ("--username", args.username.is_none()),
        ("--yes", !args.yes),
    ]
    .iter()
    .filter_map(|(flag, gone)| gone.then_some(*flag))
    .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "missing {} (no terminal to ask on; see `nextpanel-bill provision --help`)",
            missing.join(", ")
        );
    }
    let email = args.email.clone().unwrap_or_default();
    let username = args.username.clone().unwrap_or_default();
    resume::check_username(&username)
        .map_err(|why| anyhow::anyhow!("--username {username:?}: {why}"))?;
    let plan = find_plan(client, args.plan.as_deref().unwrap_or_default()).await?;
    let cycle = pick_cycle(&plan, args.cycle.as_deref())?;
    let server = match args.server.as_deref() {
        None | Some("auto") => None,
        Some(wanted) => Some(crate::commands::servers::find(client, wanted).await?),
    };
    if servers.is_empty() {
        anyhow::bail!("no NextPanel servers yet; add one with `nextpanel-bill servers add`");
    }
    check_placement(client, &username, &plan, server.as_ref(), &servers).await?;
    let customer = customers::find_by_email(client, &email).await?;
    let (customer_password, generated) = new_customer_password(customer.as_ref(), args)?;
    if customer.is_none() && args.name.is_none() {
        anyhow::bail!("missing --name: there is no customer with email {email} yet");
    }
    Ok(Choices {
        email,
        customer,
        name: args.name.clone(),
        company: args.company.clone(),
        customer_password,
        customer_password_generated: generated,
        plan,
        cycle,
        username,
        hosting_password: args.hosting_password.clone(),
        server,
    })
}

/// Servers that can take a new account of `plan`: enabled, online, with a free slot, and
/// in the plan's location and group when it names them (as the server's own choice does).
pub fn usable_servers<'a>(plan: &Value, servers: &'a [Value]) -> Vec<&'a Value> {
    let matches = |wanted: &Value, have: &Value| wanted.is_null() || wanted == have;
    servers
        .iter()
        .filter(|s| {
            s["is_active"].as_bool() == Some(true)
                && s["is_online"].as_bool() == Some(true)
                && s["available_slots"].as_i64().unwrap_or(0) > 0
                && matches(&plan["location"], &s["location"])
                && matches(&plan["server_group"], &s["group"])
        })
        .collect()
}

/// Refuses before any write when the account could not be placed: the chosen server is
/// unusable, or the username is taken on it (or on every usable one). Otherwise a customer
/// and a license would be made for nothing.
pub async fn check_placement(
    client: &mut Client,
    username: &str,
    plan: &Value,
    pinned: Option<&Value>,
    servers: &[Value],
) -> anyhow::Result<()> {
    let mut taken_on = Vec::new();
    let first = "/api/v1/nextpanel/accounts?per_page=200";
    let mut path = first.to_owned();
    let mut page = 1;
    loop {
        let list = client.get(&path).await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        taken_on.extend(
            items
                .iter()
                .filter(|a| a["username"].as_str() == Some(username))
                .filter_map(|a| a["server_id"].as_i64()),
        );
        // By cursor, each request costs the same however many accounts came before it
        // (page numbers made the server skip them all again, and count them, each time).
        // A server older than the cursor answers no `next_after`: page numbers there.
        path = match list.get("next_after") {
            Some(next) => match next.as_i64() {
                Some(after) => format!("{first}&after={after}"),
                None => break,
            },
            None => {
                let total = list["total"].as_i64().unwrap_or(0);
                if items.is_empty() || page * 200 >= total {
                    break;
                }
                page += 1;
                format!("{first}&page={page}")
            }
        };
    }
    match pinned {
        Some(server) => {
            if usable_servers(plan, std::slice::from_ref(server)).is_empty() {
                anyhow::bail!(
                    "server {} cannot take an account of plan {} now (disabled, offline, full or outside the plan's location/group); see `nextpanel-bill servers status`",
                    text(&server["name"]),
                    text(&plan["name"])
                );
            }
            if server["id"]
                .as_i64()
                .is_some_and(|id| taken_on.contains(&id))
            {
                anyhow::bail!(
                    "the username {username:?} is already taken on server {}; choose another username",
                    text(&server["name"])
                );
            }
        }
        None => {
            let usable = usable_servers(plan, servers);
            if usable.is_empty() {
                anyhow::bail!(
                    "no server can take an account of plan {} now (all disabled, offline, full or outside its location/group); see `nextpanel-bill servers status`",
                    text(&plan["name"])
                );
            }
            if usable
                .iter()
                .all(|s| s["id"].as_i64().is_some_and(|id| taken_on.contains(&id)))
            {
                anyhow::bail!(
                    "the username {username:?} is already taken on every usable server; choose another username"
                );
            }
        }
    }
    Ok(())
}

/// The portal password of a new customer: the flag, else a generated one.
fn new_customer_password(
    customer: Option<&Value>,
    args: &ProvisionArgs,
) -> anyhow::Result<(Option<String>, bool)> {
    Ok(match (customer, &args.customer_password) {
        (Some(_), _) => (None, false),
        (None, Some(p)) => (Some(p.clone()), false),
        (None, None) => (Some(resume::generate_password(16)?), true),
    })
}

/// The wanted billing cycle if the plan offers it; else monthly or the plan's first.
pub fn pick_cycle(plan: &Value, wanted: Option<&str>) -> anyhow::Result<String> {
    let offered: Vec<&str> = ["monthly", "quarterly", "semiannual", "annual"]
        .into_iter()
        .filter(|c| plan["prices"][*c].is_i64())
        .collect();
    match wanted {
        Some(c) if offered.contains(&c) => Ok(c.to_owned()),
        Some(c) => anyhow::bail!(
            "plan {} has no {c} price; it offers: {}",
            text(&plan["name"]),
            offered.join(", ")
        ),
        None => offered
            .first()
            .map(|c| (*c).to_owned())
            .ok_or_else(|| anyhow::anyhow!("plan {} has no price", text(&plan["name"]))),
    }
}

/// The choices of an unfinished run, from its resume file (the server may be overridden).
pub async fn resumed_choices(
    client: &mut Client,
    args: &ProvisionArgs,
    state: &ResumeState,
) -> anyhow::Result<Choices> {
    let plan = find_plan(client, &state.plan_id.to_string()).await?;
    let server = match (args.server.as_deref(), state.server_id) {
        (Some("auto"), _) | (None, None) => None,
        (Some(wanted), _) => Some(crate::commands::servers::find(client, wanted).await?),
        (None, Some(id)) => Some(crate::commands::servers::find(client, &id.to_string()).await?),
    };
    let customer = match state.customer_id {
        Some(id) => Some(client.get(&format!("/api/v1/customers/{id}")).await?),
        None => customers::find_by_email(client, &state.email).await?,
    };
    let (customer_password, generated) = new_customer_password(customer.as_ref(), args)?;
    if customer.is_none() && args.name.is_none() {
        anyhow::bail!(
            "missing --name: the customer {} was not created before the failure",
            state.email
        );
    }
    Ok(Choices {
        email: state.email.clone(),
        customer,
        name: args.name.clone(),
        company: args.company.clone(),
        customer_password,
        customer_password_generated: generated,
        plan,
        cycle: state.billing_cycle.clone(),
        username: state.username.clone(),
        hosting_password: args.hosting_password.clone(),
        server,
    })
}
