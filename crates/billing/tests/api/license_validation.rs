//! License validation and usage reports, as NextPanel servers call them: signed
//! with the server's API secret (callbacks version 2, with a request id), and the
//! real round trip through nextpanel-sim.

use billing::config::Layer;
use nextpanel_sim::license_callback::{new_request_id, sign};
use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, plan_body, TestApp};

struct Setup {
    app: TestApp,
    admin: String,
    sim: SimHandle,
    customer: i64,
    plan: i64,
}

/// One simulator registered as a server, a plan with `max_databases` databases, a customer.
async fn setup(max_databases: i64) -> Setup {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = register_sim(&app, &admin, "node-0").await;
    let mut plan = plan_body("Tiny");
    plan["quotas"]["max_databases"] = json!(max_databases);
    let (status, body) = app.post("/api/v1/plans", Some(&admin), plan).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plan = body["id"].as_i64().unwrap();
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    Setup {
        app,
        admin,
        sim,
        customer,
        plan,
    }
}

async fn register_sim(app: &TestApp, admin: &str, name: &str) -> SimHandle {
    let (sim, _) = app
        .sim_server(admin, name, 100, SimConfig::random().unwrap())
        .await;
    sim
}

/// Provisions an account for `customer` (on `server_id` when given) and returns it.
async fn provision(s: &Setup, customer: i64, username: &str, server_id: Option<i64>) -> Value {
    let mut body = json!({"customer_id": customer, "username": username, "plan_id": s.plan});
    if let Some(id) = server_id {
        body["server_id"] = json!(id);
    }
    let (status, account) = s
        .app
        .post("/api/v1/nextpanel/provision", Some(&s.admin), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["state"], "active", "{account}");
    account
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn rid() -> String {
    new_request_id().unwrap()
}

/// Sends a signed call as a server with `key`/`secret`; `timestamp` and the signature are overridable.
async fn send(
    app: &TestApp,
    path: &str,
    key: &str,
    mut body: Value,
    signature: String,
) -> (StatusCode, Value) {
    body["signature"] = json!(signature);
    let resp = app
        .client
        .post(app.url(path))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn validate_at(
    app: &TestApp,
    sim: &SimHandle,
    license_key: &str,
    feature: &str,
    timestamp: i64,
) -> (StatusCode, Value) {
    let id = rid();
    let signature = sign(
        sim.api_secret(),
        &[license_key, feature, &timestamp.to_string(), &id],
    );
    let body = json!({"license_key": license_key, "feature": feature, "timestamp": timestamp, "request_id": id});
    send(
        app,
        "/api/v1/licenses/validate",
        sim.api_key(),
        body,
        signature,
    )
    .await
}

async fn validate(app: &TestApp, sim: &SimHandle, license_key: &str, feature: &str) -> Value {
    let (status, body) = validate_at(app, sim, license_key, feature, now()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn usage(
    app: &TestApp,
    sim: &SimHandle,
    license_key: &str,
    resource: &str,
    delta: i64,
) -> (StatusCode, Value) {
    let (body, signature) = usage_body(sim, license_key, resource, delta, &rid());
    send(
        app,
        "/api/v1/licenses/usage",
        sim.api_key(),
        body,
        signature,
    )
    .await
}

/// A signed version-2 usage report and its signature.
fn usage_body(
    sim: &SimHandle,
    license_key: &str,
    resource: &str,
    delta: i64,
    request_id: &str,
) -> (Value, String) {
    let ts = now();
    let signature = sign(
        sim.api_secret(),
        &[
            license_key,
            resource,
            &delta.to_string(),
            &ts.to_string(),
            request_id,
        ],
    );
    let body = json!({"license_key": license_key, "resource": resource, "delta": delta,
        "timestamp": ts, "request_id": request_id});
    (body, signature)
}

#[tokio::test]
async fn an_active_license_on_its_server_is_valid_with_its_remaining_quota() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();

    let answer = validate(&s.app, &s.sim, key, "create_database").await;
    assert_eq!(
        answer,
        json!({"valid": true, "remaining_quota": 5, "error": null})
    );
    // Lower-case keys are the same key.
    let answer = validate(&s.app, &s.sim, &key.to_lowercase(), "create_email").await;
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["remaining_quota"], 10);

    // A reported database uses one up.
    let (status, body) = usage(&s.app, &s.sim, key, "databases", 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"current": 1, "max": 5}));
    let answer = validate(&s.app, &s.sim, key, "create_database").await;
    assert_eq!(answer["remaining_quota"], 4);

    // Any other feature is allowed without a quota.
    let answer = validate(&s.app, &s.sim, key, "install_wordpress").await;
    assert_eq!(
        answer,
        json!({"valid": true, "remaining_quota": -1, "error": null})
    );

    // The plan allows one account, and alice holds it.
    let answer = validate(&s.app, &s.sim, key, "create_account").await;
    assert_eq!(answer["valid"], false, "{answer}");
    assert_eq!(answer["error"], "Account quota exceeded");
}

#[tokio::test]
async fn bad_credentials_signatures_and_stale_timestamps_are_401() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();
    let id = rid();
    let body = json!({"license_key": key, "feature": "create_database", "timestamp": now(), "request_id": id});
    let good = sign(
        s.sim.api_secret(),
        &[key, "create_database", &body["timestamp"].to_string(), &id],
    );

    // Wrong signature: signed with another secret, or without the request id.
    let forged = sign(
        "nps_not_the_secret",
        &[key, "create_database", &body["timestamp"].to_string(), &id],
    );
    let unsigned_id = sign(
        s.sim.api_secret(),
        &[key, "create_database", &body["timestamp"].to_string()],
    );
    let answer = send(
        &s.app,
        "/api/v1/licenses/validate",
        s.sim.api_key(),
        body.clone(),
        unsigned_id,
    )
    .await;
    assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let answer = send(
        &s.app,
        "/api/v1/licenses/validate",
        s.sim.api_key(),
        body.clone(),
        forged,
    )
    .await;
    assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let answer = send(
        &s.app,
        "/api/v1/licenses/validate",
        s.sim.api_key(),
        body.clone(),
        "zz".into(),
    )
    .await;
    assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized", None);

    // Stale (and future) timestamps, correctly signed.
    for ts in [now() - 301, now() + 400] {
        let answer = validate_at(&s.app, &s.sim, key, "create_database", ts).await;
        assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized", None);
    }

    // Unknown key, and no key at all.
    let answer = send(
        &s.app,
        "/api/v1/licenses/validate",
        "npk_unknown",
        body.clone(),
        good.clone(),
    )
    .await;
    assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let resp = s
        .app
        .client
        .post(s.app.url("/api/v1/licenses/validate"))
        .json(&json!({"license_key": key, "feature": "create_database", "timestamp": body["timestamp"],
            "request_id": id, "signature": good}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Usage reports are held to the same rules: this one signs delta 2 and sends 1.
    let id = rid();
    let (body, _) = usage_body(&s.sim, key, "databases", 1, &id);
    let (_, signed_for_two) = usage_body(&s.sim, key, "databases", 2, &id);
    let answer = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body,
        signed_for_two,
    )
    .await;
    assert_error(answer, StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert_eq!(s.app.count("license_usage").await, 0);
}

#[tokio::test]
async fn licenses_not_on_the_calling_server_are_not_valid() {
    let s = setup(5).await;
    provision(&s, s.customer, "alice", None).await;
    // Another customer's license with no account anywhere.
    let (other, _) = s.app.customer(&s.admin, "bob@example.com").await;
    let loose = s.app.license(&s.admin, other, s.plan).await;
    let loose_key = loose["license_key"].as_str().unwrap();
    let answer = validate(&s.app, &s.sim, loose_key, "create_database").await;
    assert_eq!(
        answer,
        json!({"valid": false, "remaining_quota": 0, "error": "License is not valid on this server"})
    );
    // ... though it may create its first account (a free slot, nothing on any server yet).
    let answer = validate(&s.app, &s.sim, loose_key, "create_account").await;
    assert_eq!(answer["valid"], true, "{answer}");

    // A license whose account lives on another server.
    let sim2 = register_sim(&s.app, &s.admin, "node-1").await;
    let (_, servers) = s.app.get("/api/v1/nextpanel/servers", Some(&s.admin)).await;
    let node1 = servers
        .as_array()
        .unwrap()
        .iter()
        .find(|srv| srv["name"] == "node-1")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let carol = provision(&s, other, "carol", Some(node1)).await;
    let carol_key = carol["license_key"].as_str().unwrap();
    let answer = validate(&s.app, &s.sim, carol_key, "create_database").await;
    assert_eq!(answer["valid"], false, "{answer}");
    let answer = validate(&s.app, &sim2, carol_key, "create_database").await;
    assert_eq!(answer["valid"], true, "{answer}");
    // Nor may the first server count usage against it.
    let answer = usage(&s.app, &s.sim, carol_key, "databases", 1).await;
    assert_error(answer, StatusCode::FORBIDDEN, "forbidden", None);

    // A well-formed but unknown license key.
    let answer = validate(&s.app, &s.sim, "NP-AAAA-BBBB-CCCC-DDDD", "create_database").await;
    assert_eq!(answer["valid"], false, "{answer}");
    assert_eq!(answer["error"], "Unknown license key");
}

#[tokio::test]
async fn suspended_and_cancelled_licenses_are_not_valid() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();
    let license = account["license_id"].as_i64().unwrap();

    let (status, body) = s
        .app
        .patch(
            &format!("/api/v1/licenses/{license}"),
            Some(&s.admin),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = validate(&s.app, &s.sim, key, "create_database").await;
    assert_eq!(
        answer,
        json!({"valid": false, "remaining_quota": 0, "error": "License is suspended"})
    );

    let (status, body) = s
        .app
        .post(
            &format!("/api/v1/licenses/{license}/cancel"),
            Some(&s.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = validate(&s.app, &s.sim, key, "install_wordpress").await;
    assert_eq!(answer["valid"], false, "{answer}");
    assert_eq!(answer["error"], "License is cancelled");
}

#[tokio::test]
async fn an_exhausted_quota_is_refused_and_usage_never_goes_negative() {
    let s = setup(2).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();

    let (status, body) = usage(&s.app, &s.sim, key, "databases", 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"current": 2, "max": 2}));
    let answer = validate(&s.app, &s.sim, key, "create_database").await;
    assert_eq!(
        answer,
        json!({"valid": false, "remaining_quota": 0, "error": "Database quota exceeded"})
    );

    let (_, body) = usage(&s.app, &s.sim, key, "databases", -5).await;
    assert_eq!(body, json!({"current": 0, "max": 2}));
    let (_, body) = usage(&s.app, &s.sim, key, "emails", 0).await;
    assert_eq!(body, json!({"current": 0, "max": 10}));

    // Accounts are counted from our records, not reported.
    let answer = usage(&s.app, &s.sim, key, "accounts", 1).await;
    assert_error(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("resource"),
    );
}

#[tokio::test]
async fn the_simulator_round_trip_enforces_the_database_quota() {
    let s = setup(2).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();
    let panel_id = account["nextpanel_user_id"].as_str().unwrap();
    s.sim.set_billing_url(Some(s.app.base.clone()));

    let create = |name: &'static str| {
        s.app
            .client
            .post(format!(
                "{}/api/v1/billing/accounts/{panel_id}/databases",
                s.sim.base_url()
            ))
            .header("X-API-Key", s.sim.api_key())
            .header("X-API-Secret", s.sim.api_secret())
            .json(&json!({"name": name, "license_key": key}))
            .send()
    };
    for name in ["shop", "blog"] {
        let resp = create(name).await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{name}: {status} {body}");
    }
    let resp = create("wiki").await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.to_string().contains("Database quota exceeded"),
        "{body}"
    );

    let (status, body) = usage(&s.app, &s.sim, key, "databases", 0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"current": 2, "max": 2}));
    let stats = s.sim.stats();
    assert_eq!(stats["license_validations"], 3, "{stats}");
    assert_eq!(stats["license_refusals"], 1, "{stats}");
}

#[tokio::test]
async fn a_replayed_usage_report_is_answered_again_and_counted_once() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();

    // The attack: one captured report sent four times within the window.
    let (body, signature) = usage_body(&s.sim, key, "databases", 1, &rid());
    for attempt in 0..4 {
        let (status, answer) = send(
            &s.app,
            "/api/v1/licenses/usage",
            s.sim.api_key(),
            body.clone(),
            signature.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "attempt {attempt}: {answer}");
        assert_eq!(answer, json!({"current": 1, "max": 5}), "attempt {attempt}");
    }
    // A negative delta cannot be replayed to slip under the quota either.
    let (body, signature) = usage_body(&s.sim, key, "databases", -1, &rid());
    for _ in 0..3 {
        let (status, answer) = send(
            &s.app,
            "/api/v1/licenses/usage",
            s.sim.api_key(),
            body.clone(),
            signature.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, json!({"current": 0, "max": 5}));
    }
    // A new report (new id) counts again.
    let (_, answer) = usage(&s.app, &s.sim, key, "databases", 1).await;
    assert_eq!(answer, json!({"current": 1, "max": 5}));

    // Concurrent copies of one report: exactly one counts, all get its answer.
    let (mut body, signature) = usage_body(&s.sim, key, "databases", 1, &rid());
    body["signature"] = json!(signature);
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = s
            .app
            .client
            .post(s.app.url("/api/v1/licenses/usage"))
            .header("X-API-Key", s.sim.api_key())
            .json(&body);
        copies.spawn(async move {
            let resp = request.send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        });
    }
    while let Some(copy) = copies.join_next().await {
        let (status, answer) = copy.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, json!({"current": 2, "max": 5}));
    }
    let (_, answer) = usage(&s.app, &s.sim, key, "databases", 0).await;
    assert_eq!(answer, json!({"current": 2, "max": 5}));
}

/// Validation answers are written in batches (every validation arriving while one batch
/// is written joins the next): copies of one request in flight at once, landing in one
/// batch or in several, are remembered once and all get that answer.
#[tokio::test]
async fn concurrent_copies_of_a_validation_are_remembered_once() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();

    let id = rid();
    let mut body = json!({"license_key": key, "feature": "create_database", "timestamp": now(), "request_id": id});
    body["signature"] = json!(sign(
        s.sim.api_secret(),
        &[key, "create_database", &body["timestamp"].to_string(), &id],
    ));
    let mut copies = tokio::task::JoinSet::new();
    for n in 0..24 {
        // Fresh validations beside the copies, so the batches hold more than one id.
        let other = {
            let other_id = rid();
            let mut b = json!({"license_key": key, "feature": "create_domain", "timestamp": now(), "request_id": other_id});
            b["signature"] = json!(sign(
                s.sim.api_secret(),
                &[key, "create_domain", &b["timestamp"].to_string(), &other_id],
            ));
            b
        };
        let which = if n % 2 == 0 { &body } else { &other };
        let request = s
            .app
            .client
            .post(s.app.url("/api/v1/licenses/validate"))
            .header("X-API-Key", s.sim.api_key())
            .json(which);
        copies.spawn(async move {
            let resp = request.send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        });
    }
    while let Some(copy) = copies.join_next().await {
        let (status, answer) = copy.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["valid"], true, "{answer}");
    }
    let rows = s
        .app
        .query_strings(&format!(
            "SELECT kind FROM license_callbacks WHERE request_id = '{id}'"
        ))
        .await;
    assert_eq!(rows, vec!["validate"]);
    assert_eq!(s.app.count("license_callbacks").await, 13);

    // An id a usage report used is refused for a validation, in words.
    let (usage_body, usage_signature) = usage_body(&s.sim, key, "domains", 1, &rid());
    let counted = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        usage_body.clone(),
        usage_signature,
    )
    .await;
    assert_eq!(counted.0, StatusCode::OK, "{}", counted.1);
    let used_id = usage_body["request_id"].as_str().unwrap();
    let ts = now();
    let answer = send(
        &s.app,
        "/api/v1/licenses/validate",
        s.sim.api_key(),
        json!({"license_key": key, "feature": "create_database", "timestamp": ts, "request_id": used_id}),
        sign(s.sim.api_secret(), &[key, "create_database", &ts.to_string(), used_id]),
    )
    .await;
    assert_error(answer, StatusCode::CONFLICT, "conflict", Some("request_id"));
}

#[tokio::test]
async fn a_repeated_request_id_gets_the_first_answer_even_after_things_change() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();
    let license = account["license_id"].as_i64().unwrap();

    let id = rid();
    let body = json!({"license_key": key, "feature": "create_database", "timestamp": now(), "request_id": id});
    let signature = sign(
        s.sim.api_secret(),
        &[key, "create_database", &body["timestamp"].to_string(), &id],
    );
    let first = send(
        &s.app,
        "/api/v1/licenses/validate",
        s.sim.api_key(),
        body.clone(),
        signature.clone(),
    )
    .await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(first.1["valid"], true);

    // The license is suspended: a fresh check says so, the repeat still says what it said.
    let (status, _) = s
        .app
        .patch(
            &format!("/api/v1/licenses/{license}"),
            Some(&s.admin),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fresh = validate(&s.app, &s.sim, key, "create_database").await;
    assert_eq!(fresh["valid"], false, "{fresh}");
    let again = send(
        &s.app,
        "/api/v1/licenses/validate",
        s.sim.api_key(),
        body,
        signature,
    )
    .await;
    assert_eq!(again, first);

    // Refusals are remembered too: a report refused for a license not on this server
    // stays refused under its id.
    let (other, _) = s.app.customer(&s.admin, "bob@example.com").await;
    let loose = s.app.license(&s.admin, other, s.plan).await;
    let loose_key = loose["license_key"].as_str().unwrap();
    let (body, signature) = usage_body(&s.sim, loose_key, "domains", 1, &rid());
    let refused = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body.clone(),
        signature.clone(),
    )
    .await;
    let again = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body,
        signature,
    )
    .await;
    assert_eq!(refused.0, StatusCode::FORBIDDEN, "{}", refused.1);
    assert_eq!(again, refused);

    // One id on the other callback is a client bug, said in words.
    let (body, signature) = usage_body(&s.sim, key, "domains", 1, &id);
    let answer = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body,
        signature,
    )
    .await;
    assert_error(answer, StatusCode::CONFLICT, "conflict", Some("request_id"));
    assert_eq!(s.app.count("license_usage").await, 0, "nothing was counted");
}

#[tokio::test]
async fn version_1_callbacks_are_refused_unless_the_operator_allows_them() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap();
    let v1 = |resource: &str, delta: i64| {
        let ts = now();
        let signature = sign(
            s.sim.api_secret(),
            &[key, resource, &delta.to_string(), &ts.to_string()],
        );
        (
            json!({"license_key": key, "resource": resource, "delta": delta, "timestamp": ts}),
            signature,
        )
    };
    let (body, signature) = v1("databases", 1);
    let answer = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body,
        signature,
    )
    .await;
    let err = assert_error(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("request_id"),
    );
    assert!(err.to_string().contains("version 2"), "{err}");
    // A malformed id is refused before anything else.
    let (mut body, signature) = usage_body(&s.sim, key, "databases", 1, "short");
    body["request_id"] = json!("short");
    let answer = send(
        &s.app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body,
        signature,
    )
    .await;
    assert_error(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("request_id"),
    );
    assert_eq!(s.app.count("license_usage").await, 0);

    // The compatibility setting lets old panels in, replayable as before.
    let fresh = s.app.stop().await;
    let app = TestApp::start(
        fresh,
        crate::helpers::test_settings(Layer {
            license_callbacks_v1: Some(true),
            ..Layer::default()
        }),
    )
    .await;
    let (body, signature) = v1("databases", 1);
    let (status, answer) = send(
        &app,
        "/api/v1/licenses/usage",
        s.sim.api_key(),
        body,
        signature,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"current": 1, "max": 5}));
    let (status, answer) = usage(&app, &s.sim, key, "databases", 1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["current"], 2);
}

#[tokio::test]
async fn servers_registered_before_lookup_hashes_are_found_after_a_restart() {
    let s = setup(5).await;
    let account = provision(&s, s.customer, "alice", None).await;
    let key = account["license_key"].as_str().unwrap().to_owned();
    // As the 0010 migration leaves a server that existed before it.
    s.app.exec("UPDATE servers SET api_key_lookup = NULL").await;
    let (status, _) = validate_at(&s.app, &s.sim, &key, "create_database", now()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let fresh = s.app.stop().await;
    let app = TestApp::start(fresh, crate::helpers::test_settings(Layer::default())).await;
    let answer = validate(&app, &s.sim, &key, "create_database").await;
    assert_eq!(answer["valid"], true, "{answer}");
}

#[tokio::test]
async fn each_server_has_its_own_callback_allowance() {
    let app = TestApp::spawn_with(Layer {
        license_callbacks_per_minute: Some(3),
        ..Layer::default()
    })
    .await;
    let admin = app.admin_token().await;
    let one = register_sim(&app, &admin, "node-0").await;
    let two = register_sim(&app, &admin, "node-1").await;
    for _ in 0..3 {
        validate(&app, &one, "NP-AAAA-BBBB-CCCC-DDDD", "create_database").await;
    }
    let (status, body) = validate_at(
        &app,
        &one,
        "NP-AAAA-BBBB-CCCC-DDDD",
        "create_database",
        now(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("license callbacks"),
        "{body}"
    );
    // The other server is not held back, and a forged request counts against nobody.
    validate(&app, &two, "NP-AAAA-BBBB-CCCC-DDDD", "create_database").await;
    let resp = app
        .client
        .post(app.url("/api/v1/licenses/validate"))
        .header("X-API-Key", one.api_key())
        .json(
            &json!({"license_key": "NP-AAAA-BBBB-CCCC-DDDD", "feature": "x", "timestamp": now(),
            "request_id": rid(), "signature": "00"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = validate_at(
        &app,
        &one,
        "NP-AAAA-BBBB-CCCC-DDDD",
        "create_database",
        now(),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let resp = app
        .client
        .post(app.url("/api/v1/licenses/validate"))
        .header("X-API-Key", one.api_key())
        .json(&{
            let id = rid();
            let ts = now();
            json!({"license_key": "NP-AAAA-BBBB-CCCC-DDDD", "feature": "create_database", "timestamp": ts,
                "request_id": id, "signature": sign(one.api_secret(), &["NP-AAAA-BBBB-CCCC-DDDD", "create_database", &ts.to_string(), &id])})
        })
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}
