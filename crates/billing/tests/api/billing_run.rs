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
    let first_id = license_due_soon(&app, &admin).await;
    copy_license(&app, first_id, "BTCH", LICENSES - 1).await;
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

/// Ada's license of a new plan, expiring in three days (due for renewal); its id.
async fn license_due_soon(app: &TestApp, admin: &str) -> i64 {
    let plan = app.plan(admin, "Starter").await;
    let (customer, _) = app.customer(admin, "ada@example.com").await;
    let license = app.license(admin, customer, plan).await;
    let id = license["id"].as_i64().unwrap();
    app.set_time(
        "licenses",
        "expires_at",
        id,
        chrono::Utc::now() + chrono::Duration::days(3),
    )
    .await;
    id
}

/// The sequence numbers of invoice numbers (`INV-2026-000042` is 42), in the order given.
fn sequence_of(numbers: &[String]) -> Vec<i64> {
    numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect()
}

/// `seqs` go up one by one, with no gap.
fn assert_consecutive(seqs: &[i64], numbers: &[String]) {
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + seqs.len() as i64).collect::<Vec<_>>(),
        "{numbers:?}"
    );
}

/// Adds `copies` copies of a license (same times, as each engine stores them, so they
/// expire with it), keyed `NP-<tag>-0001-AAAA-AAAA` on.
async fn copy_license(app: &TestApp, license_id: i64, tag: &str, copies: i64) {
    for n in 1..=copies {
        app.exec(&format!(
            "INSERT INTO licenses (license_key, customer_id, plan_id, billing_cycle, status, max_accounts, \
             max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, \
             cancelled_at, created_at, updated_at, auto_renew) \
             SELECT 'NP-{tag}-{n:04}-AAAA-AAAA', customer_id, plan_id, billing_cycle, status, max_accounts, \
             max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, \
             cancelled_at, created_at, updated_at, auto_renew FROM licenses WHERE id = {license_id}"
        ))
        .await;
    }
}

async fn run(app: &TestApp, admin: &str) -> Value {
    let (status, body) = app
        .post("/api/v1/billing/run", Some(admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Renewals are issued a hundred to a transaction, reading what they share once: a
/// customer's credit is shared out over their renewals in the same group (not given to
/// each in full), and the numbers follow on without gaps.
#[tokio::test]
async fn renewals_issued_together_share_out_credit_and_number_without_gaps() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await; // 9.99 a month
    let (ada, _) = app.customer(&admin, "ada@example.com").await;
    let (bob, _) = app.customer(&admin, "bob@example.com").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/customers/{ada}/credit"),
            Some(&admin),
            json!({"currency": "USD", "amount": 1500, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let soon = chrono::Utc::now() + chrono::Duration::days(3);
    let mut licenses = Vec::new();
    for customer in [ada, bob, ada] {
        let license = app.license(&admin, customer, plan).await;
        let id = license["id"].as_i64().unwrap();
        app.set_time("licenses", "expires_at", id, soon).await;
        licenses.push(id);
    }
    let before = app
        .query_strings("SELECT CAST(COUNT(*) AS TEXT) FROM invoices")
        .await;

    let report = run(&app, &admin).await;
    assert_eq!(report["renewal_invoices"], 3, "{report}");
    // Ada's 15.00 pays her first renewal (9.99) and 5.01 of her second.
    let rows = app
        .query_strings(
            "SELECT CAST(license_id AS TEXT) || ' ' || CAST(credit_applied_minor AS TEXT) || ' ' || \
             CAST(total_minor AS TEXT) FROM invoices WHERE kind = 'renewal' ORDER BY license_id",
        )
        .await;
    assert_eq!(
        rows,
        vec![
            format!("{} 999 0", licenses[0]),
            format!("{} 0 999", licenses[1]),
            format!("{} 501 498", licenses[2]),
        ]
    );
    let credit = app
        .get(&format!("/api/v1/customers/{ada}/credit"), Some(&admin))
        .await
        .1;
    assert_eq!(credit["balances"][0]["balance"], 0, "{credit}");
    // One "invoice created" email per renewal with something to pay, one audit entry each.
    let mails = app
        .query_strings(
            "SELECT CAST(COUNT(*) AS TEXT) FROM email_outbox WHERE template = 'invoice_created' \
             AND event_key IN (SELECT 'invoice_created:' || CAST(id AS TEXT) FROM invoices WHERE kind = 'renewal')",
        )
        .await;
    assert_eq!(mails, vec!["2"]);
    let audited = app
        .query_strings(
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_log WHERE action = 'invoice.created' \
             AND entity_id IN (SELECT id FROM invoices WHERE kind = 'renewal')",
        )
        .await;
    assert_eq!(audited, vec!["3"]);
    // Every invoice has a number, each different, and the renewals' follow the orders'.
    let numbers = app
        .query_strings("SELECT number FROM invoices ORDER BY id")
        .await;
    let before: usize = before[0].parse().unwrap();
    assert_eq!(numbers.len(), before + 3);
    assert_consecutive(&sequence_of(&numbers), &numbers);
}

/// Two billing runs at once (two instances) issue each renewal once, and the numbers
/// still have no gaps: the run that finds a renewal already issued gives its group's
/// numbers back and issues the rest one by one.
#[tokio::test]
async fn two_runs_at_once_issue_each_renewal_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let first_id = license_due_soon(&app, &admin).await;
    const DUE: i64 = 250;
    copy_license(&app, first_id, "TWIN", DUE - 1).await;
    let (a, b) = tokio::join!(run(&app, &admin), run(&app, &admin));
    let issued = a["renewal_invoices"].as_i64().unwrap() + b["renewal_invoices"].as_i64().unwrap();
    assert_eq!(issued, DUE, "{a} {b}");
    let per_license = app
        .query_strings(
            "SELECT CAST(COUNT(*) AS TEXT) FROM invoices WHERE kind = 'renewal' \
             GROUP BY license_id HAVING COUNT(*) > 1",
        )
        .await;
    assert!(
        per_license.is_empty(),
        "licenses renewed twice: {per_license:?}"
    );
    let numbers = app.query_strings("SELECT number FROM invoices").await;
    let mut seqs = sequence_of(&numbers);
    seqs.sort_unstable();
    assert_consecutive(&seqs, &numbers);
}
