//! Web console: how fast the admin console shows its pages in headless chromium against
//! a release server holding `BENCH_ACCOUNTS` (default 500) hosting accounts, 100
//! customers with an open invoice each, and one simulated panel. Prints the cold load
//! (bytes, requests, time to the sign-in form), a warm reload (revalidated files),
//! the cold load again with 50 ms of emulated latency per request, and, per page,
//! p50/p95 from the navigation to the page drawn with its data
//! (`BENCH_ROUNDS`, default 20, visits each).
//!
//! Needs node, playwright-core (`npm ci --prefix crates/billing/tests/browser`) and
//! chromium (`CHROMIUM_PATH`, default /usr/bin/chromium); says so and skips without them.
//! SQLite always; PostgreSQL too when DATABASE_URL points to one. Loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;

use common::{
    bounded, env_u64, on_each_engine, plan_and_customer, start_server, Api, ADMIN_PASSWORD,
};

const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../billing/tests/browser");

fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        return Some(format!("chromium is not at {chromium}"));
    }
    if !Path::new(BROWSER_DIR)
        .join("node_modules/playwright-core")
        .is_dir()
    {
        return Some(
            "playwright-core is not installed (npm ci --prefix crates/billing/tests/browser)"
                .into(),
        );
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not on PATH".into());
    }
    None
}

/// Fills the server; returns the simulated panel, which must live as long as the server.
async fn seed(api: &Api, accounts: u64) -> nextpanel_sim::SimHandle {
    let sim = nextpanel_sim::spawn(nextpanel_sim::SimConfig::random().unwrap())
        .await
        .unwrap();
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/servers",
            json!({"name": "node-1", "base_url": sim.base_url(), "api_key": sim.api_key(),
                   "api_secret": sim.api_secret(), "capacity": accounts + 10}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let (plan, customer) = plan_and_customer(
        api,
        json!({
            "name": "Bench", "currency": "USD", "prices": {"monthly": 999, "annual": 9990},
            "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
            "account_type": "panel", "package_id": 1
        }),
    )
    .await;
    // Both kinds of work share one bound of 16 requests in flight.
    type Job = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
    let provisions = (0..accounts).map(|i| {
        let api = api.clone();
        Box::pin(async move {
            let (status, body) = api
                .post(
                    "/api/v1/nextpanel/provision",
                    json!({"customer_id": customer, "username": format!("site{i:05}"), "plan_id": plan}),
                )
                .await;
            assert!(status.is_success(), "provision {i}: {status} {body}");
        }) as Job
    });
    let orders = (0..100).map(|i| {
        let api = api.clone();
        Box::pin(async move {
            let (status, c) = api
                .post(
                    "/api/v1/customers",
                    json!({"email": format!("c{i}@example.com"), "full_name": format!("Customer {i}")}),
                )
                .await;
            assert_eq!(status, reqwest::StatusCode::CREATED, "{c}");
            let (status, inv) = api
                .post(
                    &format!("/api/v1/customers/{}/orders", c["id"]),
                    json!({"plan_id": plan, "username": format!("order{i:03}")}),
                )
                .await;
            assert_eq!(status, reqwest::StatusCode::CREATED, "{inv}");
        }) as Job
    });
    let submitted_by = Instant::now() + Duration::from_secs(120);
    bounded(16, submitted_by, "seeding", provisions.chain(orders)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while api.count("active").await < i64::try_from(accounts).unwrap() {
        assert!(Instant::now() < deadline, "seeding did not finish in 120 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let accounts = env_u64("BENCH_ACCOUNTS", 500);
    let config = dir.join("bench.toml");
    std::fs::write(&config, "provision_wait_secs = 0\n").unwrap();
    let extra = [
        "--config",
        config.to_str().unwrap(),
        "--health-interval",
        "0",
    ];
    let server = start_server(&dir, &database_url, &extra).await;
    let api = Api::login(&server.base, 16).await;
    let _panel = seed(&api, accounts).await;

    let base = server.base.clone();
    let rounds = env_u64("BENCH_ROUNDS", 20).to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("bench-console.mjs")
            .current_dir(BROWSER_DIR)
            .env("BASE_URL", base)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ROUNDS", rounds)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "bench-console.mjs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(line.trim()).expect("one JSON line");
    println!("\n{name} ({accounts} accounts, 100 customers with an open invoice):");
    let kib = |v: &Value| v.as_f64().unwrap_or(0.0) / 1024.0;
    println!(
        "  cold load to the sign-in form: {} ms, {} files, {:.1} KiB on the wire",
        r["coldMs"],
        r["coldLoad"]["files"],
        kib(&r["coldLoad"]["bytes"])
    );
    println!(
        "  the same with 50 ms between browser and server: {} ms",
        r["coldRemoteMs"]
    );
    println!(
        "  warm reload to the dashboard: {} ms, {} files revalidated ({:.1} KiB on the wire), {} API calls",
        r["warmMs"],
        r["warmLoad"]["files"],
        kib(&r["warmLoad"]["bytes"]),
        r["warmLoad"]["api"]
    );
    if let Some(views) = r["navigation"].as_object() {
        for (view, t) in views {
            println!(
                "  {view:<12} p50 {:>4} ms  p95 {:>4} ms",
                t["p50"], t["p95"]
            );
        }
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Some(why) = missing() {
        println!("console benchmark skipped: {why}");
        return;
    }
    println!(
        "nextpanel-bill web console benchmark: headless chromium and the server share this machine's {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_console", bench_engine).await;
}
