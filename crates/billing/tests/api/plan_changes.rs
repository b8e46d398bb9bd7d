//! Plans that change mid-term: a prorated upgrade invoice, downgrades at the period's end
//! or at once into the credit balance, and the credit paying the next invoice.

use billing::config::Layer;
use chrono::{Months, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, plan_body};
use crate::payments::{shop_with, Shop};
use crate::stripe_fake::FakeStripe;

async fn plan(shop: &Shop, name: &str, monthly: i64, domains: i64) -> i64 {
    let mut body = plan_body(name);
    body["prices"] = json!({"monthly": monthly});
    body["quotas"]["max_domains"] = json!(domains);
    let (status, plan) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    plan["id"].as_i64().unwrap()
}

/// Orders Starter as the customer and pays it by transfer; answers the paid invoice.
async fn active_license(shop: &Shop, username: &str) -> Value {
    let invoice = shop.order(username).await;
    let paid = shop
        .mark_paid(&invoice, &format!("transfer {username}"))
        .await;
    shop.account_in_state(&paid["hosting_account_id"], "active")
        .await;
    paid
}

async fn change(shop: &Shop, license: i64, body: Value) -> (StatusCode, Value) {
    shop.app
        .post(
            &format!("/api/v1/me/licenses/{license}/plan-change"),
            Some(&shop.customer),
            body,
        )
        .await
}

async fn license(shop: &Shop, id: i64) -> Value {
    shop.app
        .get(&format!("/api/v1/licenses/{id}"), Some(&shop.admin))
        .await
        .1
}

/// The per-day rule of the README, computed here on its own: days from today to the
/// end of the period over the days of the period, rounded half up.
fn prorated(per_period: i64, expires: &str) -> i64 {
    let end = chrono::DateTime::parse_from_rfc3339(expires)
        .unwrap()
        .with_timezone(&Utc);
    let start = end.checked_sub_months(Months::new(1)).unwrap();
    let days = (end.date_naive() - start.date_naive()).num_days();
    let left = (end.date_naive() - Utc::now().date_naive()).num_days();
    (per_period * left * 2 + days) / (2 * days)
}

async fn shop() -> Shop {
    shop_with(FakeStripe::start().await, Layer::default()).await
}

#[tokio::test]
async fn an_upgrade_is_invoiced_for_the_rest_of_the_period_and_applied_when_paid() {
    let shop = shop().await;
    let pro = plan(&shop, "Pro", 1999, 50).await;
    let paid = active_license(&shop, "ada").await;
    let lic = paid["license_id"].as_i64().unwrap();
    let before = license(&shop, lic).await;
    // Lists name the customer and the server, not only their ids.
    let (_, accounts) = shop
        .app
        .get("/api/v1/nextpanel/accounts", Some(&shop.admin))
        .await;
    assert_eq!(accounts["items"][0]["server_name"], "node-1", "{accounts}");
    assert_eq!(accounts["items"][0]["customer_email"], "ada@example.com");
    let (_, invoices) = shop.app.get("/api/v1/invoices", Some(&shop.admin)).await;
    assert_eq!(
        invoices["items"][0]["customer_email"], "ada@example.com",
        "{invoices}"
    );
    assert_eq!(invoices["items"][0]["customer_name"], "Test Customer");

    let (status, up) = change(&shop, lic, json!({"plan_id": pro})).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(
        (up["direction"].as_str(), up["state"].as_str()),
        (Some("upgrade"), Some("awaiting_payment"))
    );
    let invoice = &up["invoice"];
    assert_eq!(invoice["kind"], "plan_change");
    assert_eq!(
        invoice["total"].as_i64(),
        Some(prorated(1000, before["expires_at"].as_str().unwrap()))
    );
    assert!(invoice["number"].as_str().unwrap().starts_with("INV-"));
    // One change at a time; the license keeps its plan until the invoice is paid.
    assert_error(
        change(&shop, lic, json!({"plan_id": pro})).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("plan_id"),
    );
    assert_eq!(license(&shop, lic).await["plan_id"], before["plan_id"]);

    // Cancelled: the invoice is void. Asked again and paid: the license moves.
    let (status, cancelled) = shop
        .app
        .call(
            "DELETE",
            &format!("/api/v1/me/licenses/{lic}/plan-change"),
            Some(&shop.customer),
            None,
        )
        .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    assert_eq!(shop.invoice(&invoice["id"]).await["status"], "void");
    let (_, up) = change(&shop, lic, json!({"plan_id": pro})).await;
    shop.mark_paid(&up["invoice"], "upgrade transfer").await;
    let after = license(&shop, lic).await;
    assert_eq!(after["plan_id"], pro);
    assert_eq!(after["quotas"]["max_domains"], 50);
    assert_eq!(
        after["expires_at"], before["expires_at"],
        "the period does not change"
    );
    let (_, history) = shop
        .app
        .get(
            &format!("/api/v1/me/licenses/{lic}/plan-changes"),
            Some(&shop.customer),
        )
        .await;
    assert_eq!(history[0]["state"], "applied");
    assert_eq!(history[1]["state"], "cancelled");
    // The panel follows through the account's change-plan job.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, jobs) = shop
            .app
            .get("/api/v1/jobs?state=done", Some(&shop.admin))
            .await;
        if jobs["items"]
            .as_array()
            .is_some_and(|j| j.iter().any(|j| j["kind"] == "change_plan"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no change_plan job done: {jobs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn downgrades_wait_for_the_period_end_or_credit_the_rest_which_pays_the_next_invoice() {
    let shop = shop().await;
    let mini = plan(&shop, "Mini", 499, 5).await;
    let tiny = plan(&shop, "Tiny", 199, 1).await;
    let paid = active_license(&shop, "ada").await;
    let lic = paid["license_id"].as_i64().unwrap();
    let before = license(&shop, lic).await;

    // Below what is in use: refused in words, nothing written.
    shop.app
        .exec(&format!(
            "INSERT INTO license_usage (license_id, resource, used, updated_at) VALUES ({lic}, 'domains', 3, '2026-01-01T00:00:00Z')"
        ))
        .await;
    let refused = assert_error(
        change(&shop, lic, json!({"plan_id": tiny})).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("plan_id"),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Tiny"),
        "{refused}"
    );
    assert_error(
        change(&shop, lic, json!({"plan_id": mini, "timing": "tomorrow"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("timing"),
    );

    // By default at the period's end: scheduled, the plan unchanged for now.
    let (status, down) = change(&shop, lic, json!({"plan_id": mini})).await;
    assert_eq!(status, StatusCode::CREATED, "{down}");
    assert_eq!(
        (down["direction"].as_str(), down["state"].as_str()),
        (Some("downgrade"), Some("scheduled"))
    );
    assert_eq!(down["effective_at"], before["expires_at"]);
    assert_eq!(license(&shop, lic).await["plan_id"], before["plan_id"]);
    // Cancelled, then taken now: the unused difference becomes credit.
    shop.app
        .call(
            "DELETE",
            &format!("/api/v1/me/licenses/{lic}/plan-change"),
            Some(&shop.customer),
            None,
        )
        .await;
    let (status, now) = change(&shop, lic, json!({"plan_id": mini, "timing": "now"})).await;
    assert_eq!(status, StatusCode::CREATED, "{now}");
    assert_eq!(now["state"], "applied");
    let credit = prorated(500, before["expires_at"].as_str().unwrap());
    assert_eq!(now["credit"].as_i64(), Some(credit));
    assert_eq!(license(&shop, lic).await["plan_id"], mini);
    let (_, mine) = shop
        .app
        .get("/api/v1/me/credit", Some(&shop.customer))
        .await;
    assert_eq!(
        mine["balances"][0]["balance"].as_i64(),
        Some(credit),
        "{mine}"
    );

    // The next invoice is paid by the credit first.
    let next = shop.order("ada2").await;
    assert_eq!(next["credit_applied"].as_i64(), Some(credit));
    assert_eq!(next["total"].as_i64(), Some(1499 - credit));
    let (_, mine) = shop
        .app
        .get("/api/v1/me/credit", Some(&shop.customer))
        .await;
    assert_eq!(mine["balances"][0]["balance"], 0);
    // Voided, it gives the credit back.
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/invoices/{}/void", next["id"]),
            Some(&shop.admin),
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, mine) = shop
        .app
        .get("/api/v1/me/credit", Some(&shop.customer))
        .await;
    assert_eq!(mine["balances"][0]["balance"].as_i64(), Some(credit));
}

#[tokio::test]
async fn admins_adjust_credit_with_a_reason_and_changes_need_an_active_license() {
    let shop = shop().await;
    let pro = plan(&shop, "Pro", 1999, 50).await;
    let path = format!("/api/v1/customers/{}/credit", shop.customer_id);
    for (body, field) in [
        (
            json!({"currency": "USD", "amount": 500, "reason": ""}),
            "reason",
        ),
        (
            json!({"currency": "USD", "amount": 0, "reason": "x"}),
            "amount",
        ),
        (
            json!({"currency": "USD", "amount": -1, "reason": "x"}),
            "amount",
        ),
        (
            json!({"currency": "usdx", "amount": 5, "reason": "x"}),
            "currency",
        ),
    ] {
        assert_error(
            shop.app.post(&path, Some(&shop.admin), body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(field),
        );
    }
    let (status, credit) = shop
        .app
        .post(
            &path,
            Some(&shop.admin),
            json!({"currency": "USD", "amount": 2500, "reason": "outage goodwill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{credit}");
    assert_eq!(credit["balances"][0]["balance"], 2500);
    assert_eq!(credit["entries"][0]["reason"], "outage goodwill");
    assert_eq!(shop.app.count("credit_entries").await, 1);
    let audited = shop
        .app
        .query_strings("SELECT action FROM audit_log WHERE action = 'credit.adjusted'")
        .await;
    assert_eq!(audited.len(), 1);
    // Customers cannot give themselves credit.
    assert_eq!(
        shop.app
            .post(
                &path,
                Some(&shop.customer),
                json!({"currency": "USD", "amount": 1, "reason": "x"})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // The order is paid by the credit alone: settled at once, nothing to pay.
    let invoice = shop.order("ada").await;
    assert_eq!(
        (
            invoice["total"].as_i64(),
            invoice["credit_applied"].as_i64()
        ),
        (Some(0), Some(1499))
    );
    assert_eq!(invoice["status"], "paid");
    let lic = invoice["license_id"].as_i64().unwrap();

    // A suspended license cannot change plan.
    let (status, _) = shop
        .app
        .patch(
            &format!("/api/v1/licenses/{lic}"),
            Some(&shop.admin),
            json!({"status": "suspended"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let refused = assert_error(
        change(&shop, lic, json!({"plan_id": pro})).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("plan_id"),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("suspended"),
        "{refused}"
    );
    // Nobody else's license.
    let (_, other) = shop.app.customer(&shop.admin, "bob@example.com").await;
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/me/licenses/{lic}/plan-change"),
            Some(&other),
            json!({"plan_id": pro}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
