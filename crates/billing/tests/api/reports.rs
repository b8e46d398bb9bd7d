//! The dashboard's reports: MRR, revenue, new and cancelled services, overdue and
//! utilisation, as JSON and CSV.

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, plan_body};
use crate::payments::shop_with;
use crate::stripe_fake::FakeStripe;

fn this_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

/// The value of `series` at the current month.
fn now_value(report: &Value, series: &str) -> i64 {
    let s = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == series)
        .unwrap_or_else(|| panic!("no series {series}: {report}"));
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.last().unwrap()["label"], this_month());
    points.last().unwrap()["value"].as_i64().unwrap()
}

#[tokio::test]
async fn reports_add_up_what_happened() {
    let shop = shop_with(FakeStripe::start().await, Layer::default()).await;
    let mut annual = plan_body("Yearly");
    annual["prices"] = json!({"annual": 12_000});
    let (_, annual) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), annual)
        .await;
    let mut paid = Vec::new();
    for (username, plan, cycle) in [
        ("ada1", shop.plan, "monthly"),
        ("ada2", annual["id"].as_i64().unwrap(), "annual"),
        ("ada3", shop.plan, "monthly"),
    ] {
        let (_, invoice) = shop
            .app
            .post(
                &format!("/api/v1/customers/{}/orders", shop.customer_id),
                Some(&shop.admin),
                json!({"plan_id": plan, "username": username, "billing_cycle": cycle}),
            )
            .await;
        paid.push(
            shop.mark_paid(&invoice, &format!("transfer {username}"))
                .await,
        );
    }
    // One service cancelled, one refund of 4.99, one invoice overdue.
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/licenses/{}/cancel", paid[2]["license_id"]),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let payment = paid[0]["payments"][0]["id"].as_i64().unwrap();
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/payments/{payment}/refund"),
            Some(&shop.admin),
            json!({"amount": 499, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let open = shop.order("ada4").await;
    shop.app
        .set_time(
            "invoices",
            "due_at",
            open["id"].as_i64().unwrap(),
            chrono::Utc::now() - chrono::Duration::days(3),
        )
        .await;

    let get = |name: &'static str| {
        let app = &shop.app;
        let admin = shop.admin.clone();
        async move {
            let (status, report) = app
                .get(&format!("/api/v1/reports/{name}?months=6"), Some(&admin))
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            report
        }
    };
    // MRR: 9.99 a month, and 120.00 a year (10.00 a month); the cancelled one not at all.
    let mrr = get("mrr").await;
    assert_eq!(mrr["unit"], "minor_units");
    assert_eq!(now_value(&mrr, "USD"), 999 + 1000);
    assert_eq!(mrr["series"][0]["points"].as_array().unwrap().len(), 6);
    // Revenue: what was paid (14.99 with the setup fee, 120.00, 14.99) minus the refund.
    let revenue = get("revenue").await;
    assert_eq!(now_value(&revenue, "USD"), 1499 + 12_000 + 1499 - 499);
    let services = get("services").await;
    assert_eq!(
        (
            now_value(&services, "new"),
            now_value(&services, "cancelled")
        ),
        (3, 1)
    );
    let (_, overdue) = shop
        .app
        .get("/api/v1/reports/overdue", Some(&shop.admin))
        .await;
    let usd = overdue["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "USD")
        .unwrap();
    assert_eq!(usd["points"][0]["value"], 1499);
    let (_, utilisation) = shop
        .app
        .get("/api/v1/reports/utilisation", Some(&shop.admin))
        .await;
    let percent = utilisation["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "percent used")
        .unwrap();
    assert_eq!(percent["points"][0]["label"], "node-1");
    assert_eq!(
        percent["points"][0]["value"], 30,
        "3 accounts on 10 slots: {utilisation}"
    );

    // As CSV for spreadsheets.
    let resp = shop
        .app
        .client
        .get(shop.app.url("/api/v1/reports/services?months=2&format=csv"))
        .bearer_auth(&shop.admin)
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("series,currency,label,value\n"), "{csv}");
    assert!(csv.contains(&format!("new,,{},3", this_month())), "{csv}");
    assert!(
        csv.contains(&format!("cancelled,,{},1", this_month())),
        "{csv}"
    );

    // Bad input and who may read them.
    assert_error(
        shop.app
            .get("/api/v1/reports/mrr?months=99", Some(&shop.admin))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("months"),
    );
    assert_eq!(
        shop.app
            .get("/api/v1/reports/profit", Some(&shop.admin))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        shop.app
            .get("/api/v1/reports/mrr", Some(&shop.customer))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}
