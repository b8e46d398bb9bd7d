//! NextPanel server management and health monitoring, against nextpanel-sim over HTTP.

use billing::config::Layer;
use nextpanel_sim::{Credential, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

async fn sim() -> SimHandle {
    nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap()
}

fn server_body(name: &str, sim: &SimHandle) -> Value {
    json!({
        "name": name,
        "description": "Frankfurt SSD node",
        "base_url": format!("{}/", sim.base_url()),
        "api_key": sim.api_key(),
        "api_secret": sim.api_secret(),
        "capacity": 100,
        "location": "eu-central",
        "group": "ssd",
        "tags": ["nvme"]
    })
}

async fn add_server(app: &TestApp, admin: &str, name: &str, sim: &SimHandle) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/nextpanel/servers",
            Some(admin),
            server_body(name, sim),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Inserts a hosting account row directly: the provisioning engine is what will create them.
async fn insert_account(app: &TestApp, server: i64, username: &str, state: &str) {
    let admin = app.admin_token().await;
    let customer = app
        .customer(&admin, &format!("{username}@example.com"))
        .await
        .0;
    let plan = app.plan(&admin, &format!("plan-{username}")).await;
    let license = app.license(&admin, customer, plan).await["id"]
        .as_i64()
        .unwrap();
    let sql = "INSERT INTO hosting_accounts (customer_id, license_id, server_id, username, account_type, state, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, 'panel', $5, $6, $6)";
    let now = chrono::Utc::now();
    match &app.db {
        billing::store::Db::Sqlite(p) => sqlx::query(sql)
            .bind(customer)
            .bind(license)
            .bind(server)
            .bind(username)
            .bind(state)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
        billing::store::Db::Postgres(p, _) => sqlx::query(sql)
            .bind(customer)
            .bind(license)
            .bind(server)
            .bind(username)
            .bind(state)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

#[tokio::test]
async fn the_connection_test_reports_each_failure_in_words() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = sim().await;
    let test = |url: String, key: String, secret: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, body) = app
                .post(
                    "/api/v1/nextpanel/servers/test",
                    Some(&admin),
                    json!({"base_url": url, "api_key": key, "api_secret": secret}),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "a failed test is still a 200: {body}"
            );
            body
        }
    };
    let (key, secret) = (sim.api_key().to_owned(), sim.api_secret().to_owned());

    let ok = test(sim.base_url(), key.clone(), secret.clone()).await;
    assert_eq!(ok["success"], true, "{ok}");
    assert_eq!(ok["kind"], "ok");
    assert_eq!(ok["version"], "1.0.0");
    assert!(ok["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "idempotency"));

    let wrong = test(sim.base_url(), key.clone(), "nps_wrong_secret_value".into()).await;
    assert_eq!(
        (wrong["success"].clone(), wrong["kind"].clone()),
        (json!(false), json!("bad_credentials")),
        "{wrong}"
    );
    assert!(
        wrong["message"].as_str().unwrap().contains("refused"),
        "{wrong}"
    );

    sim.set_revoked(&key, true).unwrap();
    let revoked = test(sim.base_url(), key.clone(), secret.clone()).await;
    assert_eq!(revoked["kind"], "bad_credentials");
    assert!(
        revoked["message"].as_str().unwrap().contains("revoked"),
        "{revoked}"
    );
    sim.set_revoked(&key, false).unwrap();

    sim.set_faults(json!({"offline": true})).unwrap();
    let offline = test(sim.base_url(), key.clone(), secret.clone()).await;
    assert_eq!(offline["kind"], "server_error", "{offline}");
    sim.set_faults(json!({"offline": false})).unwrap();

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = test(
        format!("http://127.0.0.1:{closed_port}"),
        key.clone(),
        secret.clone(),
    )
    .await;
    assert_eq!(unreachable["kind"], "unreachable", "{unreachable}");
    assert!(
        unreachable["message"]
            .as_str()
            .unwrap()
            .contains(&closed_port.to_string()),
        "{unreachable}"
    );

    let tls = test(
        sim.base_url().replace("http://", "https://"),
        key.clone(),
        secret.clone(),
    )
    .await;
    assert_eq!(tls["kind"], "tls", "{tls}");

    // Our address is not on the key's allow-list.
    let fenced = nextpanel_sim::spawn(
        SimConfig::random().unwrap().with_credential(
            Credential::billing("npk_fenced_key_0123456789", "nps_fenced_secret_0123456789")
                .with_allowed_ips(["10.9.9.9"])
                .unwrap(),
        ),
    )
    .await
    .unwrap();
    let ip = test(
        fenced.base_url(),
        "npk_fenced_key_0123456789".into(),
        "nps_fenced_secret_0123456789".into(),
    )
    .await;
    assert_eq!(ip["kind"], "ip_not_allowed", "{ip}");
    assert!(ip["message"].as_str().unwrap().contains("allow"), "{ip}");

    // A baseline server is fine too: no extensions.
    let baseline = nextpanel_sim::spawn(SimConfig::random().unwrap().with_baseline(true))
        .await
        .unwrap();
    let plain = test(
        baseline.base_url(),
        baseline.api_key().into(),
        baseline.api_secret().into(),
    )
    .await;
    assert_eq!(plain["success"], true);
    assert_eq!(plain["extensions"], json!([]));

    // Bad input is a 422 before anything is sent.
    assert_error(
        app.post(
            "/api/v1/nextpanel/servers/test",
            Some(&admin),
            json!({"base_url": "ftp://x", "api_key": key, "api_secret": secret}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("base_url"),
    );
}

#[tokio::test]
async fn servers_are_registered_listed_edited_and_removed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = sim().await;
    let server = add_server(&app, &admin, "fra-1", &sim).await;
    let id = server["id"].as_i64().unwrap();
    assert_eq!(
        server["base_url"],
        sim.base_url(),
        "trailing slash stripped"
    );
    assert_eq!(server["is_online"], true);
    assert_eq!(server["is_active"], true);
    assert_eq!(server["capacity"], 100);
    assert_eq!(server["current_accounts"], 0);
    assert_eq!(server["available_slots"], 100);
    assert_eq!(server["utilization_percent"], 0);
    assert_eq!(server["group"], "ssd");
    assert_eq!(server["location"], "eu-central");
    assert!(server["last_checked_at"].is_string());
    assert!(server.get("api_secret").is_none());
    let masked = server["api_key"].as_str().unwrap();
    assert!(
        masked.contains('…') && !masked.contains(sim.api_key()),
        "{masked}"
    );

    // Refusals: failed test, duplicate name, bad URL, bad capacity; nothing is stored.
    let mut bad_secret = server_body("fra-2", &sim);
    bad_secret["api_secret"] = json!("nps_wrong_secret_value");
    assert_error(
        app.post("/api/v1/nextpanel/servers", Some(&admin), bad_secret)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("api_key"),
    );
    assert_error(
        app.post(
            "/api/v1/nextpanel/servers",
            Some(&admin),
            server_body("FRA-1", &sim),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("name"),
    );
    for (field, value) in [
        ("base_url", json!("https://user:pw@panel.example.com")),
        ("base_url", json!("ftp://panel")),
        ("capacity", json!(0)),
        ("name", json!("")),
    ] {
        let mut body = server_body("fra-3", &sim);
        body[field] = value;
        assert_error(
            app.post("/api/v1/nextpanel/servers", Some(&admin), body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(field),
        );
    }
    assert_eq!(app.count("servers").await, 1);

    // An unreachable server can be saved on purpose; it waits for the monitor.
    let mut later = server_body("fra-later", &sim);
    later["base_url"] = json!("http://127.0.0.1:9");
    later["skip_test"] = json!(true);
    let (status, saved) = app
        .post("/api/v1/nextpanel/servers", Some(&admin), later)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["is_online"], false);
    let (_, statuses) = app
        .get("/api/v1/nextpanel/servers/status", Some(&admin))
        .await;
    let states: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["online", "unknown"]);

    // Edit: rename, resize, move.
    let path = format!("/api/v1/nextpanel/servers/{id}");
    let (status, edited) = app
        .patch(
            &path,
            Some(&admin),
            json!({"name": "fra-one", "capacity": 250, "location": null, "group": "nvme"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (
            edited["name"].clone(),
            edited["capacity"].clone(),
            edited["location"].clone(),
            edited["group"].clone()
        ),
        (json!("fra-one"), json!(250), Value::Null, json!("nvme"))
    );

    // Rotating credentials is tested first: wrong ones change nothing, right ones are taken.
    assert_error(
        app.patch(
            &path,
            Some(&admin),
            json!({"api_key": sim.api_key(), "api_secret": "nps_not_the_right_one"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("api_key"),
    );
    assert_error(
        app.patch(
            &path,
            Some(&admin),
            json!({"api_key": "npk_only_the_key_given"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("api_secret"),
    );
    let (status, _) = app
        .patch(
            &path,
            Some(&admin),
            json!({"api_key": sim.api_key(), "api_secret": sim.api_secret()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Disable and enable.
    let (_, disabled) = app
        .post(&format!("{path}/disable"), Some(&admin), json!({}))
        .await;
    assert_eq!(disabled["is_active"], false);
    let (_, statuses) = app
        .get("/api/v1/nextpanel/servers/status", Some(&admin))
        .await;
    assert_eq!(statuses[0]["status"], "disabled");
    let (_, enabled) = app
        .post(&format!("{path}/enable"), Some(&admin), json!({}))
        .await;
    assert_eq!(enabled["is_active"], true);

    // Live accounts block removal; terminated ones do not.
    insert_account(&app, id, "alice", "active").await;
    let (_, busy) = app.get(&path, Some(&admin)).await;
    assert_eq!(
        (
            busy["current_accounts"].clone(),
            busy["available_slots"].clone()
        ),
        (json!(1), json!(249))
    );
    assert_error(
        app.call("DELETE", &path, Some(&admin), None).await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );
    let sql = "UPDATE hosting_accounts SET state = 'terminated'";
    match &app.db {
        billing::store::Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        billing::store::Db::Postgres(p, _) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
    assert_eq!(
        app.call("DELETE", &path, Some(&admin), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&path, Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_eq!(
        app.count("hosting_accounts").await,
        1,
        "the terminated account's history stays"
    );

    let (_, audit) = app
        .get("/api/v1/audit-log?entity_type=server", Some(&admin))
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "server.created",
        "server.updated",
        "server.credentials_rotated",
        "server.disabled",
        "server.enabled",
        "server.deleted",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn the_monitor_takes_a_server_offline_and_back_with_hysteresis() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = sim().await;
    let id = add_server(&app, &admin, "fra-1", &sim).await["id"]
        .as_i64()
        .unwrap();
    let check = || async {
        app.post(
            &format!("/api/v1/nextpanel/servers/{id}/check"),
            Some(&admin),
            json!({}),
        )
        .await
        .1
    };

    sim.set_faults(json!({"offline": true})).unwrap();
    assert_eq!(
        check().await["is_online"],
        true,
        "one failure is not enough"
    );
    assert_eq!(
        check().await["is_online"],
        true,
        "two failures are not enough"
    );
    let down = check().await;
    assert_eq!(down["is_online"], false, "{down}");
    assert!(
        down["last_error"].as_str().unwrap().contains("503"),
        "{down}"
    );
    let (_, metrics) = app.get("/metrics", Some(&admin)).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics.contains(&format!(
            "nextpanel_bill_server_online{{id=\"{id}\",name=\"fra-1\"}} 0"
        )),
        "{metrics}"
    );

    sim.set_faults(json!({"offline": false})).unwrap();
    assert_eq!(
        check().await["is_online"],
        false,
        "one success is not enough"
    );
    let up = check().await;
    assert_eq!(up["is_online"], true, "{up}");
    assert_eq!(up["last_error"], Value::Null);
    let (_, metrics) = app.get("/metrics", Some(&admin)).await;
    assert!(metrics.as_str().unwrap().contains(&format!(
        "nextpanel_bill_server_online{{id=\"{id}\",name=\"fra-1\"}} 1"
    )));

    let (_, audit) = app
        .get(
            &format!("/api/v1/audit-log?entity_type=server&entity_id={id}"),
            Some(&admin),
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(&actions[..2], ["server.online", "server.offline"]);
    assert_eq!(audit["items"][1]["actor_kind"], "system");
}

#[tokio::test]
async fn the_background_monitor_runs_on_its_own() {
    let app = TestApp::spawn_with(Layer {
        health_interval_secs: Some(1),
        health_failures_to_offline: Some(1),
        ..Layer::default()
    })
    .await;
    let admin = app.admin_token().await;
    let sim = sim().await;
    let id = add_server(&app, &admin, "fra-1", &sim).await["id"]
        .as_i64()
        .unwrap();
    sim.set_faults(json!({"offline": true})).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, server) = app
            .get(&format!("/api/v1/nextpanel/servers/{id}"), Some(&admin))
            .await;
        if server["is_online"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the monitor never marked the server offline: {server}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn secrets_stay_out_of_the_database_responses_and_logs() {
    let logs = crate::helpers::capture_logs();
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = sim().await;
    let secret = sim.api_secret().to_owned();
    let key = sim.api_key().to_owned();
    let mut seen = Vec::new();
    seen.push(add_server(&app, &admin, "fra-1", &sim).await.to_string());
    seen.push(app.post("/api/v1/nextpanel/servers/test", Some(&admin), json!({"base_url": sim.base_url(), "api_key": key, "api_secret": "nps_wrong_guess_12345"})).await.1.to_string());
    seen.push(
        app.get("/api/v1/nextpanel/servers", Some(&admin))
            .await
            .1
            .to_string(),
    );
    seen.push(
        app.get("/api/v1/nextpanel/servers/1", Some(&admin))
            .await
            .1
            .to_string(),
    );
    seen.push(
        app.get("/api/v1/nextpanel/servers/status", Some(&admin))
            .await
            .1
            .to_string(),
    );
    seen.push(
        app.post("/api/v1/nextpanel/servers/1/check", Some(&admin), json!({}))
            .await
            .1
            .to_string(),
    );
    seen.push(
        app.get("/api/v1/audit-log?per_page=200", Some(&admin))
            .await
            .1
            .to_string(),
    );
    let mut dup = server_body("fra-1", &sim);
    dup["api_secret"] = json!(secret);
    seen.push(
        app.post("/api/v1/nextpanel/servers", Some(&admin), dup)
            .await
            .1
            .to_string(),
    );
    for body in &seen {
        assert!(
            !body.contains(&secret) && !body.contains(&key),
            "a response leaked a credential: {body}"
        );
    }

    // The raw database holds only sealed values.
    let rows: Vec<(String, String, String)> = match &app.db {
        billing::store::Db::Sqlite(p) => {
            sqlx::query_as("SELECT api_key_sealed, api_secret_sealed, api_key_hint FROM servers")
                .fetch_all(p)
                .await
                .unwrap()
        }
        billing::store::Db::Postgres(p, _) => {
            sqlx::query_as("SELECT api_key_sealed, api_secret_sealed, api_key_hint FROM servers")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    for (k, s, hint) in &rows {
        assert!(k.starts_with("v1:") && s.starts_with("v1:"));
        assert!(!k.contains(&key) && !s.contains(&secret) && !hint.contains(&key));
    }
    if let Some(path) = crate::helpers::sqlite_path(&app) {
        let db = app.stop().await;
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            bytes.extend(std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&secret) && !text.contains(&key),
            "the SQLite file holds a credential in clear"
        );
        drop(db);
    }
    let captured = logs.contents();
    assert!(
        captured.contains("connection test"),
        "log capture is not working: {captured}"
    );
    assert!(
        !captured.contains(&secret) && !captured.contains(&key),
        "a log line leaked a credential"
    );
}

#[tokio::test]
async fn a_restart_keeps_every_server_and_count() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = sim().await;
    let id = add_server(&app, &admin, "fra-1", &sim).await["id"]
        .as_i64()
        .unwrap();
    insert_account(&app, id, "alice", "active").await;
    insert_account(&app, id, "bob", "suspended").await;
    insert_account(&app, id, "carol", "terminated").await;
    let (_, before) = app.get("/api/v1/nextpanel/servers", Some(&admin)).await;
    assert_eq!(before[0]["current_accounts"], 2);

    let fresh = app.stop().await;
    let again = TestApp::start(fresh, crate::helpers::test_settings(Layer::default())).await;
    let admin = again.admin_token().await;
    let (_, after) = again.get("/api/v1/nextpanel/servers", Some(&admin)).await;
    assert_eq!(after, before);
    // The credentials still open under the same master key: the server can be checked.
    let (_, checked) = again
        .post(
            &format!("/api/v1/nextpanel/servers/{id}/check"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(checked["is_online"], true, "{checked}");
}

/// The live accounts by type (the dashboard) and per server (`current_accounts`, which
/// every server choice reads) are kept by triggers (migration 0026), not counted: they
/// must match a count of the accounts through inserts, moves between states, types and
/// servers, bulk writes and deletes, whatever SQL makes them.
#[tokio::test]
async fn live_account_counts_match_a_count_through_every_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let other_sim = sim().await;
    let sim = sim().await;
    let server = add_server(&app, &admin, "fra-1", &sim).await["id"]
        .as_i64()
        .unwrap();
    let other = add_server(&app, &admin, "fra-2", &other_sim).await["id"]
        .as_i64()
        .unwrap();
    let check = |step: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, shown) = app
                .get("/api/v1/nextpanel/accounts/counts/by-role", Some(&admin))
                .await;
            assert_eq!(status, StatusCode::OK, "{shown}");
            for kind in ["panel", "reseller", "master-reseller"] {
                let counted = app
                    .query_strings(&format!(
                        "SELECT CAST(COUNT(*) AS TEXT) FROM hosting_accounts WHERE account_type = '{kind}' \
                         AND state IN ('pending', 'provisioning', 'active', 'suspended')"
                    ))
                    .await;
                assert_eq!(
                    shown[kind].to_string(),
                    counted[0],
                    "{step}: {kind} accounts: {shown}"
                );
            }
            let (_, servers) = app.get("/api/v1/nextpanel/servers", Some(&admin)).await;
            for s in servers.as_array().unwrap() {
                let counted = app
                    .query_strings(&format!(
                        "SELECT CAST(COUNT(*) AS TEXT) FROM hosting_accounts WHERE server_id = {} \
                         AND state IN ('pending', 'provisioning', 'active', 'suspended')",
                        s["id"]
                    ))
                    .await;
                assert_eq!(
                    s["current_accounts"].to_string(),
                    counted[0],
                    "{step}: server {}",
                    s["name"]
                );
            }
        }
    };
    check("no accounts").await;
    for (name, state) in [
        ("alice", "pending"),
        ("bob", "active"),
        ("carol", "terminated"),
        ("dave", "failed"),
        ("erin", "suspended"),
    ] {
        insert_account(&app, server, name, state).await;
    }
    check("inserted").await;
    app.exec("UPDATE hosting_accounts SET state = 'provisioning' WHERE username = 'alice'")
        .await;
    app.exec("UPDATE hosting_accounts SET state = 'active' WHERE username = 'alice'")
        .await;
    check("pending to active").await;
    app.exec("UPDATE hosting_accounts SET account_type = 'reseller' WHERE username = 'bob'")
        .await;
    app.exec("UPDATE hosting_accounts SET state = 'pending' WHERE username = 'dave'")
        .await;
    app.exec("UPDATE hosting_accounts SET state = 'terminated', account_type = 'master-reseller' WHERE username = 'erin'")
        .await;
    check("type changes, a retry and a termination").await;
    app.exec(&format!(
        "UPDATE hosting_accounts SET server_id = {other} WHERE username IN ('alice', 'carol')"
    ))
    .await;
    app.exec("UPDATE hosting_accounts SET server_id = NULL WHERE username = 'dave'")
        .await;
    check("moves between servers, and off one").await;
    // Bulk: a copy of every account as master-reseller (one statement), then a bulk move.
    app.exec(
        "INSERT INTO hosting_accounts (customer_id, license_id, server_id, username, account_type, state, created_at, updated_at) \
         SELECT customer_id, license_id, server_id, username || '-copy', 'master-reseller', state, created_at, updated_at \
         FROM hosting_accounts",
    )
    .await;
    check("bulk insert").await;
    app.exec(
        "UPDATE hosting_accounts SET state = 'suspended' WHERE state IN ('active', 'terminated')",
    )
    .await;
    check("bulk update").await;
    app.exec("DELETE FROM hosting_accounts WHERE username LIKE '%-copy' OR username = 'bob'")
        .await;
    check("deletes").await;
}
