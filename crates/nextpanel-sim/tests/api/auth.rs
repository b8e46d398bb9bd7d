//! Credentials, permission levels and IP allow-lists, with the exact texts.

use nextpanel_sim::{Credential, PermissionLevel, SimConfig};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{create_body, detail, TestSim};

const INVALID: &str = "Invalid API key or secret";

#[tokio::test]
async fn missing_unknown_or_mismatched_credentials_are_401() {
    let app = TestSim::start().await;
    let path = "/api/v1/billing/accounts";
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(detail(response).await, (401, INVALID.to_owned()));

    let response = app
        .api_as(Method::GET, path, app.sim.api_key(), "nps_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(detail(response).await, (401, INVALID.to_owned()));

    let response = app
        .api_as(Method::GET, path, "npk_unknown", app.sim.api_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(detail(response).await, (401, INVALID.to_owned()));
}

#[tokio::test]
async fn revoked_key_is_401_revoked() {
    let app = TestSim::start().await;
    assert_eq!(app.get("/api/v1/billing/accounts").await.status(), 200);
    let response = app
        .control(Method::POST, "/_sim/credentials/revoke")
        .json(&json!({"api_key": app.sim.api_key()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = detail(app.get("/api/v1/billing/accounts").await).await;
    assert_eq!(answer, (401, "API key is revoked".to_owned()));

    let response = app
        .control(Method::POST, "/_sim/credentials/unrevoke")
        .json(&json!({"api_key": app.sim.api_key()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.get("/api/v1/billing/accounts").await.status(), 200);
}

#[tokio::test]
async fn read_only_key_may_read_but_not_write() {
    let reader = Credential::generate(PermissionLevel::ReadOnly).unwrap();
    let config = SimConfig::random().unwrap().with_credential(reader.clone());
    let app = TestSim::start_with(config).await;
    let path = "/api/v1/billing/accounts";
    let response = app
        .api_as(Method::GET, path, &reader.api_key, &reader.api_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .api_as(Method::POST, path, &reader.api_key, &reader.api_secret)
        .json(&create_body("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail(response).await,
        (
            403,
            "The user doesn't have super admin privileges".to_owned()
        )
    );
    assert_eq!(app.sim.stats()["creates_performed"], 0);
}

#[tokio::test]
async fn ip_allow_list_excluding_loopback_is_403() {
    let outsider = Credential::generate(PermissionLevel::Billing)
        .unwrap()
        .with_allowed_ips(["10.0.0.0/8", "192.168.1.7"])
        .unwrap();
    let insider = Credential::generate(PermissionLevel::Billing)
        .unwrap()
        .with_allowed_ips(["127.0.0.1"])
        .unwrap();
    let config = SimConfig::random()
        .unwrap()
        .with_credential(outsider.clone())
        .with_credential(insider.clone());
    let app = TestSim::start_with(config).await;
    let path = "/api/v1/billing/accounts";
    let response = app
        .api_as(Method::GET, path, &outsider.api_key, &outsider.api_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail(response).await,
        (403, "IP address not allowed".to_owned())
    );
    let response = app
        .api_as(Method::GET, path, &insider.api_key, &insider.api_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn credential_spec_from_the_cli_works_end_to_end() {
    let spec = "npk_cli:nps_cli:read_only:127.0.0.1";
    let config = SimConfig::random()
        .unwrap()
        .with_credential(Credential::parse_spec(spec).unwrap());
    let app = TestSim::start_with(config).await;
    let response = app
        .api_as(
            Method::GET,
            "/api/v1/billing/accounts",
            "npk_cli",
            "nps_cli",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
