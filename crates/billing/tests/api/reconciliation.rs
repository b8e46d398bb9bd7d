//! Reconciliation over HTTP against nextpanel-sim: drift planted directly on the
//! panel is found, reported, stored, and (for mismatches) fixed on request.

use std::time::{Duration, Instant};

use billing::config::Layer;
use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

struct Setup {
    app: TestApp,
    admin: String,
    sim: SimHandle,
    server: i64,
    plan: i64,
    customer: i64,
}

async fn setup_with(layer: Layer) -> Setup {
    let app = TestApp::spawn_with(layer).await;
    let admin = app.admin_token().await;
    let (sim, server) = app
        .sim_server(&admin, "node-0", 100, SimConfig::random().unwrap())
        .await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    Setup {
        app,
        admin,
        sim,
        server,
        plan,
        customer,
    }
}

impl Setup {
    /// Provisions an active account; returns (our id, the panel's id).
    async fn provision(&self, username: &str) -> (i64, String) {
        let (status, body) = self
            .app
            .post(
                "/api/v1/nextpanel/provision",
                Some(&self.admin),
                json!({"customer_id": self.customer, "username": username, "plan_id": self.plan}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["id"].as_i64().unwrap(),
            body["nextpanel_user_id"].as_str().unwrap().to_owned(),
        )
    }

    /// A request straight to the simulator's NextPanel API, past nextpanel-bill.
    fn panel(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.sim.base_url()))
            .header("X-API-Key", self.sim.api_key())
            .header("X-API-Secret", self.sim.api_secret())
    }

    async fn reconcile(&self, body: Option<Value>) -> (StatusCode, Value) {
        self.app
            .call(
                "POST",
                &format!("/api/v1/nextpanel/servers/{}/reconcile", self.server),
                Some(&self.admin),
                body,
            )
            .await
    }

    fn panel_status(&self, panel_id: &str) -> Value {
        self.sim.state()["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"].as_i64() == panel_id.parse().ok())
            .map(|a| a["status"].clone())
            .unwrap_or(Value::Null)
    }
}

#[tokio::test]
async fn drift_planted_on_the_panel_is_reported_stored_and_fixed() {
    let s = setup_with(Layer::default()).await;
    let (_alice, _) = s.provision("alice").await;
    let (bob, bob_panel) = s.provision("bob").await;
    let (carol, carol_panel) = s.provision("carol").await;

    // In step: nothing to report.
    let (status, clean) = s.reconcile(None).await;
    assert_eq!(status, StatusCode::OK, "{clean}");
    assert_eq!(clean["status"], "ok", "{clean}");
    assert_eq!(clean["server_id"], s.server);
    assert_eq!(clean["server_name"], "node-0");

    // An account nobody ordered, one of ours deleted, one of ours suspended behind our back.
    let orphan = s
        .panel(reqwest::Method::POST, "/api/v1/billing/accounts")
        .json(&json!({"username": "mallory", "email": "m@example.com", "password": "pw-123456789", "billing_id": "someone-else", "is_admin": false, "metadata": {}}))
        .send()
        .await
        .unwrap();
    assert!(orphan.status().is_success());
    let deleted = s
        .panel(
            reqwest::Method::DELETE,
            &format!("/api/v1/billing/accounts/{bob_panel}"),
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let suspended = s
        .panel(
            reqwest::Method::POST,
            &format!("/api/v1/billing/accounts/{carol_panel}/suspend"),
        )
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert!(suspended.status().is_success());

    let (status, drift) = s.reconcile(Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{drift}");
    assert_eq!(drift["status"], "drift", "{drift}");
    assert_eq!(
        (
            &drift["orphans"],
            &drift["missing"],
            &drift["mismatches"],
            &drift["fixed"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(0)),
        "{drift}"
    );
    let report = &drift["report"];
    assert_eq!(report["orphans"][0]["username"], "mallory", "{report}");
    assert_eq!(report["orphans"][0]["billing_id"], "someone-else");
    assert_eq!(report["missing"][0]["account_id"], bob);
    assert_eq!(report["missing"][0]["username"], "bob");
    assert_eq!(report["missing"][0]["panel_account_id"], bob_panel);
    assert_eq!(report["mismatches"][0]["account_id"], carol);
    assert_eq!(report["mismatches"][0]["ours"], "active");
    assert_eq!(report["mismatches"][0]["panel"], "suspended");
    assert_eq!(report["fixes"], json!([]));
    assert_eq!(drift["actor"], crate::helpers::ADMIN_EMAIL);
    // Without `fix`, the panel is left as it is.
    assert_eq!(s.panel_status(&carol_panel), "suspended");

    // Stored and listed, newest first, filterable by server.
    let id = drift["id"].as_i64().unwrap();
    let (status, one) = s
        .app
        .get(
            &format!("/api/v1/nextpanel/reconciliations/{id}"),
            Some(&s.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one, drift);
    let (status, list) = s
        .app
        .get(
            &format!(
                "/api/v1/nextpanel/reconciliations?server_id={}&per_page=1",
                s.server
            ),
            Some(&s.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2);
    assert_eq!(list["per_page"], 1);
    assert_eq!(list["items"][0]["id"], id);
    let (_, other) = s
        .app
        .get(
            "/api/v1/nextpanel/reconciliations?server_id=999999",
            Some(&s.admin),
        )
        .await;
    assert_eq!(other["total"], 0);

    // `fix` applies our state to the mismatch only; the orphan and the missing one stay reported.
    let (status, fixed) = s.reconcile(Some(json!({"fix": true}))).await;
    assert_eq!(status, StatusCode::OK, "{fixed}");
    assert_eq!(fixed["fixed"], 1, "{fixed}");
    let fix = &fixed["report"]["fixes"][0];
    assert_eq!(fix["account_id"], carol);
    assert_eq!(fix["action"], "unsuspend");
    assert_eq!(fix["outcome"], "fixed", "{fix}");
    assert_eq!(s.panel_status(&carol_panel), "active");
    assert_eq!(
        s.sim.state()["accounts"].as_array().unwrap().len(),
        3,
        "no account was deleted or created"
    );

    let (_, after) = s.reconcile(None).await;
    assert_eq!(after["status"], "drift");
    assert_eq!(
        (&after["orphans"], &after["missing"], &after["mismatches"]),
        (&json!(1), &json!(1), &json!(0)),
        "{after}"
    );

    let (_, audit) = s
        .app
        .get(
            &format!(
                "/api/v1/audit-log?entity_type=server&entity_id={}",
                s.server
            ),
            Some(&s.admin),
        )
        .await;
    let reconciled = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "server.reconciled")
        .count();
    assert_eq!(reconciled, 4, "{audit}");
}

#[tokio::test]
async fn an_unreachable_server_gives_an_error_report() {
    let s = setup_with(Layer::default()).await;
    s.provision("alice").await;
    s.sim
        .set_faults(json!({"offline": true, "offline_mode": "refuse"}))
        .unwrap();

    let (status, report) = s.reconcile(Some(json!({"fix": true}))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["status"], "error", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("node-0")),
        "{report}"
    );
    assert_eq!(report["missing"], 0, "an unlistable server is not drift");
    let (_, list) = s
        .app
        .get("/api/v1/nextpanel/reconciliations", Some(&s.admin))
        .await;
    assert_eq!(list["items"][0]["status"], "error");
}

#[tokio::test]
async fn bad_requests_are_refused() {
    let s = setup_with(Layer::default()).await;
    let (status, body) = s
        .app
        .post(
            "/api/v1/nextpanel/servers/999999/reconcile",
            Some(&s.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let bad = s.reconcile(Some(json!({"fix": "yes"}))).await;
    assert_error(
        bad,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("fix"),
    );
    let (status, _) = s
        .app
        .get("/api/v1/nextpanel/reconciliations/999999", Some(&s.admin))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let staff = s.app.staff(&s.admin).await;
    let (status, _) = s
        .app
        .get("/api/v1/nextpanel/reconciliations", Some(&staff))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_background_job_reconciles_every_active_server() {
    let s = setup_with(Layer {
        reconcile_interval_secs: Some(1),
        ..Layer::default()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, list) = s
            .app
            .get("/api/v1/nextpanel/reconciliations", Some(&s.admin))
            .await;
        if let Some(item) = list["items"].as_array().and_then(|i| i.first()) {
            assert_eq!(item["actor"], "system", "{item}");
            assert_eq!(item["status"], "ok", "{item}");
            assert_eq!(item["server_id"], s.server);
            break;
        }
        assert!(Instant::now() < deadline, "no reconciliation ran: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
