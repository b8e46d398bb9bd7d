//! Refunds and disputes against localstripe behind the test Stripe: an admin refunds
//! part of a payment and then the rest, each with its credit note; refunds made in the
//! Stripe dashboard and their webhooks are recorded once; manual payments are refunded
//! by hand; disputes flag, suspend and are closed. Bad requests change nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::assert_error;
use crate::payments::{shop_on, Shop};
use crate::stripe_fake::{self, FakeStripe};

async fn shop() -> Shop {
    let shop = shop_on(FakeStripe::with_localstripe().await, None).await;
    shop.stripe
        .deliver_webhooks_to(shop.app.url("/webhooks/stripe"));
    shop
}

/// Orders hosting, pays it by card on the test Stripe's page; the paid invoice.
async fn paid_order(shop: &Shop) -> Value {
    let invoice = shop.order("ada").await;
    let session = shop.checkout(&invoice).await;
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "{}/pay/{}",
            shop.stripe.base,
            session["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let paid = shop.invoice(&invoice["id"]).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    paid
}

async fn refund(shop: &Shop, payment: i64, key: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut req = shop
        .app
        .client
        .post(shop.app.url(&format!("/api/v1/payments/{payment}/refund")))
        .bearer_auth(&shop.admin)
        .json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

fn year() -> String {
    chrono::Utc::now().format("%Y").to_string()
}

#[tokio::test]
async fn an_admin_refunds_part_then_the_rest_each_with_a_credit_note() {
    let shop = shop().await;
    let invoice = paid_order(&shop).await;
    let payment = &invoice["payments"][0];
    let payment_id = payment["id"].as_i64().unwrap();
    let pi = payment["reference"].as_str().unwrap().to_owned();
    assert_eq!(payment["amount"], 1_499);

    let (status, first) = refund(
        &shop,
        payment_id,
        Some("ticket-77"),
        json!({"amount": 500, "reason": "goodwill for the outage"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["state"], "succeeded");
    assert_eq!(first["amount"], 500);
    assert!(
        first["reference"].as_str().unwrap().starts_with("re_"),
        "{first}"
    );
    assert_eq!(
        first["credit_note"]["number"],
        format!("CN-{}-000001", year())
    );
    let at_stripe = shop
        .stripe
        .backend_call("GET", &format!("/v1/refunds?payment_intent={pi}"), &[])
        .await;
    assert_eq!(
        at_stripe["data"].as_array().unwrap().len(),
        1,
        "{at_stripe}"
    );
    assert_eq!(at_stripe["data"][0]["amount"], 500);

    // The same key again is refused and changes nothing.
    let again = refund(
        &shop,
        payment_id,
        Some("ticket-77"),
        json!({"amount": 500, "reason": "goodwill for the outage"}),
    )
    .await;
    assert_error(
        again,
        StatusCode::CONFLICT,
        "conflict",
        Some("Idempotency-Key"),
    );
    // More than is left, another currency, nothing at all: refused in words.
    let too_much = refund(
        &shop,
        payment_id,
        None,
        json!({"amount": 1_000, "reason": "x"}),
    )
    .await;
    let body = assert_error(
        too_much,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("amount"),
    );
    assert!(body.to_string().contains("9.99 USD"), "{body}");
    let euros = refund(
        &shop,
        payment_id,
        None,
        json!({"currency": "EUR", "reason": "x"}),
    )
    .await;
    assert_error(
        euros,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("currency"),
    );
    let zero = refund(&shop, payment_id, None, json!({"amount": 0, "reason": "x"})).await;
    assert_error(
        zero,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("amount"),
    );
    let no_reason = refund(&shop, payment_id, None, json!({"amount": 1, "reason": ""})).await;
    assert_error(
        no_reason,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("reason"),
    );
    let unknown = refund(&shop, 9_999, None, json!({"reason": "x"})).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(shop.app.count("refunds").await, 1);

    // The rest, and the hosting it paid for is suspended.
    let (status, rest) = refund(
        &shop,
        payment_id,
        None,
        json!({"reason": "customer left", "service_action": "suspend"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["amount"], 999);
    assert_eq!(
        rest["credit_note"]["number"],
        format!("CN-{}-000002", year())
    );
    shop.account_in_state(&invoice["hosting_account_id"], "suspended")
        .await;
    let done = refund(&shop, payment_id, None, json!({"reason": "again"})).await;
    assert_error(done, StatusCode::CONFLICT, "conflict", Some("payment"));

    // Stripe's word on both refunds, delivered 20 times, records nothing new.
    let refunds = shop
        .stripe
        .backend_call("GET", &format!("/v1/refunds?payment_intent={pi}"), &[])
        .await;
    let event = json!({"id": stripe_fake::event_id(), "object": "event", "type": "charge.refunded",
        "data": {"object": {"id": "ch_x", "object": "charge", "payment_intent": pi,
            "amount": 1_499, "amount_refunded": 1_499, "refunds": refunds}}});
    for _ in 0..20 {
        let (status, receipt) = stripe_fake::deliver(&shop.app, &event).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    assert_eq!(shop.app.count("refunds").await, 2);
    assert_eq!(shop.app.count("credit_notes").await, 2);
    assert_eq!(shop.emails("refund_issued").await.len(), 2);

    // The customer sees both credit notes; the invoice lists the refunds.
    let (status, mine) = shop
        .app
        .get("/api/v1/me/credit-notes", Some(&shop.customer))
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["total"], 2);
    assert_eq!(mine["items"][0]["invoice_number"], invoice["number"]);
    let (_, seen) = shop
        .app
        .get(
            &format!("/api/v1/me/invoices/{}", invoice["id"]),
            Some(&shop.customer),
        )
        .await;
    assert_eq!(seen["refunds"].as_array().unwrap().len(), 2, "{seen}");
}

#[tokio::test]
async fn a_refund_made_in_the_stripe_dashboard_is_recorded_once() {
    let shop = shop().await;
    let invoice = paid_order(&shop).await;
    let pi = invoice["payments"][0]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = shop
        .stripe
        .backend_call(
            "POST",
            "/v1/refunds",
            &[("payment_intent", &pi), ("amount", "300")],
        )
        .await;
    let event = |id: String| {
        json!({"id": id, "object": "event", "type": "charge.refunded",
            "data": {"object": {"id": "ch_x", "object": "charge", "payment_intent": pi,
                "amount": 1_499, "amount_refunded": 300, "refunds": {"data": [made]}}}})
    };
    // Twenty deliveries, some of them separate events about the same refund.
    for n in 0..20 {
        let id = if n % 2 == 0 {
            "evt_dashboard_refund".to_owned()
        } else {
            stripe_fake::event_id()
        };
        let (status, receipt) = stripe_fake::deliver(&shop.app, &event(id)).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    let seen = shop.invoice(&invoice["id"]).await;
    let refunds = seen["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{seen}");
    assert_eq!(refunds[0]["amount"], 300);
    assert_eq!(refunds[0]["reason"], "refunded in the Stripe dashboard");
    assert_eq!(
        refunds[0]["credit_note"]["number"],
        format!("CN-{}-000001", year())
    );
    assert_eq!(shop.emails("refund_issued").await.len(), 1);
    // What is left can still be refunded here, and no more.
    let payment_id = seen["payments"][0]["id"].as_i64().unwrap();
    let over = refund(
        &shop,
        payment_id,
        None,
        json!({"amount": 1_200, "reason": "x"}),
    )
    .await;
    assert_error(
        over,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("amount"),
    );
    let (status, rest) = refund(&shop, payment_id, None, json!({"reason": "closing"})).await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["amount"], 1_199);
}

#[tokio::test]
async fn a_bank_transfer_is_refunded_by_hand() {
    let shop = shop().await;
    let invoice = shop.order("ada").await;
    let (status, paid) = shop
        .app
        .post(
            &format!("/api/v1/invoices/{}/mark-paid", invoice["id"]),
            Some(&shop.admin),
            json!({"reference": "SEPA 4411"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let payment_id = paid["payments"][0]["id"].as_i64().unwrap();
    let (status, refunded) = refund(
        &shop,
        payment_id,
        None,
        json!({"reason": "paid twice by transfer", "service_action": "terminate"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    assert_eq!(refunded["provider"], "manual");
    assert_eq!(refunded["state"], "succeeded");
    assert_eq!(refunded["amount"], 1_499);
    assert!(refunded["credit_note"]["number"].is_string());
    shop.account_in_state(&paid["hosting_account_id"], "terminated")
        .await;
}

#[tokio::test]
async fn a_dispute_flags_and_suspends_and_a_won_one_lifts_it() {
    let shop = shop().await;
    let invoice = paid_order(&shop).await;
    shop.account_in_state(&invoice["hosting_account_id"], "active")
        .await;
    let pi = invoice["payments"][0]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let dispute = |kind: &str, status: &str| {
        json!({"id": stripe_fake::event_id(), "object": "event", "type": kind,
            "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": pi,
                "charge": "ch_x", "amount": 1_499, "currency": "usd", "reason": "fraudulent",
                "status": status}}})
    };
    for _ in 0..20 {
        let (status, receipt) = stripe_fake::deliver(
            &shop.app,
            &dispute("charge.dispute.created", "needs_response"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    let (status, list) = shop.app.get("/api/v1/disputes", Some(&shop.admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["reason"], "fraudulent");
    assert_eq!(
        shop.emails("dispute_opened").await.len(),
        1,
        "every admin (one here), once"
    );
    let account = shop
        .account_in_state(&invoice["hosting_account_id"], "suspended")
        .await;
    assert!(
        account["suspend_reason"]
            .as_str()
            .unwrap()
            .starts_with("dispute"),
        "{account}"
    );
    let seen = shop.invoice(&invoice["id"]).await;
    assert_eq!(seen["disputes"][0]["status"], "needs_response");

    for _ in 0..3 {
        let (status, receipt) =
            stripe_fake::deliver(&shop.app, &dispute("charge.dispute.closed", "won")).await;
        assert_eq!(status, StatusCode::OK, "{receipt}");
    }
    shop.account_in_state(&invoice["hosting_account_id"], "active")
        .await;
    let seen = shop.invoice(&invoice["id"]).await;
    assert_eq!(seen["disputes"][0]["status"], "won");
    assert!(seen["disputes"][0]["closed_at"].is_string());

    // A dispute of a payment we never took is recorded as ignored.
    let foreign = json!({"id": stripe_fake::event_id(), "object": "event", "type": "charge.dispute.created",
        "data": {"object": {"id": "dp_2", "payment_intent": "pi_not_ours", "amount": 5, "currency": "usd",
            "reason": "general", "status": "needs_response"}}});
    let (status, receipt) = stripe_fake::deliver(&shop.app, &foreign).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        receipt["outcome"].as_str().unwrap().starts_with("ignored"),
        "{receipt}"
    );
    assert_eq!(shop.app.count("disputes").await, 1);
}
