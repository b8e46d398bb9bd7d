//! The billing run at more than one batch (500): every due license gets its renewal and
//! every overdue invoice its reminder in one run, not the first batch only.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

const LICENSES: i64 = 620;

#[tokio::test]
async fn one_run_renews_and_chases_past_the_first_batch() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let first = app.license(&admin, customer, plan).await;
    let first_id = first["id"].as_i64().unwrap();
    app.set_time(
        "licenses",
        "expires_at",
        first_id,
        chrono::Utc::now() + chrono::Duration::days(3),
    )
    .await;
    // Copies of the first license (same times, as each engine stores them), expiring with it.
    for n in 1..LICENSES {
        app.exec(&format!(
            "INSERT INTO licenses (license_key, customer_id, plan_id, billing_cycle, status, max_accounts, \
             max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, \
             cancelled_at, created_at, updated_at, auto_renew) \
             SELECT 'NP-BTCH-{n:04}-AAAA-AAAA', customer_id, plan_id, billing_cycle, status, max_accounts, \
             max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, \
             cancelled_at, created_at, updated_at, auto_renew FROM licenses WHERE id = {first_id}"
        ))
        .await;
    }
    let report: Value = run(&app, &admin).await;
    assert_eq!(report["renewal_invoices"], LICENSES, "{report}");
    assert_eq!(
        app.query_strings("SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE kind = 'renewal'")
            .await,
        vec![LICENSES.to_string()]
    );
    // A second run finds nothing more to issue.
    assert_eq!(run(&app, &admin).await["renewal_invoices"], 0);

    // All of them overdue now: each is reminded in one run.
    let any = app
        .query_strings("SELECT CAST(MIN(id) AS TEXT) FROM invoices WHERE kind = 'renewal'")
        .await;
    let any: i64 = any[0].parse().unwrap();
    app.set_time(
        "invoices",
        "due_at",
        any,
        chrono::Utc::now() - chrono::Duration::days(1),
    )
    .await;
    app.exec(&format!(
        "UPDATE invoices SET due_at = (SELECT due_at FROM invoices WHERE id = {any}) WHERE kind = 'renewal'"
    ))
    .await;
    let report = run(&app, &admin).await;
    assert_eq!(report["reminders"], LICENSES, "{report}");
}

async fn run(app: &TestApp, admin: &str) -> Value {
    let (status, body) = app
        .post("/api/v1/billing/run", Some(admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}
