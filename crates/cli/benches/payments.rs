//! Payments: the release `nextpanel-bill serve` takes `BENCH_PAYMENTS` (default 500)
//! orders, then receives one signed `checkout.session.completed` webhook per order,
//! `BENCH_DELIVERERS` (default 16) at a time, each also redelivered once (as Stripe
//! does). Prints the webhook rate and latency (p50/p99: signature check plus the
//! transaction that records the payment, issues the license and queues the account
//! with its job and messages), the time until every paid account is active on the
//! simulated server, and checks that nothing was applied twice.
//!
//! SQLite always; PostgreSQL too when DATABASE_URL points to one. Loopback only, and
//! bounded by `BENCH_DEADLINE_SECS` (default 180) per engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nextpanel_sim::SimConfig;
use secrecy::SecretString;
use serde_json::{json, Value};

mod common;

use common::{bounded, env_u64, on_each_engine, plan_and_customer, start_server, Api};

const WEBHOOK_SECRET: &str = "whsec_bench_secret";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn deliver(api: &Api, event: &Value) -> (reqwest::StatusCode, Value) {
    let payload = serde_json::to_vec(event).unwrap();
    let header = billing::payments::stripe::sign(
        &payload,
        &SecretString::from(WEBHOOK_SECRET),
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap(),
    );
    let resp = api
        .client
        .post(format!("{}/webhooks/stripe", api.base))
        .header("stripe-signature", header)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let payments = env_u64("BENCH_PAYMENTS", 500);
    let deliverers = env_u64("BENCH_DELIVERERS", 16) as usize;
    let deadline =
        Instant::now() + Duration::from_secs(env_u64("BENCH_DEADLINE_SECS", 180).max(10));
    let log = dir.join("provisioned_accounts.log");
    let extra = [
        "--workers",
        "8",
        "--health-interval",
        "0",
        "--billing-interval",
        "0",
        "--stripe-webhook-secret",
        WEBHOOK_SECRET,
        "--provisioning-log",
        log.to_str().unwrap(),
    ];
    let server = start_server(&dir, &database_url, &extra).await;
    let api = Api::login(&server.base, deliverers).await;
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap();
    let capacity = i64::try_from(payments + 10).unwrap();
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/servers",
            json!({"name": "node-1", "base_url": sim.base_url(), "api_key": sim.api_key(), "api_secret": sim.api_secret(), "capacity": capacity}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let (plan, customer) = plan_and_customer(
        &api,
            json!({
                "name": "Bench", "currency": "USD", "prices": {"monthly": 999}, "setup_fee": 500,
                "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
                "account_type": "panel", "package_id": 1
            }),
    )
    .await;

    // The orders (not measured).
    let orders = (0..payments).map(|i| {
        let api = api.clone();
        async move {
            let (status, invoice) = api
                .post(
                    &format!("/api/v1/customers/{customer}/orders"),
                    json!({"plan_id": plan, "username": format!("pay{i:05}")}),
                )
                .await;
            assert_eq!(status, reqwest::StatusCode::CREATED, "{invoice}");
            invoice
        }
    });
    let invoices = bounded(deliverers, deadline, "ordering", orders).await;

    // The payments: each event delivered, then redelivered.
    let started = Instant::now();
    let deliveries = invoices.iter().enumerate().map(|(n, invoice)| {
        let api = api.clone();
        let event = json!({"id": format!("evt_bench_{n}"), "type": "checkout.session.completed",
            "data": {"object": {"id": format!("cs_bench_{n}"), "payment_intent": format!("pi_bench_{n}"),
                "payment_status": "paid", "amount_total": invoice["total"], "currency": "usd",
                "metadata": {"invoice_id": invoice["id"].to_string()}}}});
        async move {
            let begun = Instant::now();
            let (status, receipt) = deliver(&api, &event).await;
            let took = begun.elapsed();
            assert!(status.is_success(), "{status} {receipt}");
            assert_eq!(receipt["duplicate"], false, "{receipt}");
            let (status, again) = deliver(&api, &event).await;
            assert!(status.is_success(), "{status} {again}");
            assert_eq!(again["duplicate"], true, "{again}");
            took
        }
    });
    let mut latencies = bounded(deliverers, deadline, "delivering", deliveries).await;
    let delivered = started.elapsed();
    let total = i64::try_from(payments).unwrap();
    loop {
        let active = api.count("active").await;
        if active == total {
            break;
        }
        assert_eq!(api.count("failed").await, 0, "accounts failed to provision");
        assert!(
            Instant::now() < deadline,
            "the benchmark's deadline passed with {active} of {total} accounts active"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_active = started.elapsed();
    assert_eq!(
        sim.stats()["creates_performed"].as_u64(),
        Some(payments),
        "one panel account per payment"
    );
    let paid = api.get("/api/v1/invoices?status=paid&per_page=1").await["total"].as_i64();
    assert_eq!(paid, Some(total));

    latencies.sort();
    println!("\n{name}:");
    println!(
        "  {payments} payments delivered twice each in {:.2} s: {:.0} first deliveries/s ({deliverers} in flight)",
        delivered.as_secs_f64(),
        payments as f64 / delivered.as_secs_f64()
    );
    println!(
        "  webhook latency (first delivery): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    println!(
        "  every paid account active on the panel after {:.2} s: {:.1} accounts/s; replays applied: 0",
        all_active.as_secs_f64(),
        payments as f64 / all_active.as_secs_f64()
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill payments benchmark: {} orders paid by signed Stripe webhooks (each redelivered), 8 job workers, 1 simulated server, {} cores shared by client, server and simulator",
        env_u64("BENCH_PAYMENTS", 500),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_pay", bench_engine).await;
}
