//! Races: twenty requests released at once by a barrier against every write that decides
//! from state, on both engines, each followed (when the app is dropped) by the ledger
//! check. Only one of racing payments, voids, downgrades, cancels or same-name orders may
//! win; credit is never spent twice; a route added to the OpenAPI document is raced here
//! or listed with the reason it needs no race.

use std::collections::BTreeSet;
use std::sync::Arc;

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::payments::{shop_with, Shop};
use crate::stripe_fake::FakeStripe;

/// How many requests race.
const AT_ONCE: usize = 20;

/// One request of a race.
#[derive(Clone)]
struct Call {
    method: &'static str,
    path: String,
    token: String,
    body: Value,
}

fn post(path: impl Into<String>, token: &str, body: Value) -> Call {
    Call {
        method: "POST",
        path: path.into(),
        token: token.to_owned(),
        body,
    }
}

/// Sends every call at once (each waits at a barrier until all are ready) and answers
/// the statuses and bodies in the order given.
async fn race(base: &str, calls: Vec<Call>) -> Vec<(StatusCode, Value)> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(calls.len()));
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|call| {
            let client = client.clone();
            let barrier = barrier.clone();
            let url = format!("{base}{}", call.path);
            tokio::spawn(async move {
                let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap();
                let mut request = client.request(method, url).json(&call.body);
                if !call.token.is_empty() {
                    request = request.bearer_auth(&call.token);
                }
                barrier.wait().await;
                let response = request.send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                (
                    status,
                    serde_json::from_str(&text).unwrap_or(Value::String(text)),
                )
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    for (status, body) in &out {
        assert!(
            !status.is_server_error(),
            "a racing request failed: {status} {body}"
        );
    }
    out
}

fn count(answers: &[(StatusCode, Value)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

async fn shop() -> Shop {
    shop_with(FakeStripe::start().await, Layer::default()).await
}

async fn plan(shop: &Shop, name: &str, monthly: i64) -> i64 {
    let mut body = crate::helpers::plan_body(name);
    body["prices"] = json!({ "monthly": monthly });
    let (status, plan) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    plan["id"].as_i64().unwrap()
}

async fn give_credit(shop: &Shop, amount: i64) {
    let (status, body) = shop
        .app
        .post(
            &format!("/api/v1/customers/{}/credit", shop.customer_id),
            Some(&shop.admin),
            json!({"currency": "USD", "amount": amount, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn balance(shop: &Shop) -> i64 {
    let (_, credit) = shop
        .app
        .get(
            &format!("/api/v1/customers/{}/credit", shop.customer_id),
            Some(&shop.admin),
        )
        .await;
    credit["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "USD")
        .map_or(0, |b| b["balance"].as_i64().unwrap())
}

/// 50.00 of credit and twenty orders of 29.99 at once: the credit pays 29.99 of one and
/// 20.01 of another, and no more.
#[tokio::test]
async fn racing_orders_spend_the_credit_once() {
    let shop = shop().await;
    let cheap = plan(&shop, "Basic", 2999).await;
    give_credit(&shop, 5000).await;
    let calls = (0..AT_ONCE)
        .map(|n| {
            post(
                "/api/v1/me/orders",
                &shop.customer,
                json!({"plan_id": cheap, "billing_cycle": "monthly", "username": format!("racer{n}")}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    assert_eq!(count(&answers, StatusCode::CREATED), AT_ONCE, "{answers:?}");
    let applied: i64 = answers
        .iter()
        .map(|(_, i)| i["credit_applied"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(applied, 5000, "{answers:?}");
    let paid_by_credit = answers
        .iter()
        .filter(|(_, i)| i["total"].as_i64() == Some(0))
        .count();
    assert_eq!(paid_by_credit, 1, "{answers:?}");
    assert_eq!(balance(&shop).await, 0);
}

/// Twenty adjustments of -4.00 on 50.00: twelve are made, eight refused, 2.00 is left.
#[tokio::test]
async fn racing_adjustments_never_take_the_balance_below_zero() {
    let shop = shop().await;
    give_credit(&shop, 5000).await;
    let path = format!("/api/v1/customers/{}/credit", shop.customer_id);
    let calls = (0..AT_ONCE)
        .map(|_| {
            post(
                path.clone(),
                &shop.admin,
                json!({"currency": "USD", "amount": -400, "reason": "correction"}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    assert_eq!(count(&answers, StatusCode::OK), 12, "{answers:?}");
    assert_eq!(
        count(&answers, StatusCode::UNPROCESSABLE_ENTITY),
        8,
        "{answers:?}"
    );
    assert_eq!(balance(&shop).await, 200);
}

/// An active license of the shop's plan (Starter, 9.99), paid by transfer.
async fn active_license(shop: &Shop, username: &str) -> i64 {
    let invoice = shop.order(username).await;
    let paid = shop
        .mark_paid(&invoice, &format!("transfer {username}"))
        .await;
    paid["license_id"].as_i64().unwrap()
}

/// Twenty immediate downgrades of one license at once: one is made and its unused
/// difference credited once; then ten cancels of a pending upgrade: one cancels it.
#[tokio::test]
async fn racing_plan_changes_make_one_change_and_credit_it_once() {
    let shop = shop().await;
    let mini = plan(&shop, "Mini", 199).await;
    let pro = plan(&shop, "Pro", 2999).await;
    let license = active_license(&shop, "ada").await;
    let path = format!("/api/v1/me/licenses/{license}/plan-change");
    let calls = (0..AT_ONCE)
        .map(|_| {
            post(
                path.clone(),
                &shop.customer,
                json!({"plan_id": mini, "timing": "now"}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    let made = answers.iter().filter(|(s, _)| s.is_success()).count();
    assert_eq!(made, 1, "{answers:?}");
    let credits = shop
        .app
        .query_strings(
            "SELECT CAST(COUNT(*) AS TEXT) FROM credit_entries WHERE plan_change_id IS NOT NULL",
        )
        .await;
    assert_eq!(credits, ["1"]);

    let (status, change) = shop
        .app
        .post(&path, Some(&shop.customer), json!({"plan_id": pro}))
        .await;
    assert!(status.is_success(), "{change}");
    assert_eq!(change["state"], "awaiting_payment", "{change}");
    let calls = (0..10)
        .map(|_| Call {
            method: "DELETE",
            path: path.clone(),
            token: shop.customer.clone(),
            body: json!({}),
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    assert_eq!(
        answers.iter().filter(|(s, _)| s.is_success()).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(count(&answers, StatusCode::NOT_FOUND), 9, "{answers:?}");
}

/// Twenty transfers recorded at once against one invoice: one pays it, the others are
/// refused before anything is recorded.
#[tokio::test]
async fn racing_mark_paid_records_one_payment() {
    let shop = shop().await;
    let invoice = shop.order("ada").await;
    let path = format!("/api/v1/invoices/{}/mark-paid", invoice["id"]);
    let calls = (0..AT_ONCE)
        .map(|n| {
            post(
                path.clone(),
                &shop.admin,
                json!({"reference": format!("transfer {n}")}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    assert_eq!(
        count(&answers, StatusCode::CONFLICT),
        AT_ONCE - 1,
        "{answers:?}"
    );
    assert_eq!(shop.app.count("payments").await, 1);
}

/// Ten marks and ten voids of one invoice at once: exactly one of them happens.
#[tokio::test]
async fn racing_mark_paid_and_void_let_one_win() {
    let shop = shop().await;
    let invoice = shop.order("ada").await;
    let id = &invoice["id"];
    let calls = (0..AT_ONCE)
        .map(|n| {
            if n % 2 == 0 {
                post(
                    format!("/api/v1/invoices/{id}/mark-paid"),
                    &shop.admin,
                    json!({"reference": format!("transfer {n}")}),
                )
            } else {
                post(
                    format!("/api/v1/invoices/{id}/void"),
                    &shop.admin,
                    json!({"reason": "duplicate"}),
                )
            }
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    assert_eq!(count(&answers, StatusCode::OK), 1, "{answers:?}");
    let after = shop.invoice(id).await;
    let payments = shop.app.count("payments").await;
    match after["status"].as_str() {
        Some("paid") => assert_eq!(payments, 1),
        Some("void") => assert_eq!(payments, 0),
        other => panic!("the invoice is {other:?}"),
    }
}

/// Twenty orders for one hosting username (from one customer, and from two): one is
/// taken, the others are told the name is held.
#[tokio::test]
async fn racing_orders_for_one_username_make_one_order() {
    let shop = shop().await;
    let (_, bob) = shop.app.customer(&shop.admin, "bob@example.com").await;
    let calls = (0..AT_ONCE)
        .map(|n| {
            let token = if n % 4 == 0 { &bob } else { &shop.customer };
            post(
                "/api/v1/me/orders",
                token,
                json!({"plan_id": shop.plan, "billing_cycle": "monthly", "username": "shared"}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(
        count(&answers, StatusCode::CONFLICT),
        AT_ONCE - 1,
        "{answers:?}"
    );
    for (status, body) in &answers {
        if *status == StatusCode::CONFLICT {
            assert_eq!(body["error"]["field"], "username", "{body}");
        }
    }
    // The one order is paid and provisioned; the name cannot be ordered again meanwhile.
    let (_, order) = answers
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap();
    let paid = shop.mark_paid(order, "transfer shared").await;
    shop.account_in_state(&paid["hosting_account_id"], "active")
        .await;
    let (status, body) = shop
        .app
        .post(
            "/api/v1/me/orders",
            Some(&bob),
            json!({"plan_id": shop.plan, "billing_cycle": "monthly", "username": "shared"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// Twenty partial refunds of one payment at once never give back more than was paid.
#[tokio::test]
async fn racing_refunds_never_exceed_the_payment() {
    let shop = shop().await;
    let invoice = shop.order("ada").await;
    shop.mark_paid(&invoice, "transfer ada").await;
    let payment = shop
        .app
        .query_strings("SELECT CAST(id AS TEXT) FROM payments")
        .await;
    let path = format!("/api/v1/payments/{}/refund", payment[0]);
    let calls = (0..AT_ONCE)
        .map(|_| {
            post(
                path.clone(),
                &shop.admin,
                json!({"amount": 400, "reason": "goodwill"}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    // 14.99 paid: three refunds of 4.00 fit.
    assert_eq!(count(&answers, StatusCode::OK), 3, "{answers:?}");
}

/// Twenty admin provisionings of one username at once: one account.
#[tokio::test]
async fn racing_admin_provisioning_makes_one_account_per_username() {
    let shop = shop().await;
    let license = active_license(&shop, "ada").await;
    let _ = license;
    let calls = (0..AT_ONCE)
        .map(|_| {
            post(
                "/api/v1/nextpanel/provision",
                &shop.admin,
                json!({"customer_id": shop.customer_id, "username": "twin", "plan_id": shop.plan}),
            )
        })
        .collect();
    let answers = race(&shop.app.base, calls).await;
    let made = answers.iter().filter(|(s, _)| s.is_success()).count();
    assert_eq!(made, 1, "{answers:?}");
    let live = shop
        .app
        .query_strings(
            "SELECT CAST(COUNT(*) AS TEXT) FROM hosting_accounts WHERE username = 'twin'",
        )
        .await;
    assert_eq!(live, ["1"]);
}

/// How a state-changing route of the OpenAPI document is raced.
enum Raced {
    /// By the named test above, with its rival where it has one.
    Test(&'static str),
    /// By [`every_other_write_survives_twenty_at_once`]: twenty identical requests.
    Hammer,
    /// Not raced, and why not.
    NoRace(&'static str),
}

const IDENTITY: &str = "identity only (no money, no provisioning): a single-use token or code is \
     consumed by a conditional UPDATE, and a repeat finds it used";
const STRIPE: &str = "asks Stripe, whose Idempotency-Key (per invoice and hour, or per attempt) \
     makes racing requests one session or charge; only the session id is written";

/// Every state-changing route and how it is raced. A route added to the router without
/// an entry here fails [`every_write_route_is_raced_or_says_why_not`].
const WRITE_ROUTES: &[(&str, &str, Raced)] = &[
    ("POST", "/api/v1/auth/login", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/refresh", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/register", Raced::Hammer),
    ("POST", "/api/v1/auth/login/second-factor", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/two-factor/setup", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/two-factor/enable", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/two-factor/disable", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/two-factor/recovery-codes", Raced::NoRace(IDENTITY)),
    ("DELETE", "/api/v1/auth/sessions/{id}", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/logout", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/password-reset", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/auth/password-reset/confirm", Raced::NoRace(IDENTITY)),
    ("DELETE", "/api/v1/users/{id}/two-factor", Raced::NoRace(IDENTITY)),
    ("DELETE", "/api/v1/users/{id}/sessions", Raced::NoRace(IDENTITY)),
    ("DELETE", "/api/v1/users/{id}/sessions/{session_id}", Raced::NoRace(IDENTITY)),
    ("POST", "/api/v1/users", Raced::Hammer),
    ("PATCH", "/api/v1/me", Raced::Hammer),
    ("POST", "/api/v1/coupons", Raced::Hammer),
    ("PATCH", "/api/v1/coupons/{id}", Raced::Hammer),
    ("POST", "/api/v1/me/licenses/{id}/plan-change", Raced::Test("racing_plan_changes_make_one_change_and_credit_it_once")),
    ("DELETE", "/api/v1/me/licenses/{id}/plan-change", Raced::Test("racing_plan_changes_make_one_change_and_credit_it_once")),
    ("POST", "/api/v1/licenses/{id}/plan-change", Raced::Hammer),
    ("DELETE", "/api/v1/licenses/{id}/plan-change", Raced::Hammer),
    ("POST", "/api/v1/customers/{id}/credit", Raced::Test("racing_adjustments_never_take_the_balance_below_zero")),
    ("POST", "/api/v1/tax-rates", Raced::Hammer),
    ("PATCH", "/api/v1/tax-rates/{id}", Raced::Hammer),
    ("DELETE", "/api/v1/tax-rates/{id}", Raced::Hammer),
    ("PUT", "/api/v1/settings/tax", Raced::Hammer),
    ("PUT", "/api/v1/settings/security", Raced::Hammer),
    ("POST", "/api/v1/licenses/validate", Raced::NoRace("a read with a remembered answer per (server, request id), inserted ON CONFLICT DO NOTHING; raced by the license_check bench at 64 callers")),
    ("POST", "/api/v1/licenses/usage", Raced::NoRace("a panel's report, remembered per (server, request id) like validation; usage is overwritten, not added up")),
    ("POST", "/api/v1/customers", Raced::Hammer),
    ("PATCH", "/api/v1/customers/{id}", Raced::Hammer),
    ("POST", "/api/v1/customers/{id}/deactivate", Raced::Hammer),
    ("POST", "/api/v1/customers/{id}/activate", Raced::Hammer),
    ("POST", "/api/v1/customers/{id}/licenses", Raced::Hammer),
    ("POST", "/api/v1/plans", Raced::Hammer),
    ("PATCH", "/api/v1/plans/{id}", Raced::Hammer),
    ("PATCH", "/api/v1/licenses/{id}", Raced::Hammer),
    ("POST", "/api/v1/licenses/{id}/cancel", Raced::Hammer),
    ("POST", "/api/v1/api-keys", Raced::Hammer),
    ("DELETE", "/api/v1/api-keys/{id}", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/servers/test", Raced::NoRace("tests a connection and writes nothing")),
    ("POST", "/api/v1/nextpanel/servers", Raced::Hammer),
    ("PATCH", "/api/v1/nextpanel/servers/{id}", Raced::Hammer),
    ("DELETE", "/api/v1/nextpanel/servers/{id}", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/servers/{id}/disable", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/servers/{id}/enable", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/servers/{id}/check", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/servers/{id}/reconcile", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/provision", Raced::Test("racing_admin_provisioning_makes_one_account_per_username")),
    ("DELETE", "/api/v1/nextpanel/accounts/{id}", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/accounts/{id}/suspend", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/accounts/{id}/unsuspend", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/accounts/{id}/change-plan", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/accounts/{id}/password", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/accounts/{id}/retry", Raced::Hammer),
    ("POST", "/api/v1/jobs/{id}/retry", Raced::Hammer),
    ("POST", "/api/v1/emails/{id}/resend", Raced::Hammer),
    ("POST", "/api/v1/nextpanel/usage/poll", Raced::Hammer),
    ("POST", "/api/v1/invoices/{id}/void", Raced::Test("racing_mark_paid_and_void_let_one_win")),
    ("POST", "/api/v1/invoices/{id}/mark-paid", Raced::Test("racing_mark_paid_records_one_payment")),
    ("POST", "/api/v1/invoices/{id}/checkout", Raced::NoRace(STRIPE)),
    ("POST", "/api/v1/customers/{id}/orders", Raced::Hammer),
    ("POST", "/api/v1/billing/run", Raced::Hammer),
    ("POST", "/api/v1/me/orders", Raced::Test("racing_orders_spend_the_credit_once")),
    ("POST", "/api/v1/me/invoices/{id}/checkout", Raced::NoRace(STRIPE)),
    ("DELETE", "/api/v1/me/payment-method", Raced::NoRace(STRIPE)),
    ("POST", "/api/v1/me/payment-method/checkout", Raced::NoRace(STRIPE)),
    ("PUT", "/api/v1/me/autopay", Raced::Hammer),
    ("POST", "/api/v1/me/credentials/reveal", Raced::NoRace("a single-use link consumed by a conditional UPDATE; the password is shown once")),
    ("POST", "/api/v1/payments/{id}/refund", Raced::Test("racing_refunds_never_exceed_the_payment")),
    ("POST", "/webhooks/stripe", Raced::NoRace("each event is claimed ON CONFLICT DO NOTHING in the transaction that applies it, then the invoice is locked; duplicates are covered by the payments and autopay tests")),
];

#[tokio::test]
async fn every_write_route_is_raced_or_says_why_not() {
    let shop = shop().await;
    let (_, doc) = shop.app.get("/api/openapi.json", None).await;
    let mut routed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if method != "GET" {
                routed.insert((method, path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = WRITE_ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let unlisted: Vec<_> = routed.difference(&table).collect();
    let stale: Vec<_> = table.difference(&routed).collect();
    assert!(
        unlisted.is_empty(),
        "write routes with no race and no reason in WRITE_ROUTES: {unlisted:?}"
    );
    assert!(
        stale.is_empty(),
        "WRITE_ROUTES lists routes that do not exist: {stale:?}"
    );
    let hammered: BTreeSet<(String, String)> = hammer_calls(&Fixture::default())
        .into_iter()
        .map(|(template, call)| (call.method.to_owned(), template.to_owned()))
        .collect();
    for (method, path, raced) in WRITE_ROUTES {
        let key = ((*method).to_owned(), (*path).to_owned());
        match raced {
            Raced::Hammer => assert!(
                hammered.contains(&key),
                "{method} {path} is marked Hammer but has no call"
            ),
            Raced::Test(name) => assert!(
                include_str!("races.rs").contains(&format!("async fn {name}()")),
                "{method} {path} names a race test that does not exist: {name}"
            ),
            Raced::NoRace(reason) => assert!(!reason.is_empty()),
        }
    }
}

/// The ids the hammered calls act on.
#[derive(Default)]
struct Fixture {
    admin: String,
    customer: String,
    customer_id: i64,
    plan: i64,
    license: i64,
    account: i64,
    server: i64,
    coupon: i64,
    tax_rate: i64,
    api_key: i64,
    job: i64,
    email: i64,
    sim_url: String,
}

/// The hammered calls: (the route's template, one concrete call).
fn hammer_calls(f: &Fixture) -> Vec<(&'static str, Call)> {
    let a = f.admin.as_str();
    let c = f.customer.as_str();
    let call = |method: &'static str, path: String, token: &str, body: Value| Call {
        method,
        path,
        token: token.to_owned(),
        body,
    };
    vec![
        (
            "/api/v1/auth/register",
            call(
                "POST",
                "/api/v1/auth/register".into(),
                "",
                json!({"email": "new@example.com", "full_name": "New", "password": "new-password-123"}),
            ),
        ),
        (
            "/api/v1/users",
            call(
                "POST",
                "/api/v1/users".into(),
                a,
                json!({"email": "staff2@example.com", "full_name": "Staff", "password": "staff-password-1", "role": "staff"}),
            ),
        ),
        (
            "/api/v1/me",
            call(
                "PATCH",
                "/api/v1/me".into(),
                c,
                json!({"full_name": "Ada Lovelace"}),
            ),
        ),
        (
            "/api/v1/coupons",
            call(
                "POST",
                "/api/v1/coupons".into(),
                a,
                json!({"code": "RACE10", "percent_off_bp": 1000}),
            ),
        ),
        (
            "/api/v1/coupons/{id}",
            call(
                "PATCH",
                format!("/api/v1/coupons/{}", f.coupon),
                a,
                json!({"is_active": false}),
            ),
        ),
        (
            "/api/v1/licenses/{id}/plan-change",
            call(
                "POST",
                format!("/api/v1/licenses/{}/plan-change", f.license),
                a,
                json!({"plan_id": f.plan, "timing": "now"}),
            ),
        ),
        (
            "/api/v1/licenses/{id}/plan-change",
            call(
                "DELETE",
                format!("/api/v1/licenses/{}/plan-change", f.license),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/tax-rates",
            call(
                "POST",
                "/api/v1/tax-rates".into(),
                a,
                json!({"name": "VAT", "rate_bp": 2000, "country": "FR", "valid_from": "2026-01-01"}),
            ),
        ),
        (
            "/api/v1/tax-rates/{id}",
            call(
                "PATCH",
                format!("/api/v1/tax-rates/{}", f.tax_rate),
                a,
                json!({"name": "TVA"}),
            ),
        ),
        (
            "/api/v1/tax-rates/{id}",
            call(
                "DELETE",
                format!("/api/v1/tax-rates/{}", f.tax_rate),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/settings/tax",
            call(
                "PUT",
                "/api/v1/settings/tax".into(),
                a,
                json!({"enabled": true}),
            ),
        ),
        (
            "/api/v1/settings/security",
            call(
                "PUT",
                "/api/v1/settings/security".into(),
                a,
                json!({"require_two_factor_for_admins": false}),
            ),
        ),
        (
            "/api/v1/customers",
            call(
                "POST",
                "/api/v1/customers".into(),
                a,
                json!({"email": "twin@example.com", "full_name": "Twin"}),
            ),
        ),
        (
            "/api/v1/customers/{id}",
            call(
                "PATCH",
                format!("/api/v1/customers/{}", f.customer_id),
                a,
                json!({"full_name": "Ada B"}),
            ),
        ),
        (
            "/api/v1/customers/{id}/deactivate",
            call(
                "POST",
                format!("/api/v1/customers/{}/deactivate", f.customer_id),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/customers/{id}/activate",
            call(
                "POST",
                format!("/api/v1/customers/{}/activate", f.customer_id),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/customers/{id}/licenses",
            call(
                "POST",
                format!("/api/v1/customers/{}/licenses", f.customer_id),
                a,
                json!({"plan_id": f.plan, "billing_cycle": "monthly"}),
            ),
        ),
        (
            "/api/v1/plans",
            call(
                "POST",
                "/api/v1/plans".into(),
                a,
                crate::helpers::plan_body("Twin"),
            ),
        ),
        (
            "/api/v1/plans/{id}",
            call(
                "PATCH",
                format!("/api/v1/plans/{}", f.plan),
                a,
                json!({"description": "Faster"}),
            ),
        ),
        (
            "/api/v1/licenses/{id}",
            call(
                "PATCH",
                format!("/api/v1/licenses/{}", f.license),
                a,
                json!({"max_domains": 7}),
            ),
        ),
        (
            "/api/v1/licenses/{id}/cancel",
            call(
                "POST",
                format!("/api/v1/licenses/{}/cancel", f.license),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/api-keys",
            call("POST", "/api/v1/api-keys".into(), a, json!({"name": "ci"})),
        ),
        (
            "/api/v1/api-keys/{id}",
            call(
                "DELETE",
                format!("/api/v1/api-keys/{}", f.api_key),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers",
            call(
                "POST",
                "/api/v1/nextpanel/servers".into(),
                a,
                json!({"name": "twin", "base_url": f.sim_url, "api_key": "k", "api_secret": "s", "capacity": 5}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers/{id}",
            call(
                "PATCH",
                format!("/api/v1/nextpanel/servers/{}", f.server),
                a,
                json!({"capacity": 20}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers/{id}/disable",
            call(
                "POST",
                format!("/api/v1/nextpanel/servers/{}/disable", f.server),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers/{id}/enable",
            call(
                "POST",
                format!("/api/v1/nextpanel/servers/{}/enable", f.server),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers/{id}/check",
            call(
                "POST",
                format!("/api/v1/nextpanel/servers/{}/check", f.server),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers/{id}/reconcile",
            call(
                "POST",
                format!("/api/v1/nextpanel/servers/{}/reconcile", f.server),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/accounts/{id}/suspend",
            call(
                "POST",
                format!("/api/v1/nextpanel/accounts/{}/suspend", f.account),
                a,
                json!({"reason": "abuse"}),
            ),
        ),
        (
            "/api/v1/nextpanel/accounts/{id}/unsuspend",
            call(
                "POST",
                format!("/api/v1/nextpanel/accounts/{}/unsuspend", f.account),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/accounts/{id}/change-plan",
            call(
                "POST",
                format!("/api/v1/nextpanel/accounts/{}/change-plan", f.account),
                a,
                json!({"plan_id": f.plan}),
            ),
        ),
        (
            "/api/v1/nextpanel/accounts/{id}/password",
            call(
                "POST",
                format!("/api/v1/nextpanel/accounts/{}/password", f.account),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/accounts/{id}/retry",
            call(
                "POST",
                format!("/api/v1/nextpanel/accounts/{}/retry", f.account),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/jobs/{id}/retry",
            call(
                "POST",
                format!("/api/v1/jobs/{}/retry", f.job),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/emails/{id}/resend",
            call(
                "POST",
                format!("/api/v1/emails/{}/resend", f.email),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/usage/poll",
            call("POST", "/api/v1/nextpanel/usage/poll".into(), a, json!({})),
        ),
        (
            "/api/v1/customers/{id}/orders",
            call(
                "POST",
                format!("/api/v1/customers/{}/orders", f.customer_id),
                a,
                json!({"plan_id": f.plan, "billing_cycle": "monthly", "username": "hammer"}),
            ),
        ),
        (
            "/api/v1/billing/run",
            call("POST", "/api/v1/billing/run".into(), a, json!({})),
        ),
        (
            "/api/v1/me/autopay",
            call(
                "PUT",
                "/api/v1/me/autopay".into(),
                c,
                json!({"enabled": false}),
            ),
        ),
        // Last: it terminates the account the calls above act on.
        (
            "/api/v1/nextpanel/accounts/{id}",
            call(
                "DELETE",
                format!("/api/v1/nextpanel/accounts/{}", f.account),
                a,
                json!({}),
            ),
        ),
        (
            "/api/v1/nextpanel/servers/{id}",
            call(
                "DELETE",
                format!("/api/v1/nextpanel/servers/{}", f.server),
                a,
                json!({}),
            ),
        ),
    ]
}

async fn id_of(shop: &Shop, sql: &str) -> i64 {
    shop.app
        .query_strings(sql)
        .await
        .first()
        .map_or(0, |s| s.parse().unwrap())
}

/// Every route marked [`Raced::Hammer`], twenty identical requests at once, one route
/// after the other: none fails with a server error, and the books hold at the end.
#[tokio::test]
async fn every_other_write_survives_twenty_at_once() {
    let shop = shop().await;
    let license = active_license(&shop, "ada").await;
    let (_, coupon) = shop
        .app
        .post(
            "/api/v1/coupons",
            Some(&shop.admin),
            json!({"code": "FIRST", "percent_off_bp": 500}),
        )
        .await;
    let (_, rate) = shop
        .app
        .post(
            "/api/v1/tax-rates",
            Some(&shop.admin),
            json!({"name": "MwSt", "rate_bp": 1900, "country": "DE", "valid_from": "2026-01-01"}),
        )
        .await;
    let (_, key) = shop
        .app
        .post(
            "/api/v1/api-keys",
            Some(&shop.admin),
            json!({"name": "deploy"}),
        )
        .await;
    let (sim2, server) = shop
        .app
        .sim_server(
            &shop.admin,
            "node-2",
            5,
            nextpanel_sim::SimConfig::random().unwrap(),
        )
        .await;
    let fixture = Fixture {
        admin: shop.admin.clone(),
        customer: shop.customer.clone(),
        customer_id: shop.customer_id,
        plan: shop.plan,
        license,
        account: id_of(&shop, "SELECT CAST(MIN(id) AS TEXT) FROM hosting_accounts").await,
        server,
        coupon: coupon["id"].as_i64().unwrap_or(0),
        tax_rate: rate["id"].as_i64().unwrap_or(0),
        api_key: key["id"].as_i64().unwrap_or(0),
        job: id_of(&shop, "SELECT CAST(MIN(id) AS TEXT) FROM jobs").await,
        email: id_of(&shop, "SELECT CAST(MIN(id) AS TEXT) FROM email_outbox").await,
        sim_url: sim2.base_url(),
    };
    for (template, call) in hammer_calls(&fixture) {
        let answers = race(&shop.app.base, vec![call.clone(); AT_ONCE]).await;
        assert!(
            answers.iter().all(|(s, _)| !s.is_server_error()),
            "{} {template}: {answers:?}",
            call.method
        );
    }
}
