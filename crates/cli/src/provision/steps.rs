//! The writes of `provision`: customer, license, hosting account, each recorded in the resume
//! file as soon as it exists, then the wait for the account to become active.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{resume, step, Choices};
use crate::client::Client;
use crate::output::{items, text};
use resume::ResumeState;

/// How long to wait for the account to become active.
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs the steps that create things, recording each in the resume file.
pub async fn execute(
    client: &mut Client,
    c: &Choices,
    state: &mut ResumeState,
) -> anyhow::Result<Value> {
    // A resumed run may have been cut off right after the license was issued, before the
    // resume file recorded it: it reuses such a license instead of issuing a second one.
    let resuming = state.customer_id.is_some();
    // The customer: found before, or created now.
    step(2, &format!("customer {}", c.email));
    let customer_id = match (state.customer_id, &c.customer) {
        (Some(id), _) => id,
        (None, Some(existing)) => existing["id"].as_i64().context("customer without id")?,
        (None, None) => {
            let created = client
                .post(
                    "/api/v1/customers",
                    &json!({"email": c.email, "full_name": c.name, "company_name": c.company,
                        "password": c.customer_password}),
                )
                .await?;
            state.customer_created = true;
            created["id"]
                .as_i64()
                .context("the created customer has no id")?
        }
    };
    state.customer_id = Some(customer_id);
    save(state)?;

    step(
        3,
        &format!("license for plan {} ({})", text(&c.plan["name"]), c.cycle),
    );
    let unused = if resuming && state.license_id.is_none() {
        unused_license(client, customer_id, &c.plan, &c.cycle).await?
    } else {
        None
    };
    let license_id = match state.license_id.or(unused) {
        Some(id) => {
            state.license_id = Some(id);
            save(state)?;
            id
        }
        None => {
            let license = client
                .post(
                    &format!("/api/v1/customers/{customer_id}/licenses"),
                    &json!({"plan_id": c.plan["id"], "billing_cycle": c.cycle}),
                )
                .await?;
            let id = license["id"].as_i64().context("the license has no id")?;
            state.license_id = Some(id);
            save(state)?;
            id
        }
    };

    step(4, &format!("hosting account {}", c.username));
    let mut body =
        json!({"customer_id": customer_id, "username": c.username, "license_id": license_id});
    if let Some(id) = state.server_id {
        body["server_id"] = json!(id);
    }
    if let Some(p) = &c.hosting_password {
        body["password"] = json!(p);
    }
    let answer = client
        .send(
            Method::POST,
            "/api/v1/nextpanel/provision",
            Some(&body),
            &[("Idempotency-Key", state.idempotency_key.as_str())],
        )
        .await?;
    let provisioned = answer.body;
    let account_id = provisioned["id"]
        .as_i64()
        .context("the provision answer has no account id")?;
    state.account_id = Some(account_id);
    save(state)?;

    step(5, "waiting for the account to become active");
    let account = if answer.status == StatusCode::CREATED {
        provisioned.clone()
    } else {
        if provisioned["state"].as_str() == Some("failed") {
            // A repeated call found the account of an earlier, failed attempt: try it again.
            client
                .post(
                    &format!("/api/v1/nextpanel/accounts/{account_id}/retry"),
                    &json!({}),
                )
                .await?;
        }
        let status_url = provisioned["status_url"].as_str().map_or(
            format!("/api/v1/nextpanel/accounts/{account_id}"),
            str::to_owned,
        );
        wait_active(client, &status_url).await?
    };

    let server_name = match account["server_id"].as_i64() {
        Some(id) => crate::commands::servers::find(client, &id.to_string())
            .await
            .map(|s| s["name"].clone())
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    let mut summary = json!({
        "customer_id": customer_id,
        "customer_created": state.customer_created,
        "email": c.email,
        "license_id": license_id,
        "license_key": provisioned["license_key"],
        "plan_id": c.plan["id"],
        "plan": c.plan["name"],
        "billing_cycle": c.cycle,
        "server_id": account["server_id"],
        "server": server_name,
        "panel_url": provisioned["panel_url"],
        "account_id": account_id,
        "username": account["username"],
        "nextpanel_user_id": account["nextpanel_user_id"],
        "state": account["state"],
        "welcome_email": "queued",
    });
    if state.customer_created && c.customer_password_generated {
        summary["customer_password"] = json!(c.customer_password);
    }
    if let Some(p) = provisioned["generated_password"].as_str() {
        summary["hosting_password"] = json!(p);
    } else if c.hosting_password.is_none() {
        // A repeated call does not show the password again: say how to set one.
        summary["hosting_password_note"] = json!(format!(
            "generated by an earlier attempt and not shown again; set a new one with POST /api/v1/nextpanel/accounts/{account_id}/password"
        ));
    }
    Ok(summary)
}

/// Saves progress; a run that created nothing leaves no file behind.
fn save(state: &ResumeState) -> anyhow::Result<()> {
    if state.created_anything() {
        resume::save(state)
    } else {
        Ok(())
    }
}

/// Polls the account until it is active (or failed, or the deadline passes).
async fn wait_active(client: &mut Client, status_url: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let account = client.get(status_url).await?;
        match account["state"].as_str() {
            Some("active") => return Ok(account),
            Some("failed") => anyhow::bail!(
                "provisioning failed: {}",
                text(&account["failure_reason"])
            ),
            _ if Instant::now() >= deadline => anyhow::bail!(
                "the account is still {} after {} seconds; check again later with `nextpanel-bill provision --resume`",
                text(&account["state"]),
                DEADLINE.as_secs()
            ),
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// An active license of `plan` and `cycle` of the customer that no live hosting account uses.
async fn unused_license(
    client: &mut Client,
    customer_id: i64,
    plan: &Value,
    cycle: &str,
) -> anyhow::Result<Option<i64>> {
    let licenses = client
        .get(&format!(
            "/api/v1/customers/{customer_id}/licenses?per_page=200"
        ))
        .await?;
    let accounts = client
        .get(&format!(
            "/api/v1/nextpanel/accounts?customer_id={customer_id}&per_page=200"
        ))
        .await?;
    let used: Vec<i64> = items(&accounts["items"])
        .iter()
        // Failed and terminated accounts hold no slot of their license.
        .filter(|a| {
            ["pending", "provisioning", "active", "suspended"]
                .iter()
                .any(|s| a["state"] == *s)
        })
        .filter_map(|a| a["license_id"].as_i64())
        .collect();
    Ok(items(&licenses["items"])
        .iter()
        .filter(|l| {
            l["plan_id"] == plan["id"] && l["status"] == "active" && l["billing_cycle"] == cycle
        })
        .filter_map(|l| l["id"].as_i64())
        .find(|id| !used.contains(id)))
}
