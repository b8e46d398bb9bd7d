//! Coupons: made by admins, entered with an order, discounting it (and the renewals they
//! cover) on a line of their own, refused in words when they cannot be used; and the late
//! fee, the other adjustment of what a renewal costs.

use billing::config::Layer;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, plan_body};
use crate::payments::{shop_with, Shop};
use crate::stripe_fake::FakeStripe;

async fn coupon(shop: &Shop, body: Value) -> (StatusCode, Value) {
    shop.app
        .post("/api/v1/coupons", Some(&shop.admin), body)
        .await
}

async fn order_with(shop: &Shop, username: &str, plan: i64, coupon: &str) -> (StatusCode, Value) {
    shop.try_order(json!({"plan_id": plan, "billing_cycle": "monthly", "username": username, "coupon": coupon}))
        .await
}

#[tokio::test]
async fn a_coupon_discounts_the_order_and_the_renewals_it_covers() {
    let shop = shop_with(FakeStripe::start().await, Layer::default()).await;
    let (_, other) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), plan_body("Other"))
        .await;
    // Admins' mistakes are refused naming the field.
    for (body, field, status) in [
        (
            json!({"code": "X1!", "percent_off_bp": 2000}),
            "code",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"code": "BOTH", "percent_off_bp": 2000, "amount_off": 100, "currency": "USD"}),
            "percent_off_bp",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"code": "ZERO", "percent_off_bp": 0}),
            "percent_off_bp",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"code": "NOCUR", "amount_off": 500}),
            "currency",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"code": "PAST", "percent_off_bp": 500, "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"code": "NOPLAN", "percent_off_bp": 500, "plan_id": 999}),
            "plan_id",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        assert_error(
            coupon(&shop, body).await,
            status,
            if status == StatusCode::CONFLICT {
                "conflict"
            } else {
                "validation_failed"
            },
            Some(field),
        );
    }
    let (status, welcome) = coupon(
        &shop,
        json!({"code": "welcome20", "percent_off_bp": 2000, "cycles": 2, "plan_id": shop.plan, "max_redemptions": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{welcome}");
    assert_eq!(
        (
            welcome["code"].as_str(),
            welcome["discount_display"].as_str()
        ),
        (Some("WELCOME20"), Some("20% off"))
    );
    assert_error(
        coupon(&shop, json!({"code": "WELCOME20", "percent_off_bp": 100})).await,
        StatusCode::CONFLICT,
        "conflict",
        Some("code"),
    );

    // Entered in lower case: 20 % off the order (9.99 + 5.00 setup), on a line of its own.
    let (status, invoice) = order_with(&shop, "ada", shop.plan, "welcome20").await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    let line = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["description"] == "Coupon WELCOME20 (20% off)")
        .cloned()
        .unwrap();
    assert_eq!(line["amount"], -300);
    assert_eq!(invoice["total"], 1499 - 300);
    let paid = shop.mark_paid(&invoice, "t1").await;

    // Its first renewal is discounted too (cycles: 2), the one after that not.
    let license = paid["license_id"].as_i64().unwrap();
    shop.app
        .set_time(
            "licenses",
            "expires_at",
            license,
            Utc::now() + Duration::days(3),
        )
        .await;
    let (status, run) = shop
        .app
        .post("/api/v1/billing/run", Some(&shop.admin), json!({}))
        .await;
    assert_eq!(
        (status, run["renewal_invoices"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{run}"
    );
    let (_, open) = shop
        .app
        .get("/api/v1/me/invoices?status=open", Some(&shop.customer))
        .await;
    let renewal = &open["items"][0];
    assert_eq!(renewal["kind"], "renewal");
    assert_eq!(renewal["total"], 999 - 200, "{renewal}");
    assert_eq!(
        shop.app
            .query_strings("SELECT CAST(cycles_left AS TEXT) FROM coupon_redemptions")
            .await,
        ["0"]
    );

    // Another plan, an unknown code: refused in words, nothing written.
    let invoices = shop.app.count("invoices").await;
    let refused = assert_error(
        order_with(&shop, "ada2", other["id"].as_i64().unwrap(), "WELCOME20").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("coupon"),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("for the plan Starter only"),
        "{refused}"
    );
    let refused = assert_error(
        order_with(&shop, "ada2", shop.plan, "NOPE123").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("coupon"),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a coupon"),
        "{refused}"
    );
    assert_eq!(shop.app.count("invoices").await, invoices);
}

#[tokio::test]
async fn used_up_expired_switched_off_and_foreign_currency_coupons_are_refused() {
    let shop = shop_with(FakeStripe::start().await, Layer::default()).await;
    coupon(
        &shop,
        json!({"code": "ONCE", "amount_off": 500, "currency": "USD", "max_redemptions": 1}),
    )
    .await;
    coupon(
        &shop,
        json!({"code": "EURO", "amount_off": 500, "currency": "EUR"}),
    )
    .await;
    let (_, soon) = coupon(&shop, json!({"code": "SOON", "percent_off_bp": 1000, "expires_at": (Utc::now() + Duration::days(1)).to_rfc3339()})).await;
    let (_, off) = coupon(&shop, json!({"code": "OFF", "percent_off_bp": 1000})).await;

    let (status, first) = order_with(&shop, "ada1", shop.plan, "ONCE").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["total"], 1499 - 500);
    let refused = assert_error(
        order_with(&shop, "ada2", shop.plan, "ONCE").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("coupon"),
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("used up"));
    // Voiding the order gives the use back.
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/invoices/{}/void", first["id"]),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = order_with(&shop, "ada2", shop.plan, "ONCE").await;
    assert_eq!(status, StatusCode::CREATED);

    let refused = assert_error(
        order_with(&shop, "ada3", shop.plan, "EURO").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("coupon"),
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is in EUR"));
    shop.app
        .set_time(
            "coupons",
            "expires_at",
            soon["id"].as_i64().unwrap(),
            Utc::now() - Duration::hours(1),
        )
        .await;
    let refused = assert_error(
        order_with(&shop, "ada3", shop.plan, "soon").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("coupon"),
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    let (status, _) = shop
        .app
        .patch(
            &format!("/api/v1/coupons/{}", off["id"]),
            Some(&shop.admin),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let refused = assert_error(
        order_with(&shop, "ada3", shop.plan, "OFF").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("coupon"),
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no longer valid"));
    // Customers cannot make coupons.
    assert_eq!(
        shop.app
            .post(
                "/api/v1/coupons",
                Some(&shop.customer),
                json!({"code": "MINE", "percent_off_bp": 10000})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_renewal_paid_late_gets_one_late_fee() {
    let shop = shop_with(
        FakeStripe::start().await,
        Layer {
            late_fee_fixed: Some(500),
            late_fee_percent_bp: Some(1000),
            late_fee_after_days: Some(3),
            ..Layer::default()
        },
    )
    .await;
    let invoice = shop.order("ada").await;
    let paid = shop.mark_paid(&invoice, "t1").await;
    let license = paid["license_id"].as_i64().unwrap();
    shop.app
        .set_time(
            "licenses",
            "expires_at",
            license,
            Utc::now() + Duration::days(3),
        )
        .await;
    let run = || async {
        let (status, report) = shop
            .app
            .post("/api/v1/billing/run", Some(&shop.admin), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        report
    };
    assert_eq!(run().await["renewal_invoices"], 1);
    let (_, open) = shop
        .app
        .get("/api/v1/me/invoices?status=open", Some(&shop.customer))
        .await;
    let renewal = open["items"][0].clone();
    // Two days late: nothing yet; five days late: one fee, 5.00 plus 10 % of 9.99.
    shop.app
        .set_time(
            "invoices",
            "due_at",
            renewal["id"].as_i64().unwrap(),
            Utc::now() - Duration::days(2),
        )
        .await;
    assert_eq!(run().await["late_fees"], 0);
    shop.app
        .set_time(
            "invoices",
            "due_at",
            renewal["id"].as_i64().unwrap(),
            Utc::now() - Duration::days(5),
        )
        .await;
    assert_eq!(run().await["late_fees"], 1);
    assert_eq!(run().await["late_fees"], 0, "once per overdue invoice");
    let (_, open) = shop
        .app
        .get("/api/v1/me/invoices?status=open", Some(&shop.customer))
        .await;
    let fee = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "late_fee")
        .cloned()
        .unwrap();
    assert_eq!(fee["total"], 500 + 100);
    let detail = shop.invoice(&fee["id"]).await;
    assert!(
        detail["lines"][0]["description"]
            .as_str()
            .unwrap()
            .contains(renewal["number"].as_str().unwrap()),
        "{detail}"
    );
    // Paying the fee changes nothing else: the renewal is still to pay.
    shop.mark_paid(&fee, "fee").await;
    assert_eq!(shop.invoice(&renewal["id"]).await["status"], "open");
}
