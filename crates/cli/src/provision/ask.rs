//! The interactive questions of `provision`, asked only on a terminal and all before the
//! first write. A flag given on the command line is taken as the answer.

use dialoguer::{Confirm, Input, Password, Select};
use serde_json::Value;

use super::choices::{check_placement, pick_cycle, usable_servers};
use super::{resume, Choices, ProvisionArgs};
use crate::client::Client;
use crate::commands::{customers, prompt_error};
use crate::output::{money, plan_prices, text};

/// Asks for every answer missing from the flags.
pub async fn ask(
    client: &mut Client,
    args: &ProvisionArgs,
    plans: &[Value],
    servers: &[Value],
) -> anyhow::Result<Choices> {
    let usable: Vec<&Value> = servers
        .iter()
        .filter(|s| {
            s["is_active"].as_bool() == Some(true)
                && s["is_online"].as_bool() == Some(true)
                && s["available_slots"].as_i64().unwrap_or(0) > 0
        })
        .collect();
    if servers.is_empty() {
        anyhow::bail!("no NextPanel servers yet; add one with `nextpanel-bill servers add --name NAME --base-url URL --api-key KEY --api-secret-stdin`");
    }
    eprintln!("Servers:");
    eprint!("{}", crate::commands::servers::table(servers).render(false));
    if usable.is_empty() {
        anyhow::bail!("no server can take an account now (all disabled, offline or full); see `nextpanel-bill servers status`");
    }
    if plans.is_empty() {
        anyhow::bail!("no plans on sale; create one first");
    }

    let email = match &args.email {
        Some(e) => e.clone(),
        None => Input::<String>::new()
            .with_prompt("Customer email")
            .validate_with(|e: &String| {
                if e.contains('@') && !e.starts_with('@') && !e.ends_with('@') {
                    Ok(())
                } else {
                    Err("an email address, like ann@example.com")
                }
            })
            .interact_text()
            .map_err(prompt_error)?,
    };
    let customer = customers::find_by_email(client, &email).await?;
    if let Some(existing) = &customer {
        let reuse = Confirm::new()
            .with_prompt(format!(
                "Customer {} ({}) exists. Use it?",
                text(&existing["id"]),
                text(&existing["full_name"])
            ))
            .default(true)
            .interact()
            .map_err(prompt_error)?;
        if !reuse {
            anyhow::bail!("cancelled: the email belongs to that customer; use another email");
        }
    }
    let (mut name, mut company, mut customer_password, mut generated) =
        (args.name.clone(), args.company.clone(), None, false);
    if customer.is_none() {
        if name.is_none() {
            name = Some(
                Input::<String>::new()
                    .with_prompt("Full name")
                    .interact_text()
                    .map_err(prompt_error)?,
            );
        }
        if company.is_none() {
            let c: String = Input::new()
                .with_prompt("Company (optional)")
                .allow_empty(true)
                .interact_text()
                .map_err(prompt_error)?;
            company = (!c.trim().is_empty()).then_some(c);
        }
        customer_password = args.customer_password.clone();
        if customer_password.is_none() {
            let p = Password::new()
                .with_prompt("Customer portal password (empty: generate one)")
                .allow_empty_password(true)
                .interact()
                .map_err(prompt_error)?;
            if p.is_empty() {
                customer_password = Some(resume::generate_password(16)?);
                generated = true;
            } else {
                customer_password = Some(p);
            }
        }
    }

    let plan = match &args.plan {
        Some(p) => crate::commands::find_plan(client, p).await?,
        None => {
            let items: Vec<String> = plans
                .iter()
                .map(|p| format!("{}  {}", text(&p["name"]), plan_prices(p)))
                .collect();
            let i = Select::new()
                .with_prompt("Plan")
                .items(&items)
                .default(0)
                .interact()
                .map_err(prompt_error)?;
            plans.get(i).cloned().unwrap_or(Value::Null)
        }
    };
    let cycle = match &args.cycle {
        Some(c) => pick_cycle(&plan, Some(c))?,
        None => {
            let offered: Vec<&str> = ["monthly", "quarterly", "semiannual", "annual"]
                .into_iter()
                .filter(|c| plan["prices"][*c].is_i64())
                .collect();
            if offered.len() <= 1 {
                pick_cycle(&plan, None)?
            } else {
                let currency = plan["currency"].as_str().unwrap_or("");
                let items: Vec<String> = offered
                    .iter()
                    .map(|c| {
                        format!(
                            "{c}  {}",
                            money(plan["prices"][*c].as_i64().unwrap_or(0), currency)
                        )
                    })
                    .collect();
                let i = Select::new()
                    .with_prompt("Billing cycle")
                    .items(&items)
                    .default(0)
                    .interact()
                    .map_err(prompt_error)?;
                offered.get(i).copied().unwrap_or("monthly").to_owned()
            }
        }
    };

    let mut username = match &args.username {
        Some(u) => {
            resume::check_username(u).map_err(|why| anyhow::anyhow!("--username {u:?}: {why}"))?;
            u.clone()
        }
        None => ask_username()?,
    };
    let hosting_password = match &args.hosting_password {
        Some(p) => Some(p.clone()),
        None => {
            let p = Password::new()
                .with_prompt("Hosting password (empty: generate one, shown once)")
                .allow_empty_password(true)
                .interact()
                .map_err(prompt_error)?;
            (!p.is_empty()).then_some(p)
        }
    };

    let server = match args.server.as_deref() {
        Some("auto") => None,
        Some(wanted) => Some(crate::commands::servers::find(client, wanted).await?),
        None => {
            let mut items = vec!["auto (the least used usable server)".to_owned()];
            let usable = usable_servers(&plan, servers);
            items.extend(usable.iter().map(|s| {
                format!(
                    "{}  {}  {}/{} accounts, {}",
                    text(&s["name"]),
                    text(&s["location"]),
                    text(&s["current_accounts"]),
                    text(&s["capacity"]),
                    if s["is_online"].as_bool() == Some(true) {
                        "online"
                    } else {
                        "offline"
                    }
                )
            }));
            let i = Select::new()
                .with_prompt("Server")
                .items(&items)
                .default(0)
                .interact()
                .map_err(prompt_error)?;
            i.checked_sub(1)
                .and_then(|i| usable.get(i))
                .map(|s| (*s).clone())
        }
    };

    // Checked after the server is known, since a username is only taken per server.
    loop {
        match check_placement(client, &username, &plan, server.as_ref(), servers).await {
            Ok(()) => break,
            Err(e) if args.username.is_none() => {
                eprintln!("{e:#}");
                username = ask_username()?;
            }
            Err(e) => return Err(e),
        }
    }

    Ok(Choices {
        email,
        customer,
        name,
        company,
        customer_password,
        customer_password_generated: generated,
        plan,
        cycle,
        username,
        hosting_password,
        server,
    })
}

/// Asks for a hosting username, checking the rules as it is typed.
fn ask_username() -> anyhow::Result<String> {
    Input::<String>::new()
        .with_prompt("Hosting username (3-32 of a-z0-9, starting with a letter)")
        .validate_with(|u: &String| resume::check_username(u))
        .interact_text()
        .map_err(prompt_error)
}
