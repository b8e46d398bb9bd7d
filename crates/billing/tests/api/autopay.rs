//! Saved cards and automatic renewal charges against localstripe (a stateful Stripe
//! written by others) behind the test Stripe: the customer pays once through Checkout,
//! the card is kept, and the renewal is charged on its due date without them. Declines
//! and cards that need their holder ask the customer; retries follow the schedule; a
//! lost answer, a second run or a replayed webhook never charges twice.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, SmtpSink};
use crate::payments::{shop_on, Shop};
use crate::stripe_fake::{self, FakeStripe};

/// Test cards (Stripe's numbers, which localstripe honours).
const VISA: &str = "4242424242424242";
const DECLINED_ON_CHARGE: &str = "4000000000000341";
const NEEDS_AUTHENTICATION: &str = "4000002500003155";

async fn shop(smtp: Option<&SmtpSink>) -> Shop {
    let shop = shop_on(FakeStripe::with_localstripe().await, smtp).await;
    shop.stripe
        .deliver_webhooks_to(shop.app.url("/webhooks/stripe"));
    shop
}

/// Pays a Checkout Session on the test Stripe's page with `card`.
async fn pay(shop: &Shop, session: &Value, card: &str) {
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "{}/pay/{}",
            shop.stripe.base,
            session["id"].as_str().unwrap()
        ))
        .form(&[("card", card)])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        resp.text().await.unwrap()
    );
}

/// Orders hosting and pays the order with `card`; returns the paid order.
async fn buy(shop: &Shop, card: &str) -> Value {
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    pay(shop, &session, card).await;
    let order = shop.invoice(&invoice["id"]).await;
    assert_eq!(order["status"], "paid", "{order}");
    order
}

async fn run(shop: &Shop) -> Value {
    let (status, report) = shop
        .app
        .post("/api/v1/billing/run", Some(&shop.admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// Issues the renewal of the order's license and makes it due now; returns its id.
async fn due_renewal(shop: &Shop, order: &Value) -> i64 {
    let license_id = order["license_id"].as_i64().unwrap();
    shop.app
        .set_time(
            "licenses",
            "expires_at",
            license_id,
            Utc::now() + Duration::days(2),
        )
        .await;
    assert_eq!(run(shop).await["renewal_invoices"], 1);
    let (_, open) = shop
        .app
        .get("/api/v1/invoices?status=open", Some(&shop.admin))
        .await;
    let renewal = open["items"][0]["id"].as_i64().unwrap();
    shop.app
        .set_time(
            "invoices",
            "due_at",
            renewal,
            Utc::now() - Duration::minutes(1),
        )
        .await;
    renewal
}

async fn payment_setup(shop: &Shop) -> Value {
    let (status, setup) = shop
        .app
        .get("/api/v1/me/payment-method", Some(&shop.customer))
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    setup
}

#[tokio::test]
async fn the_card_of_the_first_payment_pays_the_renewal_by_itself_once() {
    let shop = shop(None).await;
    let order = buy(&shop, VISA).await;

    // The card is kept (what identifies it, nothing more), and autopay is on by default.
    let setup = payment_setup(&shop).await;
    assert_eq!(setup["autopay"], true, "{setup}");
    assert_eq!(setup["card"]["last4"], "4242", "{setup}");
    assert_eq!(setup["card"]["brand"], "visa");
    assert_eq!(setup["card"]["exp_year"], 2030);
    let (status, seen) = shop
        .app
        .get(
            &format!("/api/v1/customers/{}/payment-method", shop.customer_id),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["card"], setup["card"]);

    let license_id = order["license_id"].as_i64().unwrap();
    let (_, before) = shop
        .app
        .get(&format!("/api/v1/licenses/{license_id}"), Some(&shop.admin))
        .await;
    let renewal = due_renewal(&shop, &order).await;
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["charged"], 1, "{report}");
    assert_eq!(report["reminders"], 0, "a paid renewal needs no reminder");

    let invoice = shop.invoice(&json!(renewal)).await;
    assert_eq!(invoice["status"], "paid", "{invoice}");
    let attempts = invoice["charge_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{invoice}");
    assert_eq!(attempts[0]["state"], "succeeded");
    assert_eq!(attempts[0]["amount"], 999);
    let (_, after) = shop
        .app
        .get(&format!("/api/v1/licenses/{license_id}"), Some(&shop.admin))
        .await;
    assert_ne!(
        after["expires_at"], before["expires_at"],
        "the license runs on"
    );
    assert_eq!(
        shop.emails("payment_received").await.len(),
        2,
        "order and renewal receipts"
    );

    // Stripe has exactly one charge for the renewal, and more runs add none.
    for _ in 0..3 {
        assert_eq!(run(&shop).await["autopay"]["charged"], 0);
    }
    let charges = shop.stripe.payment_intents_for(renewal).await;
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0]["status"], "succeeded");
    assert_eq!(charges[0]["amount"], 999);

    // Stripe's own word on the charge, delivered 20 times, changes nothing.
    let event = json!({"id": stripe_fake::event_id(), "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": charges[0]}});
    for _ in 0..20 {
        let (status, receipt) = stripe_fake::deliver(&shop.app, &event).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    let invoice = shop.invoice(&json!(renewal)).await;
    assert_eq!(
        invoice["payments"].as_array().unwrap().len(),
        1,
        "{invoice}"
    );
    let (_, again) = shop
        .app
        .get(&format!("/api/v1/licenses/{license_id}"), Some(&shop.admin))
        .await;
    assert_eq!(again["expires_at"], after["expires_at"]);
}

#[tokio::test]
async fn a_declined_card_asks_the_customer_and_is_retried_on_the_schedule() {
    let sink = SmtpSink::start();
    let shop = shop(Some(&sink)).await;
    // The card pays the order, then the bank starts declining (as a card that runs dry).
    let order = buy(&shop, VISA).await;
    let (status, link) = shop
        .app
        .post(
            "/api/v1/me/payment-method/checkout",
            Some(&shop.customer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let session = shop.stripe.session(link["session_id"].as_str().unwrap());
    assert_eq!(session["mode"], "setup");
    pay(&shop, &session, DECLINED_ON_CHARGE).await;
    assert_eq!(payment_setup(&shop).await["card"]["last4"], "0341");

    let renewal = due_renewal(&shop, &order).await;
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["declined"], 1, "{report}");
    assert_eq!(
        report["reminders"], 0,
        "the decline email says it; reminders wait for the schedule"
    );
    let invoice = shop.invoice(&json!(renewal)).await;
    assert_eq!(invoice["status"], "open");
    let attempt = &invoice["charge_attempts"][0];
    assert_eq!(attempt["state"], "declined", "{invoice}");
    assert_eq!(attempt["decline_code"], "card_declined");
    assert_eq!(
        attempt["outcome"],
        "the bank declined the charge without giving a reason"
    );

    // The customer is told, with a link to pay by hand, once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let failed = loop {
        let failed: Vec<Value> = sink
            .messages()
            .into_iter()
            .filter(|m| m["subject"] == "Your payment did not go through")
            .collect();
        if !failed.is_empty() || std::time::Instant::now() > deadline {
            break failed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(failed.len(), 1, "{failed:?}");
    let text = failed[0]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "https://billing.acme.example/ui/#/my/invoices/{renewal}"
        )),
        "{text}"
    );

    // Not again the same day; again once the schedule's next day (+3) has come.
    assert_eq!(run(&shop).await["autopay"]["declined"], 0);
    shop.app
        .exec(&format!(
            "UPDATE invoices SET next_charge_at = NULL WHERE id = {renewal}"
        ))
        .await;
    shop.app
        .set_time(
            "invoices",
            "due_at",
            renewal,
            Utc::now() - Duration::days(3),
        )
        .await;
    shop.app
        .set_time(
            "charge_attempts",
            "started_at",
            attempt_id(&shop, renewal, 1).await,
            Utc::now() - Duration::days(3),
        )
        .await;
    assert_eq!(run(&shop).await["autopay"]["declined"], 1);
    // Past the whole schedule (+7): reminders take over, no more charges.
    for (attempt, days) in [(2, 5), (3, 7)] {
        shop.app
            .set_time(
                "invoices",
                "due_at",
                renewal,
                Utc::now() - Duration::days(days),
            )
            .await;
        shop.app
            .set_time(
                "charge_attempts",
                "started_at",
                attempt_id(&shop, renewal, attempt).await,
                Utc::now() - Duration::days(3),
            )
            .await;
        shop.app
            .exec(&format!(
                "UPDATE invoices SET next_charge_at = NULL WHERE id = {renewal}"
            ))
            .await;
        let report = run(&shop).await;
        assert_eq!(
            report["autopay"]["declined"],
            1,
            "attempt {}: {report}",
            attempt + 1
        );
        // Reminders start with the last attempt's failure, not before.
        let reminded = i64::from(attempt == 3);
        assert_eq!(
            report["reminders"],
            reminded,
            "attempt {}: {report}",
            attempt + 1
        );
    }
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["declined"], 0, "{report}");
    let invoice = shop.invoice(&json!(renewal)).await;
    assert_eq!(invoice["charge_attempts"].as_array().unwrap().len(), 4);
    assert_eq!(shop.stripe.payment_intents_for(renewal).await.len(), 4);
}

async fn attempt_id(shop: &Shop, invoice: i64, attempt: i64) -> i64 {
    let sql = format!(
        "SELECT id FROM charge_attempts WHERE invoice_id = {invoice} AND attempt = {attempt}"
    );
    match &shop.app.db {
        billing::store::Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
        billing::store::Db::Postgres(pool, _) => {
            sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap()
        }
    }
}

#[tokio::test]
async fn a_card_that_needs_its_holder_sends_the_customer_to_pay() {
    let shop = shop(None).await;
    let order = buy(&shop, NEEDS_AUTHENTICATION).await;
    let renewal = due_renewal(&shop, &order).await;
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["action_required"], 1, "{report}");
    let invoice = shop.invoice(&json!(renewal)).await;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["charge_attempts"][0]["state"], "action_required");
    assert_eq!(shop.emails("payment_action_required").await.len(), 1);

    // The customer pays by hand; the card is not charged again.
    let session = shop.checkout(&invoice).await;
    stripe_fake::deliver(&shop.app, &stripe_fake::completed(&session)).await;
    assert_eq!(shop.invoice(&json!(renewal)).await["status"], "paid");
    shop.app
        .exec(&format!(
            "UPDATE invoices SET next_charge_at = NULL WHERE id = {renewal}"
        ))
        .await;
    assert_eq!(run(&shop).await["autopay"]["action_required"], 0);
}

#[tokio::test]
async fn a_lost_answer_is_asked_again_under_the_same_key_and_charges_once() {
    let shop = shop(None).await;
    let order = buy(&shop, VISA).await;
    let renewal = due_renewal(&shop, &order).await;

    // Stripe charges, the answer is lost (as when the process dies mid-call).
    shop.stripe.lose_next_charge();
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["unsettled"], 1, "{report}");
    let invoice = shop.invoice(&json!(renewal)).await;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["charge_attempts"][0]["state"], "pending");
    assert_eq!(shop.stripe.payment_intents_for(renewal).await.len(), 1);

    // While the attempt may still be under way elsewhere, nothing is sent again.
    assert_eq!(run(&shop).await["autopay"]["charged"], 0);
    assert_eq!(shop.stripe.charges_forwarded(), 1, "the lost one only");

    // Later the same request goes again under the same key: Stripe answers with the
    // charge it made, which is recorded; no second charge.
    let id = attempt_id(&shop, renewal, 1).await;
    shop.app
        .set_time(
            "charge_attempts",
            "started_at",
            id,
            Utc::now() - Duration::minutes(5),
        )
        .await;
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["charged"], 1, "{report}");
    assert_eq!(shop.invoice(&json!(renewal)).await["status"], "paid");
    assert_eq!(shop.stripe.payment_intents_for(renewal).await.len(), 1);
    assert_eq!(
        shop.stripe.charges_forwarded(),
        1,
        "the repeat was answered from Stripe's record"
    );
}

#[tokio::test]
async fn two_runs_at_once_charge_a_renewal_once() {
    let shop = shop(None).await;
    let order = buy(&shop, VISA).await;
    let renewal = due_renewal(&shop, &order).await;
    let (a, b) = tokio::join!(run(&shop), run(&shop));
    let charged =
        a["autopay"]["charged"].as_i64().unwrap() + b["autopay"]["charged"].as_i64().unwrap();
    assert_eq!(charged, 1, "{a} {b}");
    assert_eq!(shop.stripe.payment_intents_for(renewal).await.len(), 1);
    assert_eq!(shop.app.count("charge_attempts").await, 1);
}

#[tokio::test]
async fn customers_turn_autopay_off_and_remove_their_card() {
    let shop = shop(None).await;
    let order = buy(&shop, VISA).await;

    let (status, setup) = shop
        .app
        .call(
            "PUT",
            "/api/v1/me/autopay",
            Some(&shop.customer),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    assert_eq!(setup["autopay"], false);
    let answer = shop
        .app
        .call(
            "PUT",
            "/api/v1/me/autopay",
            Some(&shop.customer),
            Some(json!({"enabled": "no"})),
        )
        .await;
    assert_error(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("enabled"),
    );

    let renewal = due_renewal(&shop, &order).await;
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["charged"], 0, "{report}");
    assert_eq!(
        report["reminders"], 1,
        "without autopay the usual reminder goes out"
    );
    assert!(shop.stripe.payment_intents_for(renewal).await.is_empty());

    // Removing the card detaches it at Stripe; with autopay back on, the answer warns.
    shop.app
        .call(
            "PUT",
            "/api/v1/me/autopay",
            Some(&shop.customer),
            Some(json!({"enabled": true})),
        )
        .await;
    let pm = {
        let mut conn_sql = String::from("SELECT payment_method_id FROM saved_cards");
        conn_sql.push_str(&format!(" WHERE customer_id = {}", shop.customer_id));
        match &shop.app.db {
            billing::store::Db::Sqlite(pool) => sqlx::query_scalar::<_, String>(&conn_sql)
                .fetch_one(pool)
                .await
                .unwrap(),
            billing::store::Db::Postgres(pool, _) => sqlx::query_scalar::<_, String>(&conn_sql)
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    };
    let (status, setup) = shop
        .app
        .call(
            "DELETE",
            "/api/v1/me/payment-method",
            Some(&shop.customer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    assert_eq!(setup["card"], Value::Null);
    assert!(
        setup["warning"].as_str().unwrap().contains("next renewal"),
        "{setup}"
    );
    let detached = shop
        .stripe
        .backend_call("GET", &format!("/v1/payment_methods/{pm}"), &[])
        .await;
    assert_eq!(detached["customer"], Value::Null, "{detached}");
    let answer = shop
        .app
        .call(
            "DELETE",
            "/api/v1/me/payment-method",
            Some(&shop.customer),
            None,
        )
        .await;
    assert_error(answer, StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(run(&shop).await["autopay"]["charged"], 0);
}

#[tokio::test]
async fn a_card_that_expires_before_the_renewal_gets_one_reminder() {
    let shop = shop(None).await;
    let order = buy(&shop, VISA).await;
    let license_id = order["license_id"].as_i64().unwrap();
    // A card valid until 2030 is no worry; one that ran out last month is.
    shop.app
        .set_time(
            "licenses",
            "expires_at",
            license_id,
            Utc::now() + Duration::days(10),
        )
        .await;
    assert_eq!(run(&shop).await["autopay"]["expiry_reminders"], 0);
    let last_month = Utc::now() - Duration::days(31);
    shop.app
        .exec(&format!(
            "UPDATE saved_cards SET exp_month = {}, exp_year = {}",
            last_month.format("%-m"),
            last_month.format("%Y")
        ))
        .await;
    let report = run(&shop).await;
    assert_eq!(report["autopay"]["expiry_reminders"], 1, "{report}");
    assert_eq!(
        run(&shop).await["autopay"]["expiry_reminders"],
        0,
        "once per renewal"
    );
    assert_eq!(shop.emails("card_expiring").await.len(), 1);
}

#[tokio::test]
async fn a_lost_webhook_is_made_up_for_by_the_return_page() {
    let shop = shop(None).await;
    shop.stripe.lose_webhooks();
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    pay(&shop, &session, VISA).await;
    assert_eq!(
        shop.invoice(&invoice["id"]).await["status"],
        "open",
        "no webhook came"
    );

    // The customer lands on the return page, which asks Stripe and settles.
    let page = shop
        .app
        .client
        .get(
            shop.app
                .url(&format!("/checkout/complete?invoice={}", invoice["id"])),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("is confirmed"), "{page}");
    let paid = shop.invoice(&invoice["id"]).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    shop.account_in_state(&paid["hosting_account_id"], "active")
        .await;
    assert_eq!(payment_setup(&shop).await["card"]["last4"], "4242");

    // The webhook that comes late changes nothing.
    let late = stripe_fake::completed(&shop.stripe.session(session["id"].as_str().unwrap()));
    let (status, receipt) = stripe_fake::deliver(&shop.app, &late).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert!(
        receipt["outcome"]
            .as_str()
            .unwrap()
            .contains("recorded before"),
        "{receipt}"
    );
    assert_eq!(
        shop.invoice(&invoice["id"]).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(shop.app.count("hosting_accounts").await, 1);
}

#[tokio::test]
async fn the_sweep_settles_payments_whose_webhook_never_came() {
    let stripe = FakeStripe::with_localstripe().await;
    let shop = crate::payments::shop_with(
        stripe,
        billing::config::Layer {
            payment_sweep_interval_secs: Some(1),
            ..billing::config::Layer::default()
        },
    )
    .await;
    shop.stripe
        .deliver_webhooks_to(shop.app.url("/webhooks/stripe"));
    shop.stripe.lose_webhooks();
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    pay(&shop, &session, VISA).await;
    // Nobody opens the return page; the sweep asks Stripe within its interval.
    shop.invoice_becomes(&invoice["id"], "paid", &["open"], 20)
        .await;
    assert_eq!(
        shop.invoice(&invoice["id"]).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // /ready says how current payments are; /metrics too.
    let (_, ready) = shop.app.get("/ready", None).await;
    assert!(ready["payments"].is_object(), "{ready}");
    assert_eq!(
        ready["payments"]["oldest_unsettled_payment_secs"],
        Value::Null
    );
    let (status, metrics) = shop.app.get("/metrics", Some(&shop.admin)).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("nextpanel_bill_oldest_unsettled_payment_seconds 0"),
        "{text}"
    );
    assert!(
        text.contains("nextpanel_bill_seconds_since_last_stripe_webhook"),
        "{text}"
    );
}

async fn capturing_shop() -> Shop {
    let shop = crate::payments::shop_with(
        FakeStripe::with_localstripe().await,
        billing::config::Layer {
            capture: Some("after_provisioning".into()),
            ..billing::config::Layer::default()
        },
    )
    .await;
    shop.stripe
        .deliver_webhooks_to(shop.app.url("/webhooks/stripe"));
    shop
}

#[tokio::test]
async fn with_capture_after_provisioning_the_card_is_charged_once_the_hosting_is_active() {
    let shop = capturing_shop().await;
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    assert_eq!(session["capture_method"], "manual");
    pay(&shop, &session, VISA).await;

    // Authorized: the order is fulfilled, the invoice is paid once the account is active.
    let paid = shop
        .invoice_becomes(&invoice["id"], "paid", &["open"], 20)
        .await;
    shop.account_in_state(&paid["hosting_account_id"], "active")
        .await;
    assert_eq!(paid["payments"].as_array().unwrap().len(), 1, "{paid}");
    let pi = paid["payments"][0]["reference"].as_str().unwrap();
    let at_stripe = shop
        .stripe
        .backend_call("GET", &format!("/v1/payment_intents/{pi}"), &[])
        .await;
    assert_eq!(at_stripe["status"], "succeeded", "captured: {at_stripe}");
    assert_eq!(shop.app.count("licenses").await, 1, "fulfilled once");
    assert_eq!(shop.app.count("hosting_accounts").await, 1);

    // The late webhooks of the capture change nothing.
    let event = json!({"id": stripe_fake::event_id(), "object": "event", "type": "payment_intent.succeeded",
        "data": {"object": at_stripe}});
    for _ in 0..5 {
        let (status, receipt) = stripe_fake::deliver(&shop.app, &event).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    assert_eq!(
        shop.invoice(&invoice["id"]).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(shop.app.count("licenses").await, 1);
}

#[tokio::test]
async fn with_capture_after_provisioning_a_failed_creation_releases_the_card() {
    let shop = capturing_shop().await;
    // Every create on the only server fails, until the job gives up.
    shop.sim.set_faults(json!({"error_rate": 1.0})).unwrap();
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    pay(&shop, &session, VISA).await;
    let voided = shop
        .invoice_becomes(&invoice["id"], "void", &["open"], 30)
        .await;
    assert!(
        voided["payments"].as_array().unwrap().is_empty(),
        "nothing charged: {voided}"
    );
    let pi = shop.stripe.session(session["id"].as_str().unwrap())["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let at_stripe = shop
        .stripe
        .backend_call("GET", &format!("/v1/payment_intents/{pi}"), &[])
        .await;
    assert_eq!(at_stripe["status"], "canceled", "{at_stripe}");
    assert_eq!(
        shop.emails("payment_failed").await.len(),
        1,
        "the customer is told"
    );
    assert_eq!(
        shop.emails("provisioning_failed").await.len(),
        1,
        "and the admins"
    );
}
