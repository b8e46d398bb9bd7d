//! The provisioning engine over HTTP, against nextpanel-sim: exactly one account per
//! request whatever the simulator does.

use std::time::{Duration, Instant};

use billing::config::Layer;
use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

struct Setup {
    app: TestApp,
    admin: String,
    sims: Vec<SimHandle>,
    servers: Vec<i64>,
    plan: i64,
    customer: i64,
}

async fn setup_with(layer: Layer, sims: usize, capacity: i64, baseline: bool) -> Setup {
    let app = TestApp::spawn_with(layer).await;
    let admin = app.admin_token().await;
    let mut handles = Vec::new();
    let mut servers = Vec::new();
    for i in 0..sims {
        let config = SimConfig::random().unwrap().with_baseline(baseline);
        let (sim, server) = app
            .sim_server(&admin, &format!("node-{i}"), capacity, config)
            .await;
        servers.push(server);
        handles.push(sim);
    }
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    Setup {
        app,
        admin,
        sims: handles,
        servers,
        plan,
        customer,
    }
}

async fn setup() -> Setup {
    setup_with(Layer::default(), 1, 100, false).await
}

impl Setup {
    async fn provision(&self, body: Value) -> (StatusCode, Value) {
        self.app
            .post("/api/v1/nextpanel/provision", Some(&self.admin), body)
            .await
    }

    fn body(&self, username: &str) -> Value {
        json!({"customer_id": self.customer, "username": username, "plan_id": self.plan})
    }

    async fn account(&self, id: i64) -> Value {
        self.app
            .get(
                &format!("/api/v1/nextpanel/accounts/{id}"),
                Some(&self.admin),
            )
            .await
            .1
    }

    /// Polls until the account reaches one of `states`.
    async fn wait_state(&self, id: i64, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let account = self.account(id).await;
            if states.iter().any(|s| account["state"] == *s) {
                return account;
            }
            assert!(
                Instant::now() < deadline,
                "account never reached {states:?}: {account}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn panel_accounts(&self, sim: usize) -> Vec<Value> {
        self.sims[sim].state()["accounts"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn creates(&self, sim: usize) -> i64 {
        self.sims[sim].stats()["creates_performed"]
            .as_i64()
            .unwrap()
    }
}

#[tokio::test]
async fn a_provision_creates_the_account_license_and_log_line() {
    let s = setup().await;
    let (status, body) = s.provision(s.body("alice")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "active");
    assert_eq!(body["username"], "alice");
    assert!(body["nextpanel_user_id"].is_string());
    let password = body["generated_password"].as_str().unwrap().to_owned();
    assert!(password.len() >= 16);
    assert!(body["license_key"].as_str().unwrap().starts_with("NP-"));
    assert_eq!(body["panel_url"], s.sims[0].base_url());

    let panel = s.panel_accounts(0);
    assert_eq!(panel.len(), 1);
    assert_eq!(panel[0]["username"], "alice");
    assert_eq!(panel[0]["billing_id"], s.customer.to_string());
    assert_eq!(
        panel[0]["id"].to_string(),
        body["nextpanel_user_id"].as_str().unwrap()
    );

    // The account shows in the customer record, to the customer, and counts on the server.
    let (_, customer) = s
        .app
        .get(&format!("/api/v1/customers/{}", s.customer), Some(&s.admin))
        .await;
    assert_eq!(customer["accounts"][0]["username"], "alice");
    let token = s.app.login("ada@example.com", "customer-password-1").await;
    let (_, mine) = s.app.get("/api/v1/me/accounts", Some(&token)).await;
    assert_eq!(mine["total"], 1);
    assert!(!mine.to_string().contains(&password));
    // With where to log in, as the welcome message says it; the same for the one account.
    assert_eq!(mine["items"][0]["panel_url"], s.sims[0].base_url());
    let (_, one) = s
        .app
        .get(
            &format!("/api/v1/me/accounts/{}", mine["items"][0]["id"]),
            Some(&token),
        )
        .await;
    assert_eq!(one["panel_url"], s.sims[0].base_url());
    assert_eq!(one["username"], "alice");
    let (_, server) = s
        .app
        .get(
            &format!("/api/v1/nextpanel/servers/{}", s.servers[0]),
            Some(&s.admin),
        )
        .await;
    assert_eq!(server["current_accounts"], 1);
    let (_, counts) = s
        .app
        .get("/api/v1/nextpanel/accounts/counts/by-role", Some(&s.admin))
        .await;
    assert_eq!(counts["panel"], 1);

    // The password is nowhere at rest: not in jobs, not in the audit log, not in the provisioning log.
    let payloads: Vec<(String,)> = match &s.app.db {
        billing::store::Db::Sqlite(p) => sqlx::query_as("SELECT payload FROM jobs")
            .fetch_all(p)
            .await
            .unwrap(),
        billing::store::Db::Postgres(p, _) => sqlx::query_as("SELECT payload FROM jobs")
            .fetch_all(p)
            .await
            .unwrap(),
    };
    assert!(
        payloads
            .iter()
            .all(|(p,)| !p.contains(&password) && p.contains("\"password\":null")),
        "{payloads:?}"
    );
    let (_, audit) = s
        .app
        .get("/api/v1/audit-log?per_page=200", Some(&s.admin))
        .await;
    assert!(!audit.to_string().contains(&password));
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"account.provisioned") && actions.contains(&"account.requested"));

    // The provisioning log has one JSON line for the new account, and no password.
    let log = std::fs::read_to_string(&s.app.provisioning_log).unwrap();
    assert!(!log.contains(&password));
    let line: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(line["username"], "alice");
    assert_eq!(line["customer_email"], "ada@example.com");
    assert_eq!(line["license_key"], body["license_key"]);
    assert_eq!(line["server"], "node-0");
    assert_eq!(line["state"], "active");
    assert_eq!(line["action"], "account.provisioned");
    // It names customers and their accounts: readable by the service's user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&s.app.provisioning_log)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "provisioning log mode {mode:o}");
    }
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_account() {
    let s = setup().await;
    let send = || async {
        let resp = s
            .app
            .client
            .post(s.app.url("/api/v1/nextpanel/provision"))
            .bearer_auth(&s.admin)
            .header("Idempotency-Key", "order-42")
            .json(&s.body("alice"))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json::<Value>().await.unwrap())
    };
    let (first_status, first) = send().await;
    let (second_status, second) = send().await;
    assert_eq!(first_status, StatusCode::CREATED, "{first}");
    assert_eq!(second_status, StatusCode::CREATED, "{second}");
    assert_eq!(first["id"], second["id"]);
    assert!(
        second.get("generated_password").is_none(),
        "a replay never shows the password again"
    );
    assert_eq!(s.creates(0), 1);
    assert_eq!(s.app.count("hosting_accounts").await, 1);
    assert_eq!(s.app.count("licenses").await, 1);
    // The key with another request is a conflict.
    let resp = s
        .app
        .client
        .post(s.app.url("/api/v1/nextpanel/provision"))
        .bearer_auth(&s.admin)
        .header("Idempotency-Key", "order-42")
        .json(&s.body("bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn invalid_provisions_are_refused_before_anything_happens() {
    let s = setup().await;
    let license = s.app.license(&s.admin, s.customer, s.plan).await["id"]
        .as_i64()
        .unwrap();
    // Without license_id the customer's license with room is taken; this one has none.
    let (bare, _) = s.app.customer(&s.admin, "bare@example.com").await;
    let cases = [
        (
            json!({"customer_id": s.customer, "username": "Alice", "plan_id": s.plan}),
            "username",
        ),
        (
            json!({"customer_id": s.customer, "username": "1alice", "plan_id": s.plan}),
            "username",
        ),
        (
            json!({"customer_id": s.customer, "username": "alice", "plan_id": s.plan, "password": "short1"}),
            "password",
        ),
        (
            json!({"customer_id": s.customer, "username": "alice", "plan_id": s.plan, "password": "no-digits-in-here"}),
            "password",
        ),
        (
            json!({"customer_id": 9999, "username": "alice", "plan_id": s.plan}),
            "customer_id",
        ),
        (
            json!({"customer_id": bare, "username": "alice"}),
            "license_id",
        ),
        (
            json!({"customer_id": s.customer, "username": "alice", "license_id": 9999}),
            "license_id",
        ),
        (
            json!({"customer_id": s.customer, "username": "alice", "plan_id": 9999}),
            "plan_id",
        ),
        (
            json!({"customer_id": s.customer, "username": "alice", "plan_id": s.plan, "server_id": 9999}),
            "server_id",
        ),
        (
            json!({"customer_id": s.customer, "username": "alice", "plan_id": s.plan, "email": "nope"}),
            "email",
        ),
    ];
    for (body, field) in cases {
        assert_error(
            s.provision(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(field),
        );
    }
    // A license with its one slot taken.
    let (status, _) = s
        .provision(json!({"customer_id": s.customer, "username": "alice", "license_id": license}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_error(
        s.provision(json!({"customer_id": s.customer, "username": "bob", "license_id": license}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("license_id"),
    );
    // The same username on the same server.
    assert_error(
        s.provision(s.body("alice")).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("server_id"),
    );
    assert_eq!(s.app.count("hosting_accounts").await, 1);
    assert_eq!(s.creates(0), 1);
}

#[tokio::test]
async fn every_fault_of_the_simulator_ends_in_exactly_one_account() {
    // Answers come at once (202) so the test can watch the retries, and there are
    // plenty of attempts so the job outlives the fault.
    let layer = Layer {
        panel_timeout_ms: Some(2_000),
        panel_create_timeout_ms: Some(1_000),
        provision_wait_secs: Some(0),
        job_max_attempts: Some(30),
        job_backoff_base_ms: Some(50),
        job_backoff_cap_ms: Some(300),
        ..Layer::default()
    };
    let s = setup_with(layer, 1, 100, false).await;
    let faults = [
        ("latency", json!({"latency_ms": 50, "jitter_ms": 20})),
        ("lost", json!({"lost_response": true})),
        ("errors", json!({"error_rate": 1.0})),
        ("timeout", json!({"timeout": true, "hang_ms": 1500})),
        ("offline", json!({"offline": true})),
    ];
    for (i, (name, fault)) in faults.iter().enumerate() {
        s.sims[0].set_faults(fault.clone()).unwrap();
        let username = format!("user{i}{name}");
        let mut body = s.body(&username);
        body["server_id"] = json!(s.servers[0]);
        let resp = s
            .app
            .client
            .post(s.app.url("/api/v1/nextpanel/provision"))
            .bearer_auth(&s.admin)
            .header("Idempotency-Key", format!("k-{name}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::ACCEPTED,
            "{name}: {status} {answer}"
        );
        let id = answer["id"].as_i64().unwrap();
        if name != &"latency" {
            // Let the first attempts fail, then heal the server: the job must finish by itself.
            let deadline = Instant::now() + Duration::from_secs(20);
            while s
                .app
                .get(
                    &format!("/api/v1/jobs/{}", answer["job_id"]),
                    Some(&s.admin),
                )
                .await
                .1["attempts"]
                .as_i64()
                .unwrap()
                < 2
            {
                assert!(Instant::now() < deadline, "{name}: the job never retried");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        s.sims[0].set_faults(json!({"latency_ms": 0, "jitter_ms": 0, "lost_response": false, "error_rate": 0.0, "timeout": false, "offline": false})).unwrap();
        let account = s.wait_state(id, &["active", "failed"]).await;
        assert_eq!(account["state"], "active", "{name}: {account}");
        let on_panel: Vec<Value> = s
            .panel_accounts(0)
            .into_iter()
            .filter(|a| a["username"] == username.as_str())
            .collect();
        assert_eq!(
            on_panel.len(),
            1,
            "{name}: exactly one account on the panel"
        );
        assert_eq!(
            on_panel[0]["id"].to_string(),
            account["nextpanel_user_id"].as_str().unwrap(),
            "{name}"
        );
    }
    assert_eq!(s.panel_accounts(0).len(), faults.len());
    assert_eq!(
        s.creates(0),
        faults.len() as i64,
        "no create was performed twice"
    );
}

#[tokio::test]
async fn a_dead_server_fails_over_to_the_next() {
    let s = setup_with(Layer::default(), 2, 100, false).await;
    // One account on node-1 makes the empty node-0 the first choice.
    let mut first = s.body("bob");
    first["server_id"] = json!(s.servers[1]);
    assert_eq!(s.provision(first).await.0, StatusCode::CREATED);
    // Then node-0 goes down for real (connections refused), after its last good check.
    let mut sims = s.sims;
    let dead = sims.remove(0);
    dead.shutdown().await.unwrap();
    let s = Setup { sims, ..s };
    let (status, body) = s.provision(s.body("alice")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["server_id"], s.servers[1]);
    assert_eq!(s.panel_accounts(0).len(), 2);
    let (_, audit) = s
        .app
        .get(
            &format!(
                "/api/v1/audit-log?entity_type=hosting_account&entity_id={}",
                body["id"]
            ),
            Some(&s.admin),
        )
        .await;
    let failover = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "account.failover")
        .expect("a failover entry");
    assert_eq!(failover["before"]["server_id"], s.servers[0]);
    assert_eq!(failover["after"]["server_id"], s.servers[1]);
}

#[tokio::test]
async fn concurrent_provisions_never_overfill_a_server() {
    let s = setup_with(
        Layer {
            provision_wait_secs: Some(0),
            ..Layer::default()
        },
        3,
        10,
        false,
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = s.app.client.clone();
        let url = s.app.url("/api/v1/nextpanel/provision");
        let admin = s.admin.clone();
        let body = s.body(&format!("user{i}"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut accepted = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED | StatusCode::ACCEPTED => accepted += 1,
            StatusCode::CONFLICT => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((accepted, refused), (30, 20), "30 slots over 3 servers");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, active) = s
            .app
            .get("/api/v1/nextpanel/accounts?state=active", Some(&s.admin))
            .await;
        if active["total"] == 30 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all accounts became active: {active}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..3 {
        assert_eq!(
            s.panel_accounts(i).len(),
            10,
            "server {i} holds exactly its capacity"
        );
    }
    let (_, servers) = s.app.get("/api/v1/nextpanel/servers", Some(&s.admin)).await;
    assert!(servers
        .as_array()
        .unwrap()
        .iter()
        .all(|sv| sv["current_accounts"] == 10 && sv["available_slots"] == 0));
}

#[tokio::test]
async fn the_whole_lifecycle_reaches_the_panel() {
    let s = setup().await;
    let (_, created) = s.provision(s.body("alice")).await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/nextpanel/accounts/{id}");
    let panel = |s: &Setup| s.panel_accounts(0)[0].clone();

    let (status, suspended) = s
        .app
        .post(
            &format!("{path}/suspend"),
            Some(&s.admin),
            json!({"reason": "unpaid invoice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{suspended}");
    assert_eq!(suspended["account"]["state"], "suspended");
    assert_eq!(suspended["account"]["suspend_reason"], "unpaid invoice");
    assert_eq!(panel(&s)["status"], "suspended");
    // Suspending again is fine; the seed's query form works too.
    let resp = s
        .app
        .client
        .post(s.app.url(&format!("{path}/suspend?reason=again")))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let (status, active) = s
        .app
        .post(&format!("{path}/unsuspend"), Some(&s.admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_eq!(panel(&s)["status"], "active");

    let mut business = crate::helpers::plan_body("Business");
    business["package_id"] = json!(7);
    business["quotas"]["max_domains"] = json!(50);
    let (_, business) = s.app.post("/api/v1/plans", Some(&s.admin), business).await;
    let (status, moved) = s
        .app
        .post(
            &format!("{path}/change-plan"),
            Some(&s.admin),
            json!({"plan_id": business["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert!(
        moved["job"]["result"]
            .as_str()
            .unwrap()
            .contains("panel package was changed"),
        "{moved}"
    );
    assert_eq!(panel(&s)["package_id"], 7);
    let (_, license) = s
        .app
        .get(
            &format!("/api/v1/licenses/{}", created["license_id"]),
            Some(&s.admin),
        )
        .await;
    assert_eq!(license["plan_id"], business["id"]);
    assert_eq!(license["quotas"]["max_domains"], 50);
    // With 10 domains in use, a plan allowing 5 is refused and nothing moves.
    s.app
        .exec(&format!(
            "INSERT INTO license_usage (license_id, resource, used, updated_at) VALUES ({}, 'domains', 10, '2026-01-01T00:00:00Z')",
            created["license_id"]
        ))
        .await;
    let small = s.app.plan(&s.admin, "Small").await;
    let (status, refused) = s
        .app
        .post(
            &format!("{path}/change-plan"),
            Some(&s.admin),
            json!({"plan_id": small}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["field"], "plan_id");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10 domains (the plan allows 5)"),
        "{refused}"
    );
    assert_eq!(panel(&s)["package_id"], 7, "the panel was not touched");

    let (status, pw) = s
        .app
        .post(&format!("{path}/password"), Some(&s.admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{pw}");
    assert!(pw["generated_password"].as_str().unwrap().len() >= 16);

    let (status, stats) = s.app.get(&format!("{path}/stats"), Some(&s.admin)).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total_domains"], 0);

    let (status, gone) = s.app.call("DELETE", &path, Some(&s.admin), None).await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(gone["account"]["state"], "terminated");
    assert!(s.panel_accounts(0).is_empty());
    let (status, again) = s.app.call("DELETE", &path, Some(&s.admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["job"]["result"], "already terminated");
    assert_error(
        s.app
            .post(&format!("{path}/suspend"), Some(&s.admin), json!({}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("state"),
    );
    let (_, server) = s
        .app
        .get(
            &format!("/api/v1/nextpanel/servers/{}", s.servers[0]),
            Some(&s.admin),
        )
        .await;
    assert_eq!(server["current_accounts"], 0);
}

#[tokio::test]
async fn a_baseline_server_says_what_it_cannot_do() {
    let s = setup_with(Layer::default(), 1, 100, true).await;
    let (_, created) = s.provision(s.body("alice")).await;
    let path = format!("/api/v1/nextpanel/accounts/{}", created["id"]);
    let other = s.app.plan(&s.admin, "Other").await;
    let (status, moved) = s
        .app
        .post(
            &format!("{path}/change-plan"),
            Some(&s.admin),
            json!({"plan_id": other}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert!(
        moved["job"]["result"]
            .as_str()
            .unwrap()
            .contains("panel was not changed"),
        "{moved}"
    );
    assert_error(
        s.app
            .post(
                &format!("{path}/password"),
                Some(&s.admin),
                json!({"password": "new-password-123"}),
            )
            .await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );
}

#[tokio::test]
async fn a_failed_account_can_be_retried_and_dead_jobs_are_visible() {
    let s = setup_with(
        Layer {
            job_max_attempts: Some(2),
            ..Layer::default()
        },
        1,
        100,
        false,
    )
    .await;
    // Someone else already has "alice" on the panel: a certain failure.
    let mut body = s.body("alice");
    body["server_id"] = json!(s.servers[0]);
    let squatter = reqwest::Client::new()
        .post(format!("{}/api/v1/billing/accounts", s.sims[0].base_url()))
        .header("X-API-Key", s.sims[0].api_key())
        .header("X-API-Secret", s.sims[0].api_secret())
        .json(&json!({"username": "alice", "email": "x@example.com", "password": "pw-123456789", "billing_id": "someone-else", "is_admin": false, "metadata": {}}))
        .send()
        .await
        .unwrap();
    assert!(squatter.status().is_success());
    let (status, failed) = s.provision(body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not ours"),
        "{failed}"
    );
    let (_, accounts) = s
        .app
        .get("/api/v1/nextpanel/accounts?state=failed", Some(&s.admin))
        .await;
    let id = accounts["items"][0]["id"].as_i64().unwrap();

    // The squatter leaves; the admin retries.
    s.sims[0].reset().unwrap();
    let (status, retried) = s
        .app
        .post(
            &format!("/api/v1/nextpanel/accounts/{id}/retry"),
            Some(&s.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["account"]["state"], "active");

    // A server that keeps failing kills the job after its attempts; it is listed as dead.
    s.sims[0].set_faults(json!({"error_rate": 1.0})).unwrap();
    let (status, pending) = s
        .app
        .post(
            &format!("/api/v1/nextpanel/accounts/{id}/suspend"),
            Some(&s.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{pending}");
    let (_, dead) = s.app.get("/api/v1/jobs?state=dead", Some(&s.admin)).await;
    assert_eq!(dead["total"], 1, "{dead}");
    let job = dead["items"][0]["id"].as_i64().unwrap();
    s.sims[0].set_faults(json!({"error_rate": 0.0})).unwrap();
    let (status, requeued) = s
        .app
        .post(
            &format!("/api/v1/jobs/{job}/retry"),
            Some(&s.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{requeued}");
    s.wait_state(id, &["suspended"]).await;
}

#[tokio::test]
async fn a_suspension_asked_for_while_the_account_is_created_waits_for_it() {
    // Two attempts only: waiting for the create must not use them up.
    let s = setup_with(
        Layer {
            provision_wait_secs: Some(0),
            job_max_attempts: Some(2),
            ..Layer::default()
        },
        1,
        100,
        false,
    )
    .await;
    s.sims[0].set_faults(json!({"latency_ms": 1500})).unwrap();
    let (status, created) = s.provision(s.body("alice")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let path = format!("/api/v1/nextpanel/accounts/{}", created["id"]);
    let (status, asked) = s
        .app
        .post(
            &format!("{path}/suspend"),
            Some(&s.admin),
            json!({"reason": "abuse report"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "queued while it is created: {asked}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let account = s.account(created["id"].as_i64().unwrap()).await;
        if account["state"] == "suspended" {
            assert_eq!(account["suspend_reason"], "abuse report");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never suspended: {account}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, dead) = s.app.get("/api/v1/jobs?state=dead", Some(&s.admin)).await;
    assert_eq!(dead["total"], 0, "{dead}");
    assert_eq!(s.panel_accounts(0)[0]["status"], "suspended");
}
