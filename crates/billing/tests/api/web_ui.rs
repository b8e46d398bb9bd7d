//! The web console end to end in headless chromium: an admin's first day (server,
//! plan, customer, provisioning, suspension) and a customer who registers, orders,
//! pays on the (fake) Stripe page and finds the hosting active. After each script the
//! database and the simulator are checked directly: the browser saw the truth.

use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::browser::run_script_async;
use crate::helpers::{SmtpSink, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::stripe_fake::FakeStripe;

/// The `RESULT {json}` line a script printed.
fn result(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("the script printed no RESULT line:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

fn sim_accounts(sim: &SimHandle, username: &str) -> Vec<Value> {
    sim.state()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["username"] == username)
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_admin_sets_up_and_provisions_from_the_console() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap();
    let evil = "<img src=x onerror=window.__xss=1>Mallory";
    let (status, body) = app
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"email": "mallory@example.com", "full_name": evil}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let Some(stdout) = run_script_async(
        "admin.mjs",
        vec![
            ("BASE_URL", app.url("")),
            ("ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("SIM_URL", sim.base_url()),
            ("SIM_KEY", sim.api_key().to_owned()),
            ("SIM_SECRET", sim.api_secret().to_owned()),
            ("EVIL_NAME", evil.to_owned()),
        ],
    )
    .await
    else {
        return;
    };
    let shown = result(&stdout);

    // One account for the double click, on the panel too, suspended with the reason.
    let (_, accounts) = app.get("/api/v1/nextpanel/accounts", Some(&admin)).await;
    let erin: Vec<&Value> = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["username"] == "erin1")
        .collect();
    assert_eq!(erin.len(), 1, "{accounts}");
    assert_eq!(erin[0]["state"], "suspended");
    assert_eq!(erin[0]["suspend_reason"], "abuse report #12");
    let on_panel = sim_accounts(&sim, "erin1");
    assert_eq!(on_panel.len(), 1, "{on_panel:?}");
    assert_eq!(on_panel[0]["status"], "suspended", "{on_panel:?}");
    // The password the console showed logs in to the panel; the key is the license's.
    assert!(sim.login("erin1", shown["password"].as_str().unwrap()));
    let (_, licenses) = app.get("/api/v1/licenses", Some(&admin)).await;
    assert_eq!(licenses["total"], 1, "{licenses}");
    assert_eq!(licenses["items"][0]["license_key"], shown["license"]);
    // Extended once from the console: two monthly periods from activation.
    let term = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(licenses["items"][0][field].as_str().unwrap()).unwrap()
    };
    let days = (term("expires_at") - term("activated_at")).num_days();
    assert!((58..=62).contains(&days), "{days} days: {licenses}");
    // The plan was stored in exact minor units.
    let (_, plans) = app.get("/api/v1/plans", None).await;
    assert_eq!(plans[0]["prices"], json!({"monthly": 999, "annual": 9900}));
    // The team member signs in; the API key works, as staff, and was shown only once.
    app.login("sam@example.com", "sam-password-123").await;
    let key = shown["apiKey"].as_str().unwrap();
    let (status, _) = app.get("/api/v1/customers", Some(key)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            "/api/v1/plans",
            Some(key),
            crate::helpers::plan_body("Nope"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The refused attempts changed nothing: one server, one plan.
    assert_eq!(app.count("servers").await, 1);
    assert_eq!(app.count("plans").await, 1);
}

#[tokio::test]
async fn a_customer_registers_orders_pays_and_finds_the_hosting_active() {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_public(stripe.layer()).await;
    stripe.deliver_webhooks_to(app.url("/webhooks/stripe"));
    let admin = app.admin_token().await;
    let (sim, _) = app
        .sim_server(&admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    app.plan(&admin, "Starter").await;

    let env = vec![("BASE_URL", app.url("")), ("SIM_URL", sim.base_url())];
    let Some(_) = run_script_async("portal.mjs", env).await else {
        return;
    };

    let on_panel = sim_accounts(&sim, "zoe1");
    assert_eq!(on_panel.len(), 1, "{on_panel:?}");
    assert_eq!(on_panel[0]["status"], "active", "{on_panel:?}");
    let (_, invoices) = app.get("/api/v1/invoices", Some(&admin)).await;
    assert_eq!(invoices["total"], 1, "{invoices}");
    assert_eq!(invoices["items"][0]["status"], "paid");
    assert_eq!(app.count("payments").await, 1);
    assert_eq!(stripe.sessions().len(), 1, "one checkout session");
}

#[tokio::test]
async fn a_customer_resets_the_password_from_the_emailed_link() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_public(sink.layer()).await;
    let admin = app.admin_token().await;
    app.customer(&admin, "ada@example.com").await;
    let base = app.url("");
    let ask = vec![
        ("BASE_URL", base.clone()),
        ("STEP", "ask".to_owned()),
        ("EMAIL", "ada@example.com".to_owned()),
    ];
    if run_script_async("reset.mjs", ask).await.is_none() {
        return;
    }
    let messages = sink.wait_for(1).await;
    let text = messages[0]["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{base}/ui/#/reset?token=")))
        .unwrap_or_else(|| panic!("no console link in the email:\n{text}"))
        .to_owned();
    let confirm = vec![
        ("BASE_URL", base),
        ("STEP", "confirm".to_owned()),
        ("EMAIL", "ada@example.com".to_owned()),
        ("RESET_LINK", link),
    ];
    run_script_async("reset.mjs", confirm).await;
    let (status, _) = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "a-brand-new-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn staff_read_the_console_without_write_controls() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.customer(&admin, "ada@example.com").await;
    app.staff(&admin).await;
    run_script_async(
        "staff.mjs",
        vec![
            ("BASE_URL", app.url("")),
            ("STAFF_EMAIL", "staff@example.com".to_owned()),
            ("STAFF_PASSWORD", "staff-password-1".to_owned()),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_customer_upgrades_mid_period_and_pays_the_difference() {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_public(stripe.layer()).await;
    stripe.deliver_webhooks_to(app.url("/webhooks/stripe"));
    let admin = app.admin_token().await;
    app.sim_server(&admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    let starter = app.plan(&admin, "Starter").await;
    let mut pro = crate::helpers::plan_body("Pro");
    pro["prices"] = json!({"monthly": 1999});
    let (_, pro) = app.post("/api/v1/plans", Some(&admin), pro).await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let (_, order) = app
        .post(
            &format!("/api/v1/customers/{customer}/orders"),
            Some(&admin),
            json!({"plan_id": starter, "username": "ada1", "billing_cycle": "monthly"}),
        )
        .await;
    let (_, paid) = app
        .post(
            &format!("/api/v1/invoices/{}/mark-paid", order["id"]),
            Some(&admin),
            json!({"reference": "transfer"}),
        )
        .await;
    let license_id = paid["license_id"].as_i64().unwrap();
    let (_, license) = app
        .get(&format!("/api/v1/licenses/{license_id}"), Some(&admin))
        .await;
    // The per-day rule, computed here on its own.
    let end = chrono::DateTime::parse_from_rfc3339(license["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let start = end.checked_sub_months(chrono::Months::new(1)).unwrap();
    let days = (end.date_naive() - start.date_naive()).num_days();
    let left = (end.date_naive() - chrono::Utc::now().date_naive()).num_days();
    let due = (1000 * left * 2 + days) / (2 * days);
    let Some(_) = run_script_async(
        "plan-change.mjs",
        vec![
            ("BASE_URL", app.url("")),
            ("CUSTOMER_EMAIL", "ada@example.com".to_owned()),
            ("CUSTOMER_PASSWORD", "customer-password-1".to_owned()),
            ("LICENSE_ID", license_id.to_string()),
            (
                "EXPECTED_DUE",
                format!("{}.{:02} USD", due / 100, due % 100),
            ),
            ("INVOICE_PREFIX", "INV-".to_owned()),
        ],
    )
    .await
    else {
        return;
    };
    let (_, license) = app
        .get(&format!("/api/v1/licenses/{license_id}"), Some(&admin))
        .await;
    assert_eq!(license["plan_id"], pro["id"]);
    let (_, changes) = app
        .get(
            &format!("/api/v1/licenses/{license_id}/plan-changes"),
            Some(&admin),
        )
        .await;
    assert_eq!(changes[0]["state"], "applied");
    assert_eq!(changes[0]["invoice"]["status"], "paid");
    assert_eq!(changes[0]["invoice"]["total"].as_i64(), Some(due));
}

#[tokio::test]
async fn an_admin_adds_a_tax_rate_and_finds_it_on_the_invoice_and_in_the_report() {
    let app = TestApp::spawn_with(billing::config::Layer {
        company_country: Some("DE".into()),
        accept_orders_when_full: Some(true),
        ..billing::config::Layer::default()
    })
    .await;
    let admin = app.admin_token().await;
    app.customer(&admin, "ada@example.com").await;
    app.plan(&admin, "Starter").await;
    let Some(stdout) = run_script_async(
        "tax.mjs",
        vec![
            ("BASE_URL", app.url("")),
            ("ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ],
    )
    .await
    else {
        return;
    };
    // The database holds what the page showed.
    let number = result(&stdout)["number"].as_str().unwrap().to_owned();
    let (_, list) = app
        .get(&format!("/api/v1/invoices?number={number}"), Some(&admin))
        .await;
    let invoice = &list["items"][0];
    assert_eq!(
        (
            invoice["subtotal"].as_i64(),
            invoice["tax"].as_i64(),
            invoice["total"].as_i64()
        ),
        (Some(999), Some(190), Some(1189))
    );
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["buyer"]["country"], "DE");
    assert_eq!(app.count("tax_rates").await, 1);
}

#[tokio::test]
async fn an_admin_turns_on_two_factor_sign_in_and_requires_it_of_staff() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.staff(&admin).await;
    let Some(stdout) = run_script_async(
        "totp.mjs",
        vec![
            ("BASE_URL", app.url("")),
            ("ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("STAFF_EMAIL", "staff@example.com".to_owned()),
            ("STAFF_PASSWORD", "staff-password-1".to_owned()),
        ],
    )
    .await
    else {
        return;
    };
    // What the browser showed is what the database holds: 2FA on, one recovery code
    // used, the requirement stored, and the console's sessions are cookie sessions.
    let shown = result(&stdout)["recovery_codes"].as_array().unwrap().len();
    assert_eq!(shown, 10);
    assert_eq!(app.count("user_totp").await, 1);
    let unused = app
        .query_strings("SELECT CAST(COUNT(*) AS TEXT) FROM recovery_codes WHERE used_at IS NULL")
        .await;
    assert_eq!(unused, ["9"]);
    let setting = app
        .query_strings(
            "SELECT value FROM settings WHERE key = 'security.require_two_factor_for_staff'",
        )
        .await;
    assert_eq!(setting, ["true"]);
    let kinds = app
        .query_strings("SELECT DISTINCT kind FROM sessions WHERE user_agent LIKE '%Chrom%'")
        .await;
    assert_eq!(kinds, ["cookie"]);
}

#[tokio::test]
async fn a_customer_replaces_the_card_the_renewal_pays_itself_and_a_refund_shows() {
    let stripe = FakeStripe::with_localstripe().await;
    let app = TestApp::spawn_public(stripe.layer()).await;
    stripe.deliver_webhooks_to(app.url("/webhooks/stripe"));
    let admin = app.admin_token().await;
    let (_sim, _) = app
        .sim_server(&admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    let plan = app.plan(&admin, "Starter").await;
    let (_, customer) = app.customer(&admin, "ada@example.com").await;

    // The first order is paid by card (through the API and the test Stripe's page).
    let (status, order) = app
        .post(
            "/api/v1/me/orders",
            Some(&customer),
            json!({"plan_id": plan, "billing_cycle": "monthly", "username": "ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let (status, link) = app
        .post(
            &format!("/api/v1/me/invoices/{}/checkout", order["id"]),
            Some(&customer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let paid = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "{}/pay/{}",
            stripe.base,
            link["session_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let (_, order) = app
        .get(&format!("/api/v1/invoices/{}", order["id"]), Some(&admin))
        .await;
    assert_eq!(order["status"], "paid", "{order}");
    // The license ran out a minute ago: the next billing run renews and charges it.
    let license = order["license_id"].as_i64().unwrap();
    app.set_time(
        "licenses",
        "expires_at",
        license,
        chrono::Utc::now() - chrono::Duration::minutes(1),
    )
    .await;

    let env = vec![
        ("BASE_URL", app.url("")),
        ("ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ("CUSTOMER_EMAIL", "ada@example.com".to_owned()),
        ("CUSTOMER_PASSWORD", "customer-password-1".to_owned()),
        ("ORDER_ID", order["id"].to_string()),
    ];
    if run_script_async("cards.mjs", env).await.is_none() {
        return;
    }
    let (_, renewal) = app.get("/api/v1/invoices/2", Some(&admin)).await;
    assert_eq!(renewal["status"], "paid", "{renewal}");
    assert_eq!(renewal["kind"], "renewal");
    assert_eq!(stripe.payment_intents_for(2).await.len(), 1, "one charge");
    assert_eq!(app.count("credit_notes").await, 1);
}
