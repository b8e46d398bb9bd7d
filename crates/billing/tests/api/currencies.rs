//! Plans priced in several currencies, and customers billed in one: fixed by the first
//! order, used by renewals, plan changes and the reports.

use billing::config::Layer;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, plan_body};
use crate::payments::{shop_with, Shop};
use crate::stripe_fake::FakeStripe;

async fn plan_with(shop: &Shop, name: &str, other: Value) -> (StatusCode, Value) {
    let mut body = plan_body(name);
    body["other_prices"] = other;
    shop.app
        .post("/api/v1/plans", Some(&shop.admin), body)
        .await
}

async fn order(
    shop: &Shop,
    plan: &Value,
    username: &str,
    currency: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"plan_id": plan["id"], "billing_cycle": "monthly", "username": username});
    if let Some(c) = currency {
        body["currency"] = json!(c);
    }
    shop.try_order(body).await
}

#[tokio::test]
async fn a_customer_billed_in_euros_pays_euro_prices_everywhere() {
    let shop = shop_with(FakeStripe::start().await, Layer::default()).await;
    for (other, why) in [
        (json!({"USD": {"prices": {"monthly": 899}}}), "own currency"),
        (json!({"EUROS": {"prices": {"monthly": 899}}}), "EUROS"),
        (json!({"EUR": {"prices": {"weekly": 899}}}), "weekly"),
        (json!({"EUR": {"prices": {}}}), "at least one"),
    ] {
        let refused = assert_error(
            plan_with(&shop, "Bad", other).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("other_prices"),
        );
        assert!(
            refused["error"]["message"].as_str().unwrap().contains(why),
            "{refused}"
        );
    }
    let (status, euro) = plan_with(
        &shop,
        "Euro",
        json!({"EUR": {"prices": {"monthly": 899, "annual": 8990}, "setup_fee": 100}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{euro}");
    assert_eq!(euro["other_prices"]["EUR"]["prices"]["monthly"], 899);
    let (_, listed) = shop.app.get("/api/v1/plans", None).await;
    let listed = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Euro")
        .cloned()
        .unwrap();
    assert_eq!(listed["other_prices"]["EUR"]["setup_fee"], 100);
    let (_, usd_only) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), plan_body("Dollar"))
        .await;

    // The first order picks euros; the customer is billed in euros from then on.
    let (status, first) = order(&shop, &euro, "ada1", Some("eur")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (first["currency"].as_str(), first["total"].as_i64()),
        (Some("EUR"), Some(999))
    );
    let (_, me) = shop.app.get("/api/v1/me", Some(&shop.customer)).await;
    assert_eq!(me["billing_currency"], "EUR");
    let (status, second) = order(&shop, &euro, "ada2", None).await;
    assert_eq!(
        (status, second["currency"].as_str()),
        (StatusCode::CREATED, Some("EUR"))
    );
    assert_error(
        order(&shop, &euro, "ada3", Some("USD")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("currency"),
    );
    let refused = assert_error(
        order(&shop, &usd_only, "ada3", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("plan_id"),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no price in EUR"),
        "{refused}"
    );

    // Paid: the renewal is in euros; a move to a dollar-only plan is refused.
    let paid = shop.mark_paid(&first, "sepa").await;
    let license = paid["license_id"].as_i64().unwrap();
    let refused = assert_error(
        shop.app
            .post(
                &format!("/api/v1/me/licenses/{license}/plan-change"),
                Some(&shop.customer),
                json!({"plan_id": usd_only["id"]}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("plan_id"),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("EUR"),
        "{refused}"
    );
    shop.app
        .set_time(
            "licenses",
            "expires_at",
            license,
            Utc::now() + Duration::days(3),
        )
        .await;
    let (_, run) = shop
        .app
        .post("/api/v1/billing/run", Some(&shop.admin), json!({}))
        .await;
    assert_eq!(run["renewal_invoices"], 1, "{run}");
    let (_, open) = shop
        .app
        .get("/api/v1/me/invoices?status=open", Some(&shop.customer))
        .await;
    let renewal = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "renewal")
        .cloned()
        .unwrap();
    assert_eq!(
        (renewal["currency"].as_str(), renewal["total"].as_i64()),
        (Some("EUR"), Some(899))
    );

    // MRR counts it in euros.
    let (_, mrr) = shop
        .app
        .get("/api/v1/reports/mrr?months=1", Some(&shop.admin))
        .await;
    let eur = mrr["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "EUR")
        .cloned()
        .unwrap();
    assert_eq!(eur["points"][0]["value"], 899, "{mrr}");

    // Admins can move a customer to another currency (refusing what is not one).
    let path = format!("/api/v1/customers/{}", shop.customer_id);
    assert_error(
        shop.app
            .patch(
                &path,
                Some(&shop.admin),
                json!({"billing_currency": "EURO"}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        None,
    );
    let (status, moved) = shop
        .app
        .patch(&path, Some(&shop.admin), json!({"billing_currency": "usd"}))
        .await;
    assert_eq!(
        (status, moved["billing_currency"].as_str()),
        (StatusCode::OK, Some("USD"))
    );
}
