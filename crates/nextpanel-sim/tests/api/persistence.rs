//! The `--state` file: loaded at start, written after each change.

use nextpanel_sim::SimConfig;
use serde_json::Value;

use crate::helpers::TestSim;

#[tokio::test]
async fn accounts_survive_a_restart_with_the_same_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panel.json");
    let config = SimConfig::random().unwrap().with_state_file(&path);

    let app = TestSim::start_with(config.clone()).await;
    let id = app.create_ok("alice").await;
    app.sim.set_revoked(app.sim.api_key(), false).unwrap();
    app.sim.shutdown().await.unwrap();

    // The file is complete JSON, and no temporary file is left behind.
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["accounts"][0]["username"], "alice");
    assert!(
        !saved.to_string().contains("Secr3t"),
        "password stored in clear"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1);

    let app = TestSim::start_with(config).await;
    let account: Value = app
        .get(&format!("/api/v1/billing/accounts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["username"], "alice");
    assert_eq!(app.create_ok("bob").await, id + 1);
}

#[tokio::test]
async fn a_corrupt_state_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panel.json");
    std::fs::write(&path, "{ not json").unwrap();
    let config = SimConfig::random().unwrap().with_state_file(&path);
    let error = nextpanel_sim::spawn(config).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}
