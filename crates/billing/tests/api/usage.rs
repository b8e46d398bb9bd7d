//! Usage polling: panel figures become per-license usage, and quota messages go out
//! once at 80 % and once at 100 %.

use nextpanel_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{SmtpSink, TestApp};

async fn add_database(
    sim: &nextpanel_sim::SimHandle,
    panel_id: &str,
    name: &str,
    license_key: &str,
) {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/billing/accounts/{panel_id}/databases",
            sim.base_url()
        ))
        .header("X-API-Key", sim.api_key())
        .header("X-API-Secret", sim.api_secret())
        .json(&json!({"name": name, "license_key": license_key}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

/// What the license's detail says is in use, as an admin reads it.
async fn used(app: &TestApp, admin: &str, license: &Value, resource: &str) -> Value {
    let (status, detail) = app
        .get(&format!("/api/v1/licenses/{license}"), Some(admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    detail["usage"][resource].clone()
}

#[tokio::test]
async fn polling_records_usage_and_warns_once_at_80_and_100_percent() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(sink.layer()).await;
    let admin = app.admin_token().await;
    let (sim, _) = app
        .sim_server(&admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    let mut plan = crate::helpers::plan_body("Small");
    plan["quotas"]["max_databases"] = json!(5);
    let (_, plan) = app.post("/api/v1/plans", Some(&admin), plan).await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let (status, account) = app
        .post(
            "/api/v1/nextpanel/provision",
            Some(&admin),
            json!({"customer_id": customer, "username": "ada", "plan_id": plan["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let panel_id = account["nextpanel_user_id"].as_str().unwrap().to_owned();
    let key = account["license_key"].as_str().unwrap().to_owned();
    let license = account["license_id"].clone();
    let before = sink.wait_for(2).await.len();
    let poll = || async {
        app.post("/api/v1/nextpanel/usage/poll", Some(&admin), json!({}))
            .await
            .1
    };

    for i in 0..3 {
        add_database(&sim, &panel_id, &format!("db{i}"), &key).await;
    }
    let quiet = poll().await;
    assert_eq!(
        (
            quiet["accounts_polled"].clone(),
            quiet["alerts_queued"].clone()
        ),
        (json!(1), json!(0)),
        "{quiet}"
    );
    assert_eq!(used(&app, &admin, &license, "databases").await, 3);

    add_database(&sim, &panel_id, "db3", &key).await;
    assert_eq!(poll().await["alerts_queued"], 1);
    let messages = sink.wait_for(before + 1).await;
    let warning: &Value = messages.last().unwrap();
    assert_eq!(warning["subject"], "databases at 80% of your plan");
    assert!(
        warning["text"]
            .as_str()
            .unwrap()
            .contains("uses 4 of 5 databases"),
        "{warning}"
    );
    assert_eq!(
        poll().await["alerts_queued"],
        0,
        "the warning goes out once"
    );

    add_database(&sim, &panel_id, "db4", &key).await;
    assert_eq!(poll().await["alerts_queued"], 1);
    let messages = sink.wait_for(before + 2).await;
    assert_eq!(
        messages.last().unwrap()["subject"],
        "databases limit reached"
    );
    assert_eq!(
        poll().await["alerts_queued"],
        0,
        "and the limit message once"
    );
    assert_eq!(used(&app, &admin, &license, "databases").await, 5);
    // The customer sees the same on their license.
    let token = app.login("ada@example.com", "customer-password-1").await;
    let (_, mine) = app
        .get(&format!("/api/v1/me/licenses/{license}"), Some(&token))
        .await;
    assert_eq!(mine["usage"]["databases"], 5, "{mine}");
    assert_eq!(mine["quotas"]["max_databases"], 5, "{mine}");

    // A panel that does not answer is counted and retried next round, not an error.
    sim.set_faults(json!({"offline": true})).unwrap();
    let down = poll().await;
    assert_eq!(
        (down["accounts_polled"].clone(), down["failures"].clone()),
        (json!(0), json!(1)),
        "{down}"
    );
}
