//! Payments end to end: a customer orders, pays through (a loopback stand-in for)
//! Stripe Checkout, the signed webhook arrives, and the hosting account is created on
//! the simulator with credentials that log in. Replays, forged signatures, wrong
//! amounts and failed cards change nothing they should not. Renewals, reminders and
//! suspension for non-payment run through the billing run.

use billing::config::Layer;
use chrono::{Duration, Utc};
use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, SmtpSink, TestApp};
use crate::stripe_fake::{self, FakeStripe};

pub(crate) struct Shop {
    pub app: TestApp,
    pub stripe: FakeStripe,
    pub sim: SimHandle,
    pub admin: String,
    pub customer_id: i64,
    pub customer: String,
    pub plan: i64,
}

/// An app with Stripe (and optionally SMTP), one simulated server, a plan with a setup fee, a customer.
async fn shop(smtp: Option<&SmtpSink>) -> Shop {
    shop_on(FakeStripe::start().await, smtp).await
}

/// [`shop`] with a given Stripe stand-in.
pub(crate) async fn shop_on(stripe: FakeStripe, smtp: Option<&SmtpSink>) -> Shop {
    shop_with(stripe, smtp.map_or_else(Layer::default, SmtpSink::layer)).await
}

/// [`shop`] with a given Stripe stand-in and more settings.
pub(crate) async fn shop_with(stripe: FakeStripe, extra: Layer) -> Shop {
    let layer = extra.or(stripe.layer());
    let app = TestApp::spawn_with(layer).await;
    let admin = app.admin_token().await;
    let (sim, _) = app
        .sim_server(&admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    let mut plan = crate::helpers::plan_body("Starter");
    plan["setup_fee"] = json!(500);
    let (status, body) = app.post("/api/v1/plans", Some(&admin), plan).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plan = body["id"].as_i64().unwrap();
    let (customer_id, customer) = app.customer(&admin, "ada@example.com").await;
    Shop {
        app,
        stripe,
        sim,
        admin,
        customer_id,
        customer,
        plan,
    }
}

impl Shop {
    /// Posts an order as the customer, whatever comes back.
    pub(crate) async fn try_order(&self, body: Value) -> (StatusCode, Value) {
        self.app
            .post("/api/v1/me/orders", Some(&self.customer), body)
            .await
    }

    pub(crate) async fn order(&self, username: &str) -> Value {
        let (status, invoice) = self
            .app
            .post(
                "/api/v1/me/orders",
                Some(&self.customer),
                json!({"plan_id": self.plan, "billing_cycle": "monthly", "username": username}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{invoice}");
        invoice
    }

    pub(crate) async fn checkout(&self, invoice: &Value) -> Value {
        let (status, link) = self
            .app
            .post(
                &format!("/api/v1/me/invoices/{}/checkout", invoice["id"]),
                Some(&self.customer),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{link}");
        self.stripe.session(link["session_id"].as_str().unwrap())
    }

    pub(crate) async fn invoice(&self, id: &Value) -> Value {
        let (status, invoice) = self
            .app
            .get(&format!("/api/v1/invoices/{id}"), Some(&self.admin))
            .await;
        assert_eq!(status, StatusCode::OK, "{invoice}");
        invoice
    }

    /// Polls the invoice until it is `status` (within `secs`), failing if it is anything
    /// but `status` or one of `on_the_way` meanwhile.
    pub(crate) async fn invoice_becomes(
        &self,
        id: &Value,
        status: &str,
        on_the_way: &[&str],
        secs: u64,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let now = self.invoice(id).await;
            if now["status"] == status {
                return now;
            }
            assert!(
                on_the_way.iter().any(|s| now["status"] == *s),
                "invoice went {} on the way to {status}: {now}",
                now["status"]
            );
            assert!(
                std::time::Instant::now() < deadline,
                "invoice never became {status}: {now}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The messages of the outbox made from `template` (sent or still queued).
    pub(crate) async fn emails(&self, template: &str) -> Vec<Value> {
        let (_, list) = self
            .app
            .get("/api/v1/emails?per_page=200", Some(&self.admin))
            .await;
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["template"] == template)
            .cloned()
            .collect()
    }

    /// Records a bank transfer paying `invoice` (checked: 200) and answers the invoice.
    pub(crate) async fn mark_paid(&self, invoice: &Value, reference: &str) -> Value {
        let (status, paid) = self
            .app
            .post(
                &format!("/api/v1/invoices/{}/mark-paid", invoice["id"]),
                Some(&self.admin),
                json!({ "reference": reference }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{paid}");
        paid
    }

    pub(crate) async fn account_in_state(&self, id: &Value, state: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (_, account) = self
                .app
                .get(
                    &format!("/api/v1/nextpanel/accounts/{id}"),
                    Some(&self.admin),
                )
                .await;
            if account["state"] == state {
                return account;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "account never became {state}: {account}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// On a bare app: a customer orders a Starter plan as "ada" (checked: 201) and asks to
/// pay it; the order and the checkout answer.
async fn order_then_checkout(app: &TestApp) -> (Value, (StatusCode, Value), SimHandle) {
    let admin = app.admin_token().await;
    // A server to sell hosting on.
    let (sim, _) = app
        .sim_server(&admin, "node-1", 10, SimConfig::random().unwrap())
        .await;
    let plan = app.plan(&admin, "Starter").await;
    let (_, customer) = app.customer(&admin, "ada@example.com").await;
    let (status, invoice) = app
        .post(
            "/api/v1/me/orders",
            Some(&customer),
            json!({"plan_id": plan, "username": "ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    let checkout = app
        .post(
            &format!("/api/v1/me/invoices/{}/checkout", invoice["id"]),
            Some(&customer),
            json!({}),
        )
        .await;
    (invoice, checkout, sim)
}

fn subjects(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn with_subject<'a>(messages: &'a [Value], part: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m["subject"].as_str().unwrap_or("").contains(part))
        .collect()
}

/// The line of the welcome text that carries the temporary password.
fn password_in(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Password:"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_else(|| panic!("no password line in: {text}"))
}

#[tokio::test]
async fn a_customer_who_pays_gets_a_hosting_account_whose_credentials_work() {
    let sink = SmtpSink::start();
    let shop = shop(Some(&sink)).await;
    let invoice = shop.order("ada").await;
    assert_eq!(
        invoice["number"],
        format!("INV-{}-000001", chrono::Utc::now().format("%Y"))
    );
    assert_eq!(invoice["status"], "open");
    assert_eq!(
        invoice["total"], 1_499,
        "monthly 999 + setup 500: {invoice}"
    );
    assert_eq!(invoice["total_display"], "14.99 USD");
    assert_eq!(invoice["lines"].as_array().unwrap().len(), 2);
    assert_eq!(
        shop.app.count("licenses").await,
        0,
        "nothing before payment"
    );
    assert_eq!(shop.app.count("hosting_accounts").await, 0);

    let session = shop.checkout(&invoice).await;
    assert_eq!(session["amount_total"], 1_499);
    assert_eq!(session["currency"], "usd");
    // Paid as the customer's Stripe Customer (made with their email), so the card can
    // be kept for renewals; Stripe takes no customer_email beside a customer.
    assert!(
        session["customer"].as_str().unwrap().starts_with("cus_"),
        "{session}"
    );
    assert_eq!(session["customer_email"], "");
    assert_eq!(session["metadata"]["invoice_id"], invoice["id"].to_string());
    assert_eq!(
        session["success_url"],
        format!(
            "https://billing.acme.example/checkout/complete?invoice={}",
            invoice["id"]
        )
    );
    // Where Stripe sends the customer back: a page saying what happens next.
    let page = shop
        .app
        .client
        .get(
            shop.app
                .url(&format!("/checkout/complete?invoice={}", invoice["id"])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(invoice["number"].as_str().unwrap()), "{html}");
    let page = shop
        .app
        .client
        .get(
            shop.app
                .url("/checkout/cancelled?invoice=<script>alert(1)</script>"),
        )
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Your invoice stays open") && !html.contains("<script>"),
        "{html}"
    );
    // Asking again for the same invoice gives the same session, not a second charge.
    let again = shop.checkout(&invoice).await;
    assert_eq!(again["id"], session["id"]);
    assert_eq!(shop.stripe.sessions().len(), 1);

    let paid = stripe_fake::completed(&session);
    let (status, receipt) = stripe_fake::deliver(&shop.app, &paid).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["duplicate"], false);
    assert!(
        receipt["outcome"].as_str().unwrap().contains("paid"),
        "{receipt}"
    );

    let invoice = shop.invoice(&invoice["id"]).await;
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["payments"][0]["reference"], "pi_test_1");
    assert_eq!(invoice["payments"][0]["amount"], 1_499);
    let account = shop
        .account_in_state(&invoice["hosting_account_id"], "active")
        .await;
    assert_eq!(account["username"], "ada");
    assert_eq!(account["customer_id"], shop.customer_id);

    // The customer sees the license and the account as their own.
    let (_, licenses) = shop
        .app
        .get("/api/v1/me/licenses", Some(&shop.customer))
        .await;
    assert_eq!(licenses["total"], 1);
    let license_key = licenses["items"][0]["license_key"].as_str().unwrap();
    assert_eq!(licenses["items"][0]["id"], invoice["license_id"]);

    // invoice created, payment received, license issued, welcome.
    let messages = sink.wait_for(4).await;
    let welcome = with_subject(&messages, "is ready");
    assert_eq!(welcome.len(), 1, "{:?}", subjects(&messages));
    let text = welcome[0]["text"].as_str().unwrap();
    assert!(text.contains(license_key), "{text}");
    assert!(text.contains(&shop.sim.base_url()), "{text}");
    let password = password_in(text);
    assert!(
        shop.sim.login("ada", &password),
        "the emailed password does not log in to the panel"
    );
    assert!(!shop.sim.login("ada", "not-the-password-1"));
    assert_eq!(
        with_subject(
            &messages,
            &format!("Invoice {}", invoice["number"].as_str().unwrap())
        )
        .len(),
        1
    );
    assert_eq!(with_subject(&messages, "Payment received").len(), 1);

    // Stripe redelivers the event, and sends a second event about the same payment.
    let (status, receipt) = stripe_fake::deliver(&shop.app, &paid).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipt["duplicate"], true);
    let mut second = stripe_fake::completed(&session);
    second["type"] = json!("checkout.session.async_payment_succeeded");
    let (status, receipt) = stripe_fake::deliver(&shop.app, &second).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        receipt["outcome"]
            .as_str()
            .unwrap()
            .contains("recorded before"),
        "{receipt}"
    );
    assert_eq!(shop.app.count("hosting_accounts").await, 1);
    assert_eq!(shop.app.count("licenses").await, 1);
    assert_eq!(shop.app.count("payments").await, 1);
    assert_eq!(shop.sim.stats()["creates_performed"], 1);
    let (_, jobs) = shop
        .app
        .get("/api/v1/jobs?state=queued", Some(&shop.admin))
        .await;
    assert_eq!(jobs["total"], 0, "{jobs}");
    let messages = sink.messages();
    assert_eq!(
        with_subject(&messages, "is ready").len(),
        1,
        "{:?}",
        subjects(&messages)
    );
    assert_eq!(with_subject(&messages, "Payment received").len(), 1);

    // The name is taken now: a new order for it is refused before anyone pays.
    let (status, body) = shop
        .try_order(json!({"plan_id": shop.plan, "username": "ada"}))
        .await;
    assert_error(
        (status, body),
        StatusCode::CONFLICT,
        "conflict",
        Some("username"),
    );
}

#[tokio::test]
async fn concurrent_deliveries_of_one_payment_create_one_account() {
    let shop = shop(None).await;
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    let paid = stripe_fake::completed(&session);
    let mut second = stripe_fake::completed(&session);
    second["type"] = json!("checkout.session.async_payment_succeeded");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let event = if i % 2 == 0 { &paid } else { &second };
        let payload = serde_json::to_vec(event).unwrap();
        let header = billing::payments::stripe::sign(
            &payload,
            &secrecy::SecretString::from(stripe_fake::WEBHOOK_SECRET),
            Utc::now().timestamp(),
        );
        let request = shop
            .app
            .client
            .post(shop.app.url("/webhooks/stripe"))
            .header("stripe-signature", header)
            .body(payload);
        tasks.push(tokio::spawn(async move {
            let res = request.send().await.unwrap();
            let status = res.status();
            (status, res.text().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    // Deliveries about one payment are applied one after the other: every one is
    // acknowledged, exactly one applies it.
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    let applied = answers
        .iter()
        .filter(|(_, body)| body.contains("paid: license"))
        .count();
    assert_eq!(applied, 1, "{answers:?}");
    let invoice = shop.invoice(&invoice["id"]).await;
    shop.account_in_state(&invoice["hosting_account_id"], "active")
        .await;
    assert_eq!(shop.app.count("hosting_accounts").await, 1);
    assert_eq!(shop.app.count("licenses").await, 1);
    assert_eq!(shop.app.count("payments").await, 1);
    assert_eq!(shop.sim.stats()["creates_performed"], 1);
}

#[tokio::test]
async fn forged_stale_or_unsigned_webhooks_change_nothing() {
    let shop = shop(None).await;
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    let paid = stripe_fake::completed(&session);
    let now = Utc::now().timestamp();

    assert_error(
        stripe_fake::deliver_signed(&shop.app, &paid, "whsec_wrong", now).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("Stripe-Signature"),
    );
    let body = assert_error(
        stripe_fake::deliver_signed(&shop.app, &paid, stripe_fake::WEBHOOK_SECRET, now - 600).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("Stripe-Signature"),
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tolerance"));
    assert_error(
        stripe_fake::deliver_raw(&shop.app, serde_json::to_vec(&paid).unwrap(), None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("Stripe-Signature"),
    );
    // A valid signature over a different body does not carry over.
    let header = billing::payments::stripe::sign(
        b"{}",
        &secrecy::SecretString::from(stripe_fake::WEBHOOK_SECRET),
        now,
    );
    let (status, _) =
        stripe_fake::deliver_raw(&shop.app, serde_json::to_vec(&paid).unwrap(), Some(&header))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Signed but not an event.
    assert_error(
        stripe_fake::deliver_signed(
            &shop.app,
            &json!({"hello": 1}),
            stripe_fake::WEBHOOK_SECRET,
            now,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("body"),
    );

    assert_eq!(shop.app.count("stripe_events").await, 0);
    assert_eq!(shop.app.count("payments").await, 0);
    assert_eq!(shop.app.count("licenses").await, 0);
    assert_eq!(shop.invoice(&invoice["id"]).await["status"], "open");
}

#[tokio::test]
async fn without_stripe_configured_payments_say_so_and_webhooks_are_retried_later() {
    let app = TestApp::spawn_with(Layer::default()).await;
    let (invoice, answer, _sim) = order_then_checkout(&app).await;
    assert_eq!(
        invoice["billing_cycle"], "monthly",
        "the shortest priced cycle"
    );
    let body = assert_error(answer, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("stripe_secret_key"));
    assert_error(
        stripe_fake::deliver(&app, &json!({"id": "evt_1"})).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        None,
    );
}

#[tokio::test]
async fn a_payment_that_does_not_match_its_invoice_is_recorded_but_not_applied() {
    let shop = shop(None).await;
    let invoice = shop.order("ada").await;
    let mut session = shop.checkout(&invoice).await;
    session["amount_total"] = json!(999);
    let (status, receipt) =
        stripe_fake::deliver(&shop.app, &stripe_fake::completed(&session)).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert!(
        receipt["outcome"].as_str().unwrap().contains("not applied"),
        "{receipt}"
    );
    let invoice = shop.invoice(&invoice["id"]).await;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["payments"][0]["amount"], 999);
    assert!(invoice["payments"][0]["message"]
        .as_str()
        .unwrap()
        .contains("1499"));
    assert_eq!(shop.app.count("licenses").await, 0);
    assert_eq!(shop.app.count("hosting_accounts").await, 0);
    let (_, audit) = shop
        .app
        .get("/api/v1/audit-log?entity_type=invoice", Some(&shop.admin))
        .await;
    assert!(audit.to_string().contains("payment.mismatch"), "{audit}");
}

#[tokio::test]
async fn a_declined_card_tells_the_customer_once_and_the_invoice_stays_payable() {
    let sink = SmtpSink::start();
    let shop = shop(Some(&sink)).await;
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    let failed = stripe_fake::payment_failed(&session, "Your card has insufficient funds.");
    let (status, receipt) = stripe_fake::deliver(&shop.app, &failed).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let (_, again) = stripe_fake::deliver(&shop.app, &failed).await;
    assert_eq!(again["duplicate"], true);
    let messages = sink.wait_for(2).await;
    let failure = with_subject(&messages, "did not go through");
    assert_eq!(failure.len(), 1, "{:?}", subjects(&messages));
    assert!(failure[0]["text"]
        .as_str()
        .unwrap()
        .contains("insufficient funds"));
    let invoice = shop.invoice(&invoice["id"]).await;
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["payments"][0]["status"], "failed");
    // The customer tries again with another card and it goes through.
    let (status, _) = stripe_fake::deliver(&shop.app, &stripe_fake::completed(&session)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shop.invoice(&invoice["id"]).await["status"], "paid");
}

#[tokio::test]
async fn orders_are_checked_and_a_second_click_is_not_a_second_charge() {
    let shop = shop(None).await;
    let app = &shop.app;
    let before = app.count("invoices").await;
    for (order, field) in [
        (
            json!({"plan_id": shop.plan, "username": "9ada"}),
            "username",
        ),
        (json!({"plan_id": 999, "username": "ada"}), "plan_id"),
        (
            json!({"plan_id": shop.plan, "username": "ada", "billing_cycle": "quarterly"}),
            "billing_cycle",
        ),
    ] {
        assert_error(
            shop.try_order(order).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(field),
        );
    }
    let (status, body) = shop
        .try_order(json!({"plan_id": shop.plan, "username": "ada", "price": 1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.count("invoices").await,
        before,
        "bad orders change nothing"
    );

    let invoice = shop.order("ada").await;
    let body = assert_error(
        shop.try_order(json!({"plan_id": shop.plan, "username": "ada"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
        Some("username"),
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(invoice["number"].as_str().unwrap()));

    // Another customer neither sees nor pays it.
    let (_, other) = app.customer(&shop.admin, "eve@example.com").await;
    let (status, _) = app
        .get(
            &format!("/api/v1/me/invoices/{}", invoice["id"]),
            Some(&other),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/v1/me/invoices/{}/checkout", invoice["id"]),
            Some(&other),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = app.get("/api/v1/me/invoices", Some(&other)).await;
    assert_eq!(mine["total"], 0);
    // /me is the caller's own, whatever the role: an admin sees it under /invoices.
    let (status, _) = app
        .get(
            &format!("/api/v1/me/invoices/{}", invoice["id"]),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(
            &format!("/api/v1/invoices/{}", invoice["id"]),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            &format!("/api/v1/customers/{}/orders", shop.customer_id),
            Some(&other),
            json!({"plan_id": shop.plan, "username": "eve"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Stripe refusing the session is a 502 naming Stripe's reason.
    shop.stripe
        .refuse_next("Amount must convert to at least 50 cents.");
    let body = assert_error(
        app.post(
            &format!("/api/v1/me/invoices/{}/checkout", invoice["id"]),
            Some(&shop.customer),
            json!({}),
        )
        .await,
        StatusCode::BAD_GATEWAY,
        "payment_provider_failed",
        None,
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("50 cents"));

    // A voided invoice can be neither paid nor voided again; the username is free to order again.
    let (status, voided) = app
        .post(
            &format!("/api/v1/invoices/{}/void", invoice["id"]),
            Some(&shop.admin),
            json!({"reason": "customer asked"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{voided}");
    assert_eq!(voided["status"], "void");
    let (status, _) = app
        .post(
            &format!("/api/v1/invoices/{}/void", invoice["id"]),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(
            &format!("/api/v1/me/invoices/{}/checkout", invoice["id"]),
            Some(&shop.customer),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    shop.order("ada").await;
}

#[tokio::test]
async fn an_admin_records_a_bank_transfer_and_provisioning_follows() {
    let shop = shop(None).await;
    let (status, invoice) = shop
        .app
        .post(
            &format!("/api/v1/customers/{}/orders", shop.customer_id),
            Some(&shop.admin),
            json!({"plan_id": shop.plan, "billing_cycle": "annual", "username": "ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    assert_eq!(invoice["total"], 10_490);
    assert_error(
        shop.app
            .post(
                &format!("/api/v1/invoices/{}/mark-paid", invoice["id"]),
                Some(&shop.admin),
                json!({"reference": ""}),
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("reference"),
    );
    let (status, paid) = shop
        .app
        .post(
            &format!("/api/v1/invoices/{}/mark-paid", invoice["id"]),
            Some(&shop.admin),
            json!({"reference": "SEPA 2026-11-25 #4411"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payments"][0]["provider"], "manual");
    shop.account_in_state(&paid["hosting_account_id"], "active")
        .await;
    let (_, license) = shop
        .app
        .get(
            &format!("/api/v1/licenses/{}", paid["license_id"]),
            Some(&shop.admin),
        )
        .await;
    assert_eq!(license["billing_cycle"], "annual");
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/invoices/{}/mark-paid", invoice["id"]),
            Some(&shop.admin),
            json!({"reference": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(shop.app.count("hosting_accounts").await, 1);
}

#[tokio::test]
async fn a_paid_order_waits_for_a_server_when_every_server_is_full() {
    let shop = shop(None).await;
    let (_, servers) = shop
        .app
        .get("/api/v1/nextpanel/servers", Some(&shop.admin))
        .await;
    let server = &servers[0]["id"];
    // Ordered and sent to pay while there was room ...
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    // ... and the only server went out of service before the payment arrived.
    let (status, body) = shop
        .app
        .post(
            &format!("/api/v1/nextpanel/servers/{server}/disable"),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, receipt) =
        stripe_fake::deliver(&shop.app, &stripe_fake::completed(&session)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        receipt["outcome"]
            .as_str()
            .unwrap()
            .contains("waits for a usable server"),
        "{receipt}"
    );
    let invoice = shop.invoice(&invoice["id"]).await;
    assert_eq!(invoice["status"], "paid", "the money is never lost");
    // Far longer than six attempts would last (backoff capped at 200 ms in tests):
    // waiting for capacity does not use attempts up, and admins hear of it once.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let account = shop
        .account_in_state(&invoice["hosting_account_id"], "provisioning")
        .await;
    assert!(
        account["failure_reason"]
            .as_str()
            .unwrap_or("")
            .contains("waiting for a usable server"),
        "{account}"
    );
    let (_, dead) = shop
        .app
        .get("/api/v1/jobs?state=dead", Some(&shop.admin))
        .await;
    assert_eq!(dead["total"], 0, "{dead}");
    let (_, emails) = shop.app.get("/api/v1/emails", Some(&shop.admin)).await;
    let waiting = emails["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["template"] == "provisioning_waiting")
        .count();
    assert_eq!(waiting, 1, "{emails}");
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/nextpanel/servers/{server}/enable"),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let account = shop
        .account_in_state(&invoice["hosting_account_id"], "active")
        .await;
    assert_eq!(account["server_id"], *server);
    assert!(account["failure_reason"].is_null(), "{account}");
    assert_eq!(shop.sim.stats()["creates_performed"], 1);
}

#[tokio::test]
async fn renewals_reminders_and_suspension_for_non_payment_each_happen_once() {
    let sink = SmtpSink::start();
    let shop = shop(Some(&sink)).await;
    let app = &shop.app;
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    stripe_fake::deliver(app, &stripe_fake::completed(&session)).await;
    let order = shop.invoice(&invoice["id"]).await;
    let account_id = order["hosting_account_id"].clone();
    shop.account_in_state(&account_id, "active").await;
    let license_id = order["license_id"].as_i64().unwrap();

    let run = || async {
        let (status, report) = app
            .post("/api/v1/billing/run", Some(&shop.admin), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        report
    };
    // A month away: nothing yet.
    assert_eq!(run().await["renewal_invoices"], 0);
    let expires = Utc::now() + Duration::days(3);
    app.set_time("licenses", "expires_at", license_id, expires)
        .await;
    assert_eq!(run().await["renewal_invoices"], 1);
    assert_eq!(run().await["renewal_invoices"], 0, "one renewal per period");
    let (_, open) = app
        .get("/api/v1/me/invoices?status=open", Some(&shop.customer))
        .await;
    assert_eq!(open["total"], 1, "{open}");
    let renewal = &open["items"][0];
    assert_eq!(renewal["kind"], "renewal");
    assert_eq!(renewal["total"], 999, "no setup fee on a renewal");
    let renewal_id = renewal["id"].as_i64().unwrap();

    // Overdue: one reminder, then none until the interval has passed.
    app.set_time(
        "invoices",
        "due_at",
        renewal_id,
        Utc::now() - Duration::days(1),
    )
    .await;
    let report = run().await;
    assert_eq!(report["reminders"], 1, "{report}");
    assert_eq!(report["accounts_suspended"], 0);
    assert_eq!(run().await["reminders"], 0);

    // Past the grace period: the license and its account are suspended, once.
    app.set_time(
        "invoices",
        "due_at",
        renewal_id,
        Utc::now() - Duration::days(15),
    )
    .await;
    let report = run().await;
    assert_eq!(report["licenses_suspended"], 1, "{report}");
    assert_eq!(report["accounts_suspended"], 1, "{report}");
    assert_eq!(run().await["accounts_suspended"], 0);
    let account = shop.account_in_state(&account_id, "suspended").await;
    assert!(
        account["suspend_reason"]
            .as_str()
            .unwrap()
            .starts_with("non-payment"),
        "{account}"
    );

    // Paying the renewal extends the license one month from its old end and lifts the suspension.
    let session = shop.checkout(renewal).await;
    let (status, receipt) = stripe_fake::deliver(app, &stripe_fake::completed(&session)).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    shop.account_in_state(&account_id, "active").await;
    let (_, license) = app
        .get(&format!("/api/v1/licenses/{license_id}"), Some(&shop.admin))
        .await;
    assert_eq!(license["status"], "active");
    let new_expiry: chrono::DateTime<Utc> =
        license["expires_at"].as_str().unwrap().parse().unwrap();
    let expected = expires.checked_add_months(chrono::Months::new(1)).unwrap();
    assert!(
        (new_expiry - expected).num_seconds().abs() < 2,
        "{new_expiry} vs {expected}"
    );

    // invoice×2, payment received×2, license issued, welcome, reminder, suspended, unsuspended.
    let messages = sink.wait_for(9).await;
    let subjects = subjects(&messages);
    assert_eq!(
        with_subject(&messages, "is overdue").len(),
        1,
        "{subjects:?}"
    );
    let reminder = with_subject(&messages, "is overdue")[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reminder.contains("suspended on"), "{reminder}");
    assert_eq!(
        with_subject(&messages, "Payment received").len(),
        2,
        "{subjects:?}"
    );
    assert_eq!(
        with_subject(&messages, "Invoice INV-").len(),
        2,
        "{subjects:?}"
    );
}

#[tokio::test]
async fn a_paid_order_that_cannot_be_created_alerts_every_admin() {
    let sink = SmtpSink::start();
    let shop = shop(Some(&sink)).await;
    // Someone else already holds "ada" on the only panel: a certain failure.
    let squatter = reqwest::Client::new()
        .post(format!("{}/api/v1/billing/accounts", shop.sim.base_url()))
        .header("X-API-Key", shop.sim.api_key())
        .header("X-API-Secret", shop.sim.api_secret())
        .json(
            &json!({"username": "ada", "email": "x@example.com", "password": "pw-123456789",
            "billing_id": "someone-else", "is_admin": false, "metadata": {}}),
        )
        .send()
        .await
        .unwrap();
    assert!(squatter.status().is_success());
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    stripe_fake::deliver(&shop.app, &stripe_fake::completed(&session)).await;
    let invoice = shop.invoice(&invoice["id"]).await;
    assert_eq!(invoice["status"], "paid");
    let account = shop
        .account_in_state(&invoice["hosting_account_id"], "failed")
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let alert = loop {
        let messages = sink.messages();
        if let Some(alert) = with_subject(&messages, "Provisioning of ada failed").first() {
            break (*alert).clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no alert: {:?}",
            subjects(&messages)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(alert["to"], json!([crate::helpers::ADMIN_EMAIL]));
    let text = alert["text"].as_str().unwrap();
    assert!(text.contains(invoice["number"].as_str().unwrap()), "{text}");
    assert!(text.contains("ada@example.com"), "{text}");
    assert!(
        text.contains(&format!("accounts retry {}", account["id"])),
        "{text}"
    );
    assert!(
        with_subject(&sink.messages(), "is ready").is_empty(),
        "no welcome for an account that does not exist"
    );
}

#[tokio::test]
async fn a_free_plan_is_provisioned_on_ordering_without_a_payment_step() {
    let sink = SmtpSink::start();
    let shop = shop(Some(&sink)).await;
    let mut free = crate::helpers::plan_body("Trial");
    free["prices"] = json!({"monthly": 0});
    let (status, plan) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), free)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let (status, invoice) = shop
        .try_order(json!({"plan_id": plan["id"], "username": "ada"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(invoice["total"], 0);
    shop.account_in_state(&invoice["hosting_account_id"], "active")
        .await;
    assert!(shop.stripe.sessions().is_empty(), "no checkout for nothing");
    let messages = sink.wait_for(2).await;
    assert_eq!(with_subject(&messages, "is ready").len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let messages = sink.messages();
    assert!(
        with_subject(&messages, "Invoice").is_empty()
            && with_subject(&messages, "Payment received").is_empty(),
        "{:?}",
        subjects(&messages)
    );
}

#[tokio::test]
async fn a_wrong_stripe_key_is_reported_without_any_of_the_key() {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_with(Layer {
        stripe_secret_key: Some("sk_test_wrong_key_9876".into()),
        ..stripe.layer()
    })
    .await;
    let (_, (status, body), _sim) = order_then_checkout(&app).await;
    assert_error(
        (status, body.clone()),
        StatusCode::BAD_GATEWAY,
        "payment_provider_failed",
        None,
    );
    let text = body.to_string();
    assert!(text.contains("stripe_secret_key"), "{text}");
    assert!(
        !text.contains("sk_test") && !text.contains("9876"),
        "{text}"
    );
}

#[tokio::test]
async fn an_order_nobody_pays_is_voided_after_the_grace_period() {
    let shop = shop(None).await;
    let invoice = shop.order("ada").await;
    let id = invoice["id"].as_i64().unwrap();
    let run = || async {
        let (status, report) = shop
            .app
            .post("/api/v1/billing/run", Some(&shop.admin), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        report
    };
    shop.app
        .set_time("invoices", "due_at", id, Utc::now() - Duration::days(29))
        .await;
    assert_eq!(run().await["orders_voided"], 0, "still within 30 days");
    assert_eq!(shop.invoice(&invoice["id"]).await["status"], "open");
    shop.app
        .set_time("invoices", "due_at", id, Utc::now() - Duration::days(31))
        .await;
    assert_eq!(run().await["orders_voided"], 1);
    assert_eq!(run().await["orders_voided"], 0, "once");
    assert_eq!(shop.invoice(&invoice["id"]).await["status"], "void");
    // A late payment for it is recorded for a refund, not applied.
    let session = json!({"id": "cs_late", "payment_intent": "pi_late", "amount_total": 1499,
        "currency": "usd", "metadata": {"invoice_id": id.to_string()}});
    let (status, receipt) =
        stripe_fake::deliver(&shop.app, &stripe_fake::completed(&session)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        receipt["outcome"]
            .as_str()
            .unwrap()
            .contains("needs a refund"),
        "{receipt}"
    );
    assert_eq!(shop.app.count("hosting_accounts").await, 0);
    // The customer can order the same name again.
    shop.order("ada").await;
}

#[tokio::test]
async fn hosting_no_server_can_take_is_not_sold_unless_the_shop_says_so() {
    let shop = shop(None).await;
    let invoice = shop.order("ada").await;
    let (_, servers) = shop
        .app
        .get("/api/v1/nextpanel/servers", Some(&shop.admin))
        .await;
    let server = &servers[0]["id"];
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/nextpanel/servers/{server}/disable"),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = shop.app.count("invoices").await;
    let answer = shop
        .try_order(json!({"plan_id": shop.plan, "billing_cycle": "monthly", "username": "bob"}))
        .await;
    let body = assert_error(answer, StatusCode::CONFLICT, "conflict", Some("plan_id"));
    assert!(body.to_string().contains("no server can take"), "{body}");
    assert_eq!(
        shop.app.count("invoices").await,
        before,
        "nothing was ordered"
    );
    // An order placed while there was room cannot be paid now either.
    let answer = shop
        .app
        .post(
            &format!("/api/v1/me/invoices/{}/checkout", invoice["id"]),
            Some(&shop.customer),
            json!({}),
        )
        .await;
    assert_error(answer, StatusCode::CONFLICT, "conflict", Some("plan_id"));
    assert!(
        shop.stripe.sessions().is_empty(),
        "no payment page was made"
    );

    // A shop that accepts orders when full takes it; the account waits for a server.
    let stripe = FakeStripe::start().await;
    let lenient = shop_with(
        stripe,
        Layer {
            accept_orders_when_full: Some(true),
            ..Layer::default()
        },
    )
    .await;
    let (_, servers) = lenient
        .app
        .get("/api/v1/nextpanel/servers", Some(&lenient.admin))
        .await;
    lenient
        .app
        .post(
            &format!("/api/v1/nextpanel/servers/{}/disable", servers[0]["id"]),
            Some(&lenient.admin),
            json!({}),
        )
        .await;
    lenient.order("bob").await;
}
