//! Input that must be refused whole, naming the field, and crash leftovers that must be
//! settled: the findings of the concurrency audit besides the races themselves.

use billing::config::Layer;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, TestApp};
use crate::payments::shop_with;
use crate::stripe_fake::FakeStripe;

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let before = app.count("credit_entries").await;
    // serde would read an array as the struct's fields in order.
    for body in [
        json!(["USD", 777, "x"]),
        json!("USD"),
        json!(12),
        json!(null),
    ] {
        let (status, answer) = app
            .post(
                &format!("/api/v1/customers/{customer}/credit"),
                Some(&admin),
                body,
            )
            .await;
        assert_error(
            (status, answer.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("body"),
        );
    }
    assert_eq!(app.count("credit_entries").await, before);
}

#[tokio::test]
async fn amounts_dates_countries_and_names_are_bounded_and_named() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (customer, _) = app.customer(&admin, "ada@example.com").await;
    let credit = format!("/api/v1/customers/{customer}/credit");
    let (status, body) = app
        .post(
            &credit,
            Some(&admin),
            json!({"currency": "USD", "amount": i64::MAX, "reason": "x"}),
        )
        .await;
    assert_error(
        (status, body.clone()),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("amount"),
    );
    let (status, body) = app
        .post(
            &credit,
            Some(&admin),
            json!({"currency": "USD", "amount": 1_000_000_000_000i64, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &credit,
            Some(&admin),
            json!({"currency": "USD", "amount": 1, "reason": "x"}),
        )
        .await;
    assert_error(
        (status, body.clone()),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("amount"),
    );

    for country in ["XX", "QQ", "ZZ"] {
        let (status, body) = app
            .post(
                "/api/v1/tax-rates",
                Some(&admin),
                json!({"name": "VAT", "rate_bp": 2000, "country": country, "valid_from": "2026-01-01"}),
            )
            .await;
        assert_error(
            (status, body.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("country"),
        );
        let (status, body) = app
            .patch(
                &format!("/api/v1/customers/{customer}"),
                Some(&admin),
                json!({"billing": {"country": country}}),
            )
            .await;
        assert_error(
            (status, body.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("billing.country"),
        );
    }
    let (status, body) = app
        .patch(
            &format!("/api/v1/customers/{customer}"),
            Some(&admin),
            json!({"billing_currency": "XXX"}),
        )
        .await;
    assert_error(
        (status, body.clone()),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("billing_currency"),
    );

    let plan = app.plan(&admin, "Starter").await;
    let license = app.license(&admin, customer, plan).await;
    let (status, body) = app
        .patch(
            &format!("/api/v1/licenses/{}", license["id"]),
            Some(&admin),
            json!({"expires_at": "+99999-01-01T00:00:00Z"}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(body["error"]["field"], "expires_at", "{body}");

    let (status, body) = app.get("/api/v1/reports/bogus", Some(&admin)).await;
    assert_error(
        (status, body.clone()),
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("report"),
    );
}

/// A manual refund recorded pending and then cut off (the process died before its second
/// transaction) is completed with its credit note at the next start.
#[tokio::test]
async fn a_manual_refund_cut_off_by_a_crash_is_completed_at_start_up() {
    let shop = shop_with(FakeStripe::start().await, Layer::default()).await;
    let invoice = shop.order("ada").await;
    shop.mark_paid(&invoice, "transfer ada").await;
    let payment = shop
        .app
        .query_strings("SELECT CAST(id AS TEXT) FROM payments")
        .await;
    // What `refunds::start` leaves behind when the process dies right after its commit.
    let sql = "INSERT INTO refunds (payment_id, invoice_id, amount_minor, currency, reason, provider, \
               idempotency_key, state, service_action, created_by, created_at) \
               VALUES ($1, $2, 500, 'USD', 'goodwill', 'manual', 'crash-1', 'pending', 'none', 'admin@example.com', $3)";
    let at = Utc::now() - Duration::minutes(5);
    let invoice_id = invoice["id"].as_i64().unwrap();
    let payment_id: i64 = payment[0].parse().unwrap();
    match &shop.app.db {
        billing::store::Db::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(payment_id)
                .bind(invoice_id)
                .bind(at)
                .execute(pool)
                .await
                .unwrap();
        }
        billing::store::Db::Postgres(pool, _) => {
            sqlx::query(sql)
                .bind(payment_id)
                .bind(invoice_id)
                .bind(at)
                .execute(pool)
                .await
                .unwrap();
        }
    }
    let fresh = {
        let mut app = shop.app;
        app.ledger_check = false; // the pending refund is what the restart must settle
        app.stop().await
    };
    let layer = Layer {
        payment_sweep_interval_secs: Some(1),
        ..Layer::default()
    };
    let app = TestApp::start(fresh, crate::helpers::test_settings(layer)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let state = app
            .query_strings("SELECT state FROM refunds WHERE idempotency_key = 'crash-1'")
            .await;
        if state == ["succeeded"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {state:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let notes = app
        .query_strings("SELECT CAST(amount_minor AS TEXT) FROM credit_notes")
        .await;
    assert_eq!(notes, ["500"]);
}
