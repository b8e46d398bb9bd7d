//! What `provision` tells people: the review before the writes, what a failure left behind,
//! and the summary.

use serde_json::Value;

use super::{resume, Choices};
use crate::output::{money, text};
use resume::ResumeState;

/// The review screen (no password in it).
pub fn review(c: &Choices) -> String {
    let customer = match &c.customer {
        Some(existing) => format!("{} (existing, id {})", c.email, text(&existing["id"])),
        None => format!(
            "{} (new: {}{})",
            c.email,
            c.name.as_deref().unwrap_or("-"),
            c.company
                .as_deref()
                .map_or(String::new(), |co| format!(", {co}"))
        ),
    };
    let price = c.plan["prices"][c.cycle.as_str()]
        .as_i64()
        .map_or("-".to_owned(), |p| {
            money(p, c.plan["currency"].as_str().unwrap_or(""))
        });
    let server = c
        .server
        .as_ref()
        .map_or("auto (least used usable server)".to_owned(), |s| {
            format!("{} (id {})", text(&s["name"]), text(&s["id"]))
        });
    format!(
        "\nReview:\n  customer:  {customer}\n  plan:      {} ({price} {})\n  username:  {}\n  password:  {}\n  server:    {server}\n\n",
        text(&c.plan["name"]),
        c.cycle,
        c.username,
        if c.hosting_password.is_some() {
            "as given"
        } else {
            "generated, shown once at the end"
        },
    )
}

/// After a failure: what exists now, and how to continue.
pub fn report_partial(c: &Choices, state: &ResumeState) -> anyhow::Result<()> {
    if !state.created_anything() {
        resume::clear()?;
        eprintln!("nothing was created");
        return Ok(());
    }
    eprintln!("created before the failure:");
    if let (true, Some(id)) = (state.customer_created, state.customer_id) {
        eprintln!("  customer {id} ({})", c.email);
        if c.customer_password_generated {
            if let Some(p) = &c.customer_password {
                // Shown now because it is not stored anywhere and will not be shown again.
                eprintln!("    generated portal password: {p}");
            }
        }
    }
    if let Some(id) = state.license_id {
        eprintln!("  license {id}");
    }
    if let Some(id) = state.account_id {
        eprintln!("  hosting account {id} ({}), not active", c.username);
    }
    eprintln!("fix the cause, then continue with `nextpanel-bill provision --resume`");
    Ok(())
}

/// The summary for people.
pub fn print_summary(s: &Value) {
    println!("Provisioned:");
    let rows = [
        ("customer id", "customer_id"),
        ("email", "email"),
        ("portal password", "customer_password"),
        ("license key", "license_key"),
        ("plan", "plan"),
        ("billing cycle", "billing_cycle"),
        ("server", "server"),
        ("panel URL", "panel_url"),
        ("username", "username"),
        ("hosting password", "hosting_password"),
        ("NextPanel user id", "nextpanel_user_id"),
        ("welcome email", "welcome_email"),
    ];
    for (label, key) in rows {
        if s.get(key).is_some() {
            println!("  {label:<18} {}", text(&s[key]));
        }
    }
    if s.get("customer_password").is_some() || s.get("hosting_password").is_some() {
        println!("The generated passwords are shown only this once.");
    }
    if let Some(note) = s["hosting_password_note"].as_str() {
        println!("  hosting password:  {note}");
    }
}
