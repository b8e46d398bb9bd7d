//! The MRR, services and revenue reports read summaries that triggers keep (migration
//! 0024). These tests hold every point of them to what counting the licenses, payments
//! and refunds directly gives (the queries the reports ran before), through activation,
//! expiry, cancellation, plan and cycle changes, a customer's currency, price changes,
//! bulk updates, deletion, instants exactly on a month's start and months with nothing.

use billing::config::Layer;
use billing::store::Db;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::payments::{shop_with, Shop};
use crate::stripe_fake::FakeStripe;

const MONTHS: u32 = 15;

/// Series as the reports give them: name and values, in the order they first appear.
type Shown = Vec<(String, Vec<i64>)>;

fn put(shown: &mut Shown, name: &str, at: usize, value: i64) {
    let i = match shown.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            shown.push((name.to_owned(), vec![0; MONTHS as usize]));
            shown.len() - 1
        }
    };
    shown[i].1[at] += value;
}

/// The first instant of each of the last `MONTHS` months and of the next.
fn bounds(now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let this = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    (0..=MONTHS)
        .map(|i| {
            if i < MONTHS {
                this - Months::new(MONTHS - 1 - i)
            } else {
                this + Months::new(1)
            }
        })
        .collect()
}

/// The start of the month `back` months before this one, plus `days`.
fn month_start(back: u32, days: i64) -> DateTime<Utc> {
    bounds(Utc::now())[(MONTHS - 1) as usize] - Months::new(back) + Duration::days(days)
}

async fn rows<T>(db: &Db, sql: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<T>
where
    T: Send + Unpin,
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    match db {
        Db::Sqlite(pool) => sqlx::query_as(sql)
            .bind(from)
            .bind(until)
            .fetch_all(pool)
            .await
            .unwrap(),
        Db::Postgres(pool, _) => sqlx::query_as(sql)
            .bind(from)
            .bind(until)
            .fetch_all(pool)
            .await
            .unwrap(),
    }
}

/// Runs `sql` with a time and an id (set-up by hand, as an import or a script would).
async fn run(db: &Db, sql: &str, at: DateTime<Utc>, id: i64) {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query(sql)
                .bind(at)
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
        Db::Postgres(pool, _) => {
            sqlx::query(sql)
                .bind(at)
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

/// The reports' answers from the licenses, payments and refunds themselves.
async fn counted(db: &Db, now: DateTime<Utc>) -> (Shown, Shown, Shown) {
    let b = bounds(now);
    let (mut mrr, mut revenue, mut services) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..MONTHS as usize {
        let at = b[i + 1].min(now);
        let live: Vec<(String, String, i64)> = rows(
            db,
            "SELECT COALESCE(pc.currency, p.currency), l.billing_cycle, \
             CAST(COALESCE(SUM(CASE WHEN pc.plan_id IS NOT NULL THEN \
               CASE l.billing_cycle WHEN 'monthly' THEN pc.price_monthly WHEN 'quarterly' THEN pc.price_quarterly \
               WHEN 'semiannual' THEN pc.price_semiannual ELSE pc.price_annual END \
             ELSE \
               CASE l.billing_cycle WHEN 'monthly' THEN p.price_monthly WHEN 'quarterly' THEN p.price_quarterly \
               WHEN 'semiannual' THEN p.price_semiannual ELSE p.price_annual END \
             END), 0) AS BIGINT) \
             FROM licenses l JOIN plans p ON p.id = l.plan_id JOIN users u ON u.id = l.customer_id \
             LEFT JOIN plan_currency_prices pc ON pc.plan_id = p.id AND pc.currency = u.billing_currency \
             WHERE l.activated_at <= $1 AND l.expires_at > $1 AND (l.cancelled_at IS NULL OR l.cancelled_at > $2) \
             GROUP BY COALESCE(pc.currency, p.currency), l.billing_cycle ORDER BY 1, 2",
            at,
            at,
        )
        .await;
        let mut twelfths: Vec<(String, i128)> = Vec::new();
        for (currency, cycle, total) in live {
            let per_year = match cycle.as_str() {
                "monthly" => 12,
                "quarterly" => 4,
                "semiannual" => 2,
                _ => 1,
            };
            match twelfths.iter_mut().find(|(c, _)| *c == currency) {
                Some((_, t)) => *t += i128::from(total) * per_year,
                None => twelfths.push((currency, i128::from(total) * per_year)),
            }
        }
        for (currency, t) in twelfths {
            let rounded = (t + 6) / 12;
            put(&mut mrr, &currency, i, i64::try_from(rounded).unwrap());
        }
        let paid: Vec<(String, i64)> = rows(
            db,
            "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM payments \
             WHERE status = 'succeeded' AND created_at >= $1 AND created_at < $2 GROUP BY currency ORDER BY currency",
            b[i],
            b[i + 1],
        )
        .await;
        for (currency, total) in paid {
            put(&mut revenue, &currency, i, total);
        }
        let refunded: Vec<(String, i64)> = rows(
            db,
            "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM refunds \
             WHERE state = 'succeeded' AND finished_at >= $1 AND finished_at < $2 GROUP BY currency ORDER BY currency",
            b[i],
            b[i + 1],
        )
        .await;
        for (currency, total) in refunded {
            put(&mut revenue, &currency, i, -total);
        }
        let new: Vec<(i64,)> = rows(
            db,
            "SELECT COUNT(*) FROM licenses WHERE activated_at >= $1 AND activated_at < $2",
            b[i],
            b[i + 1],
        )
        .await;
        put(&mut services, "new", i, new[0].0);
        let cancelled: Vec<(i64,)> = rows(
            db,
            "SELECT COUNT(*) FROM licenses WHERE cancelled_at >= $1 AND cancelled_at < $2",
            b[i],
            b[i + 1],
        )
        .await;
        put(&mut services, "cancelled", i, cancelled[0].0);
    }
    (mrr, revenue, services)
}

fn shown(report: &Value) -> Shown {
    report["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let values = s["points"].as_array().unwrap();
            (
                s["name"].as_str().unwrap().to_owned(),
                values
                    .iter()
                    .map(|p| p["value"].as_i64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

/// Every point of the three reports equals the direct count; returns the MRR series.
async fn check(shop: &Shop, step: &str) -> Shown {
    let mut got = Vec::new();
    for name in ["mrr", "revenue", "services"] {
        let (status, report) = shop
            .app
            .get(
                &format!("/api/v1/reports/{name}?months={MONTHS}"),
                Some(&shop.admin),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        got.push(shown(&report));
    }
    let (mrr, revenue, services) = counted(&shop.app.db, Utc::now()).await;
    assert_eq!(got[0], mrr, "MRR after {step}");
    assert_eq!(got[1], revenue, "revenue after {step}");
    assert_eq!(got[2], services, "services after {step}");
    got.swap_remove(0)
}

async fn paid_order(shop: &Shop, customer: i64, plan: i64, cycle: &str, username: &str) -> Value {
    let (status, invoice) = shop
        .app
        .post(
            &format!("/api/v1/customers/{customer}/orders"),
            Some(&shop.admin),
            json!({"plan_id": plan, "username": username, "billing_cycle": cycle}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invoice}");
    shop.mark_paid(&invoice, &format!("transfer {username}"))
        .await
}

#[tokio::test]
async fn reports_match_the_licenses_and_payments_through_every_change() {
    let mut shop = shop_with(FakeStripe::start().await, Layer::default()).await;
    // This test rewrites payments by hand (one "failed after all" while it paid its
    // invoice) to see the reports follow; the books are broken on purpose.
    shop.app.ledger_check = false;
    let db = &shop.app.db;
    let empty = check(&shop, "nothing yet").await;
    assert!(empty.is_empty(), "{empty:?}");

    // A second plan sold in USD and EUR, a customer billed in EUR.
    let mut body = crate::helpers::plan_body("Business");
    body["prices"] = json!({"monthly": 2_500, "quarterly": 7_000, "annual": 25_000});
    let (_, business) = shop
        .app
        .post("/api/v1/plans", Some(&shop.admin), body)
        .await;
    let business = business["id"].as_i64().unwrap();
    shop.app
        .exec(&format!(
            "INSERT INTO plan_currency_prices (plan_id, currency, price_monthly, price_quarterly, price_annual, setup_fee) \
             VALUES ({business}, 'EUR', 2300, 6500, 23000, 0)"
        ))
        .await;
    let (euro, _) = shop.app.customer(&shop.admin, "eve@example.com").await;
    let (status, _) = shop
        .app
        .patch(
            &format!("/api/v1/customers/{euro}"),
            Some(&shop.admin),
            json!({"billing_currency": "EUR"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut licenses = Vec::new();
    for (customer, plan, cycle, username) in [
        (shop.customer_id, shop.plan, "monthly", "ada1"),
        (shop.customer_id, business, "annual", "ada2"),
        (euro, business, "quarterly", "eve1"),
        (euro, business, "monthly", "eve2"),
        (shop.customer_id, shop.plan, "annual", "ada3"),
    ] {
        let paid = paid_order(&shop, customer, plan, cycle, username).await;
        licenses.push(paid["license_id"].as_i64().unwrap());
    }
    let after = check(&shop, "five orders").await;
    assert!(after.iter().any(|(n, _)| n == "EUR"), "{after:?}");

    // Activations back in time: before the window, exactly on a month's start, mid-month.
    shop.app
        .set_time("licenses", "activated_at", licenses[0], month_start(20, 3))
        .await;
    shop.app
        .set_time("licenses", "activated_at", licenses[1], month_start(6, 0))
        .await;
    shop.app
        .set_time("licenses", "activated_at", licenses[2], month_start(9, 12))
        .await;
    shop.app
        .set_time("licenses", "activated_at", licenses[3], month_start(4, 27))
        .await;
    check(&shop, "activations moved back").await;

    // Expiry: one long past, one exactly on a month's start, one later this month.
    shop.app
        .set_time("licenses", "expires_at", licenses[0], month_start(8, 15))
        .await;
    shop.app
        .set_time("licenses", "expires_at", licenses[2], month_start(2, 0))
        .await;
    shop.app
        .set_time("licenses", "expires_at", licenses[3], month_start(0, 40))
        .await;
    check(&shop, "expiries moved").await;

    // Cancellation through the API (now), then one moved back; one cancelled before
    // its expiry and one after (which changes nothing live, but counts as cancelled).
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/licenses/{}/cancel", licenses[4]),
            Some(&shop.admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    check(&shop, "a cancellation").await;
    shop.app
        .set_time("licenses", "cancelled_at", licenses[1], month_start(3, 9))
        .await;
    shop.app
        .set_time("licenses", "cancelled_at", licenses[0], month_start(1, 2))
        .await;
    check(&shop, "cancellations moved").await;

    // A renewal brings an expired license back; plan and cycle change; a customer's
    // currency and a price change; a license whose expiry precedes its activation.
    shop.app
        .set_time("licenses", "expires_at", licenses[2], month_start(0, 60))
        .await;
    run(
        db,
        "UPDATE licenses SET plan_id = (SELECT MIN(id) FROM plans), billing_cycle = 'annual', \
         updated_at = $1 WHERE id = $2",
        Utc::now(),
        licenses[3],
    )
    .await;
    check(&shop, "a renewal and a plan change").await;
    shop.app
        .exec(&format!(
            "UPDATE users SET billing_currency = 'EUR' WHERE id = {}",
            shop.customer_id
        ))
        .await;
    shop.app
        .exec(&format!(
            "UPDATE plan_currency_prices SET price_annual = 19900 WHERE plan_id = {business}"
        ))
        .await;
    check(&shop, "a currency and a price change").await;
    shop.app
        .set_time("licenses", "expires_at", licenses[1], month_start(7, 0))
        .await;
    check(&shop, "an expiry before the activation").await;

    // Payments and refunds moved across months, a payment that failed after all.
    let payments = shop
        .app
        .query_strings("SELECT CAST(id AS TEXT) FROM payments ORDER BY id")
        .await;
    let first: i64 = payments[0].parse().unwrap();
    let (status, _) = shop
        .app
        .post(
            &format!("/api/v1/payments/{first}/refund"),
            Some(&shop.admin),
            json!({"amount": 300, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    shop.app
        .set_time("payments", "created_at", first, month_start(5, 1))
        .await;
    shop.app
        .set_time(
            "payments",
            "created_at",
            payments[1].parse().unwrap(),
            month_start(11, 0),
        )
        .await;
    shop.app
        .exec(&format!(
            "UPDATE payments SET status = 'failed' WHERE id = {}",
            payments[2]
        ))
        .await;
    run(
        db,
        "UPDATE refunds SET finished_at = $1 WHERE payment_id = $2",
        month_start(2, 20),
        first,
    )
    .await;
    check(&shop, "payments and refunds moved").await;

    // Bulk changes (one statement over many licenses), then deletion.
    run(
        db,
        "UPDATE licenses SET expires_at = $1 WHERE id <> $2",
        month_start(0, 45),
        licenses[0],
    )
    .await;
    check(&shop, "a bulk expiry move").await;
    // A license issued without an order, then deleted.
    let issued = shop.app.license(&shop.admin, euro, business).await["id"]
        .as_i64()
        .unwrap();
    check(&shop, "a license issued").await;
    run(
        db,
        "DELETE FROM licenses WHERE id = $2 AND updated_at <> $1",
        Utc::now() + Duration::days(1),
        issued,
    )
    .await;
    check(&shop, "a deletion").await;
}
