//! A renewal day: `BENCH_RENEWALS` (default 10,000) customers with a saved card and
//! autopay on, each with a renewal invoice due now, seeded straight into the database;
//! then two billing runs started at once (as two instances would) charge them
//! off-session against a loopback Stripe stand-in that answers each PaymentIntent after
//! `BENCH_STRIPE_LATENCY_MS` (default 100 ms) and honours idempotency keys as Stripe does.
//! Prints the charges per second next to the ideal the configured concurrency allows
//! (`BENCH_AUTOPAY_CONCURRENCY`, default 16), and checks that every invoice is paid
//! and that Stripe was asked to charge each exactly once.
//!
//! SQLite always; PostgreSQL too when DATABASE_URL points to one. Loopback only, and
//! bounded by `BENCH_DEADLINE_SECS` (default 600) per engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

mod common;

use common::{env_u64, on_each_engine, start_server, Api};

/// What the Stripe stand-in saw.
#[derive(Default)]
struct Seen {
    /// PaymentIntents created per invoice (repeats of a key excluded).
    charges: HashMap<String, u32>,
    /// Answers by idempotency key.
    answers: HashMap<String, Value>,
}

type Shared = State<(Arc<Mutex<Seen>>, Duration)>;

async fn payment_intent(
    State((seen, latency)): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Some(answer) = seen.lock().unwrap().answers.get(&key) {
        return Json(answer.clone());
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let field = |k: &str| {
        form.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    tokio::time::sleep(latency).await;
    let invoice = field("metadata[invoice_id]");
    let mut seen = seen.lock().unwrap();
    let n = seen.answers.len() + 1;
    let answer = json!({"id": format!("pi_bench_{n}"), "object": "payment_intent", "status": "succeeded",
        "amount": field("amount").parse::<i64>().unwrap(), "currency": field("currency"),
        "customer": field("customer"), "payment_method": field("payment_method"),
        "metadata": {"invoice_id": invoice}});
    *seen.charges.entry(invoice).or_default() += 1;
    seen.answers.insert(key, answer.clone());
    Json(answer)
}

async fn start_stripe(latency: Duration) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route("/v1/payment_intents", post(payment_intent))
        .with_state((seen.clone(), latency));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

/// Seeds `n` customers with a saved card, an active license and an open renewal invoice
/// due now, in four set-based statements.
macro_rules! seed {
    ($pool:expr, $n:expr, $plan:expr) => {{
        let now = chrono::Utc::now();
        let due = now - chrono::Duration::minutes(1);
        sqlx::query(
            "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1) \
             INSERT INTO users (email, role, full_name, is_active, created_at, updated_at, stripe_customer_id, autopay) \
             SELECT 'renew-' || i || '@example.com', 'customer', 'Renewal ' || i, TRUE, $2, $2, 'cus_bench_' || i, TRUE FROM seq",
        )
        .bind($n)
        .bind(now)
        .execute($pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO saved_cards (customer_id, payment_method_id, brand, last4, exp_month, exp_year, saved_at) \
             SELECT id, 'pm_bench_' || id, 'visa', '4242', 12, 2099, $1 FROM users WHERE email LIKE 'renew-%'",
        )
        .bind(now)
        .execute($pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO licenses (license_key, customer_id, plan_id, billing_cycle, status, max_accounts, max_domains, \
             max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, created_at, updated_at) \
             SELECT 'NP-BNCH-' || id, id, $1, 'monthly', 'active', 1, 5, 5, 10, 10240, -1, $2, $3, $2, $2 \
             FROM users WHERE email LIKE 'renew-%'",
        )
        .bind($plan)
        .bind(now)
        .bind(due)
        .execute($pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO invoices (customer_id, kind, status, plan_id, billing_cycle, license_id, currency, total_minor, \
             period_start, due_at, created_at, updated_at) \
             SELECT customer_id, 'renewal', 'open', plan_id, 'monthly', id, 'USD', 999, expires_at, expires_at, $1, $1 \
             FROM licenses WHERE license_key LIKE 'NP-BNCH-%'",
        )
        .bind(now)
        .execute($pool)
        .await
        .unwrap();
    }};
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let renewals = env_u64("BENCH_RENEWALS", 10_000);
    let latency = Duration::from_millis(env_u64("BENCH_STRIPE_LATENCY_MS", 100));
    let concurrency = env_u64("BENCH_AUTOPAY_CONCURRENCY", 16);
    let deadline = Duration::from_secs(env_u64("BENCH_DEADLINE_SECS", 600).max(10));
    let (stripe, seen) = start_stripe(latency).await;
    std::fs::write(
        dir.join("nextpanel-bill.toml"),
        format!(
            "stripe_secret_key = \"sk_test_bench\"\nstripe_api_base = \"{stripe}\"\n\
             payment_sweep_interval_secs = 0\nautopay_concurrency = {concurrency}\n"
        ),
    )
    .unwrap();
    let log = dir.join("provisioned_accounts.log");
    let extra = [
        "--workers",
        "2",
        "--health-interval",
        "0",
        "--billing-interval",
        "0",
        "--provisioning-log",
        log.to_str().unwrap(),
    ];
    let server = start_server(&dir, &database_url, &extra).await;
    let api = Api::login(&server.base, 4).await;
    let (status, plan) = api
        .post(
            "/api/v1/plans",
            json!({
                "name": "Renewing", "currency": "USD", "prices": {"monthly": 999},
                "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
                "account_type": "panel", "package_id": 1
            }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{plan}");
    let plan = plan["id"].as_i64().unwrap();

    let seeded = Instant::now();
    let n = i64::try_from(renewals).unwrap();
    with_pool!(database_url, |pool| seed!(&pool, n, plan));
    let seeding = seeded.elapsed();

    // Two billing runs at once, as two instances on one database would start them.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(deadline)
        .build()
        .unwrap();
    let run = || {
        let client = client.clone();
        let url = format!("{}/api/v1/billing/run", api.base);
        let token = api.token.clone();
        async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .expect("the billing run answered within the deadline");
            assert!(resp.status().is_success(), "billing run: {}", resp.status());
            resp.json::<Value>().await.unwrap()
        }
    };
    let started = Instant::now();
    let (a, b) = tokio::join!(run(), run());
    let took = started.elapsed();
    let charged =
        a["autopay"]["charged"].as_i64().unwrap() + b["autopay"]["charged"].as_i64().unwrap();

    let paid = api.get("/api/v1/invoices?status=paid&per_page=1").await["total"]
        .as_i64()
        .unwrap();
    let seen = seen.lock().unwrap();
    let twice = seen.charges.values().filter(|c| **c > 1).count();
    assert_eq!(
        charged, n,
        "every renewal charged by one of the runs: {a} {b}"
    );
    assert_eq!(paid, n, "every renewal paid");
    assert_eq!(
        seen.charges.len(),
        renewals as usize,
        "Stripe asked about every invoice"
    );
    assert_eq!(twice, 0, "no invoice charged twice");

    // Each of the two runs keeps `concurrency` charges in flight.
    let ideal = 2.0 * concurrency as f64 / latency.as_secs_f64();
    let rate = n as f64 / took.as_secs_f64();
    println!("\n{name}:");
    println!(
        "  seeded {renewals} customers, cards, licenses and due renewals in {:.2} s",
        seeding.as_secs_f64()
    );
    println!(
        "  two billing runs at once charged {renewals} renewals in {:.2} s: {rate:.0} charges/s \
         ({:.0} % of the ideal {ideal:.0}/s for 2 runs x {concurrency} in flight at {} ms each)",
        took.as_secs_f64(),
        100.0 * rate / ideal,
        latency.as_millis()
    );
    println!(
        "  invoices paid: {paid}; PaymentIntents created: {}; invoices charged twice: {twice}",
        seen.charges.values().sum::<u32>()
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill renewal-day benchmark: {} renewals charged off-session, Stripe answering in {} ms, {} cores shared by client, server and Stripe stand-in",
        env_u64("BENCH_RENEWALS", 10_000),
        env_u64("BENCH_STRIPE_LATENCY_MS", 100),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_renew", bench_engine).await;
}
