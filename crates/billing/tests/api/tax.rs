//! Tax rates, taxed invoices with gapless numbers, the EU reverse charge and the tax
//! report, on the real server.

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

fn year() -> String {
    chrono::Utc::now().format("%Y").to_string()
}

/// A shop in Germany that takes orders without a server (the tax is what is tested).
async fn shop() -> (TestApp, String, i64) {
    let app = TestApp::spawn_with(Layer {
        company_country: Some("DE".into()),
        company_tax_id: Some("DE123456789".into()),
        accept_orders_when_full: Some(true),
        ..Layer::default()
    })
    .await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    (app, admin, plan)
}

async fn rate(app: &TestApp, admin: &str, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/tax-rates", Some(admin), body).await
}

async fn customer_in(app: &TestApp, admin: &str, email: &str, billing: Value) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/customers",
            Some(admin),
            json!({"email": email, "full_name": "Ada Lovelace", "company_name": "Analytical Ltd",
                   "password": "customer-password-1", "billing": billing}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn order(app: &TestApp, admin: &str, customer: i64, plan: i64, username: &str) -> Value {
    let (status, invoice) = app
        .post(
            &format!("/api/v1/customers/{customer}/orders"),
            Some(admin),
            json!({"plan_id": plan, "username": username, "billing_cycle": "monthly"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    invoice
}

async fn mark_paid(app: &TestApp, admin: &str, invoice: &Value) -> Value {
    let (status, paid) = app
        .post(
            &format!("/api/v1/invoices/{}/mark-paid", invoice["id"]),
            Some(admin),
            json!({"reference": format!("SEPA transfer for {}", invoice["number"])}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    paid
}

#[tokio::test]
async fn rates_are_checked_and_invoices_carry_tax_per_line() {
    let (app, admin, plan) = shop().await;
    // Bad rates are refused naming the field, and nothing is stored.
    for (body, field) in [
        (
            json!({"name": "VAT", "rate_bp": 10_001, "country": "DE", "valid_from": "2020-01-01"}),
            "rate_bp",
        ),
        (
            json!({"name": "VAT", "rate_bp": -1, "country": "DE", "valid_from": "2020-01-01"}),
            "rate_bp",
        ),
        (
            json!({"name": "VAT", "rate_bp": 1900, "country": "Germany", "valid_from": "2020-01-01"}),
            "country",
        ),
        (
            json!({"name": "", "rate_bp": 1900, "country": "DE", "valid_from": "2020-01-01"}),
            "name",
        ),
        (
            json!({"name": "VAT", "rate_bp": 1900, "country": "DE", "valid_from": "2020-01-01", "valid_to": "2019-01-01"}),
            "valid_to",
        ),
    ] {
        assert_error(
            rate(&app, &admin, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(field),
        );
    }
    assert_eq!(app.count("tax_rates").await, 0);
    let (status, de) = rate(
        &app,
        &admin,
        json!({"name": "VAT", "rate_bp": 1900, "country": "de", "valid_from": "2020-01-01"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{de}");
    assert_eq!(
        (de["country"].as_str(), de["rate_display"].as_str()),
        (Some("DE"), Some("19%"))
    );
    // A second rate for the same place and days overlaps; another region or period does not.
    assert_error(
        rate(
            &app,
            &admin,
            json!({"name": "MwSt", "rate_bp": 700, "country": "DE", "valid_from": "2026-01-01"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("valid_from"),
    );
    let (status, _) = rate(
        &app,
        &admin,
        json!({"name": "Sales tax", "rate_bp": 825, "country": "US", "region": "TX", "valid_from": "2020-01-01"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // A tax id in the wrong format for its country is refused beside its field.
    let (status, body) = app
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"email": "bad@example.com", "full_name": "Bad", "billing": {"country": "DE", "tax_id": "DE123"}}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("billing.tax_id")),
        "{body}"
    );

    // A German customer pays 19 % on top of the plan's 9.99.
    let ada = customer_in(
        &app,
        &admin,
        "ada@example.com",
        json!({"address": "Unter den Linden 1\nBerlin", "postal_code": "10117", "country": "DE"}),
    )
    .await;
    let invoice = order(&app, &admin, ada, plan, "ada1").await;
    assert_eq!(invoice["number"], format!("INV-{}-000001", year()));
    assert_eq!(
        (
            invoice["subtotal"].as_i64(),
            invoice["tax"].as_i64(),
            invoice["total"].as_i64()
        ),
        (Some(999), Some(190), Some(1189))
    );
    let line = &invoice["lines"][0];
    assert_eq!(
        (
            line["amount"].as_i64(),
            line["tax"].as_i64(),
            line["tax_rate_bp"].as_i64()
        ),
        (Some(999), Some(190), Some(1900))
    );
    assert_eq!(line["tax_name"], "VAT");
    assert_eq!(invoice["buyer"]["country"], "DE");
    assert_eq!(
        invoice["buyer"]["address"],
        "Unter den Linden 1\nBerlin\n10117"
    );
    assert_eq!(invoice["reverse_charge"], false);

    // A French business with a VAT number: reverse charge, no VAT, the note says so.
    let fr = customer_in(
        &app,
        &admin,
        "fr@example.com",
        json!({"country": "FR", "tax_id": "FR XX 123456789"}),
    )
    .await;
    let rc = order(&app, &admin, fr, plan, "frbiz").await;
    assert_eq!(rc["number"], format!("INV-{}-000002", year()));
    assert_eq!(
        (rc["tax"].as_i64(), rc["total"].as_i64()),
        (Some(0), Some(999))
    );
    assert_eq!(rc["reverse_charge"], true);
    assert!(rc["tax_note"].as_str().unwrap().contains("Reverse charge"));
    assert_eq!(rc["buyer"]["tax_id"], "FRXX123456789");

    // Prices including tax: the customer pays the list price, of which 1.60 is VAT.
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/settings/tax",
            Some(&admin),
            Some(json!({"prices_include_tax": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let incl = order(&app, &admin, ada, plan, "ada2").await;
    assert_eq!(
        (
            incl["subtotal"].as_i64(),
            incl["tax"].as_i64(),
            incl["total"].as_i64()
        ),
        (Some(839), Some(160), Some(999))
    );
    assert_eq!(incl["prices_include_tax"], true);
    // The first invoice did not change.
    let (_, first) = app
        .get(&format!("/api/v1/invoices/{}", invoice["id"]), Some(&admin))
        .await;
    assert_eq!(first["total"], 1189);

    // A rate invoices used keeps its rate; it can be ended, not deleted.
    let path = format!("/api/v1/tax-rates/{}", de["id"]);
    assert_error(
        app.patch(&path, Some(&admin), json!({"rate_bp": 2000}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("rate_bp"),
    );
    assert_error(
        app.call("DELETE", &path, Some(&admin), None).await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );
    let (status, ended) = app
        .patch(&path, Some(&admin), json!({"valid_to": "2030-12-31"}))
        .await;
    assert_eq!(
        (status, ended["valid_to"].as_str()),
        (StatusCode::OK, Some("2030-12-31"))
    );
    assert_eq!(ended["in_use"], true);
    // Customers and staff read their own invoices but cannot manage rates.
    let customer = app.login("ada@example.com", "customer-password-1").await;
    assert_eq!(
        rate(&app, &customer, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, mine) = app
        .get(
            &format!("/api/v1/me/invoices?number=INV-{}-000001", year()),
            Some(&customer),
        )
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, theirs) = app
        .get(
            &format!("/api/v1/me/invoices?number=INV-{}-000002", year()),
            Some(&customer),
        )
        .await;
    assert_eq!(
        theirs["items"],
        json!([]),
        "another customer's invoice is not found"
    );
}

#[tokio::test]
async fn the_tax_report_sums_paid_invoices_and_deducts_refunds() {
    let (app, admin, plan) = shop().await;
    rate(
        &app,
        &admin,
        json!({"name": "VAT", "rate_bp": 1900, "country": "DE", "valid_from": "2020-01-01"}),
    )
    .await;
    let ada = customer_in(&app, &admin, "ada@example.com", json!({"country": "DE"})).await;
    let fr = customer_in(
        &app,
        &admin,
        "fr@example.com",
        json!({"country": "FR", "tax_id": "FRXX123456789"}),
    )
    .await;
    let a1 = mark_paid(&app, &admin, &order(&app, &admin, ada, plan, "ada1").await).await;
    mark_paid(&app, &admin, &order(&app, &admin, ada, plan, "ada2").await).await;
    mark_paid(&app, &admin, &order(&app, &admin, fr, plan, "frbiz").await).await;
    let unpaid = order(&app, &admin, ada, plan, "unpaid").await;
    // A bank reference is one transfer: using it for another invoice is refused, not
    // taken for a replay that leaves the invoice open behind a 200.
    assert_error(
        app.post(
            &format!("/api/v1/invoices/{}/mark-paid", unpaid["id"]),
            Some(&admin),
            json!({"reference": format!("SEPA transfer for {}", a1["number"])}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("reference"),
    );
    // 5.95 of the first 11.89 given back: 0.95 of it was VAT.
    let payment = a1["payments"][0]["id"].as_i64().unwrap();
    let (status, refund) = app
        .post(
            &format!("/api/v1/payments/{payment}/refund"),
            Some(&admin),
            json!({"amount": 595, "reason": "outage"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refund}");
    assert_eq!(refund["credit_note"]["invoice_number"], a1["number"]);

    let today = chrono::Utc::now().date_naive();
    let q = format!("from={today}&to={today}");
    let (status, report) = app
        .get(&format!("/api/v1/reports/tax?{q}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{report}");
    let de = rows.iter().find(|r| r["country"] == "DE").unwrap();
    assert_eq!(de["tax"], "VAT");
    assert_eq!(de["invoices"], 2);
    assert_eq!(
        (de["taxable"].as_i64(), de["tax_amount"].as_i64()),
        (Some(1998), Some(380))
    );
    assert_eq!(
        (de["refunded_taxable"].as_i64(), de["refunded_tax"].as_i64()),
        (Some(500), Some(95))
    );
    assert_eq!(
        (de["net_taxable"].as_i64(), de["net_tax"].as_i64()),
        (Some(1498), Some(285))
    );
    let fr_row = rows.iter().find(|r| r["country"] == "FR").unwrap();
    assert_eq!(
        (fr_row["tax"].as_str(), fr_row["tax_amount"].as_i64()),
        (Some("Reverse charge"), Some(0))
    );
    assert_eq!(fr_row["taxable"], 999);

    let resp = app
        .client
        .get(app.url(&format!("/api/v1/reports/tax.csv?{q}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert!(
        csv.starts_with("country,tax,rate_bp,currency,invoices,taxable,tax,"),
        "{csv}"
    );
    assert!(
        csv.contains("DE,VAT,1900,USD,2,1998,380,500,95,1498,285"),
        "{csv}"
    );
    assert!(
        csv.contains("FR,Reverse charge,0,USD,1,999,0,0,0,999,0"),
        "{csv}"
    );

    // A day with nothing paid reports nothing; a reversed period is refused.
    let (_, empty) = app
        .get(
            "/api/v1/reports/tax?from=2001-01-01&to=2001-01-31",
            Some(&admin),
        )
        .await;
    assert_eq!(empty["rows"], json!([]));
    assert_error(
        app.get(
            "/api/v1/reports/tax?from=2026-02-01&to=2026-01-01",
            Some(&admin),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("to"),
    );
}

#[tokio::test]
async fn concurrent_orders_get_consecutive_numbers_without_gaps() {
    let (app, admin, plan) = shop().await;
    let ada = customer_in(&app, &admin, "ada@example.com", json!({})).await;
    let mut calls = Vec::new();
    for i in 0..60 {
        let (app_client, url, admin) = (
            app.client.clone(),
            app.url(&format!("/api/v1/customers/{ada}/orders")),
            admin.clone(),
        );
        // Every fifth asks for a username another order already holds: refused after
        // the checks of its transaction, it must not use up a number.
        let username = if i % 5 == 4 {
            "taken".to_owned()
        } else {
            format!("user{i}")
        };
        calls.push(tokio::spawn(async move {
            app_client
                .post(url)
                .bearer_auth(admin)
                .json(&json!({"plan_id": plan, "username": username}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for c in calls {
        if let Some(n) = c.await.unwrap()["number"].as_str() {
            numbers.push(n.to_owned());
        }
    }
    numbers.sort();
    let expected: Vec<String> = (1..=numbers.len())
        .map(|n| format!("INV-{}-{n:06}", year()))
        .collect();
    assert_eq!(numbers, expected);
    assert!(
        numbers.len() >= 49,
        "48 distinct usernames plus 'taken' at least once: {numbers:?}"
    );
}

/// The sequence itself under 200 concurrent transactions, a fifth of them rolled back:
/// the committed numbers are 1..=160, each once.
#[tokio::test]
async fn the_sequence_is_gapless_under_concurrency_and_rollbacks() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let db = app.db.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let attempt = async {
                    let mut tx = db.begin().await?;
                    let n =
                        billing::store::refunds::next_in_sequence(&mut tx, "test", 2026).await?;
                    billing::store::settings::put(
                        &mut tx,
                        &format!("test.{n}"),
                        "x",
                        billing::store::now(),
                    )
                    .await?;
                    if i % 5 == 0 {
                        tx.rollback().await?;
                    } else {
                        tx.commit().await?;
                    }
                    Ok::<(), billing::store::StoreError>(())
                };
                match attempt.await {
                    Ok(()) => break,
                    // PostgreSQL may refuse a conflicting transaction; the caller retries.
                    Err(e)
                        if e.to_string().contains("could not serialize")
                            || e.to_string().contains("deadlock") =>
                    {
                        continue
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut keys = app
        .query_strings("SELECT key FROM settings WHERE key LIKE 'test.%'")
        .await;
    let mut got: Vec<i64> = keys.drain(..).map(|k| k[5..].parse().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=160).collect::<Vec<i64>>());
}
