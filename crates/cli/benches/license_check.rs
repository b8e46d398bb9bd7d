//! License validation by fleet size: the release server validates signed version-2
//! callbacks (`POST /api/v1/licenses/validate`, a fresh `request_id` each) from one
//! registered server, first with 5 servers registered, then with 5,000
//! (`BENCH_FLEET`). The caller is found by the keyed hash of its API key, so the rate
//! should not depend on the fleet: the benchmark prints both rates and their ratio
//! (the target is at least 90 %).
//!
//! Bounded: `BENCH_SECONDS` (default 5) per measurement with `BENCH_CONCURRENCY`
//! (default 16) connections; SQLite always, PostgreSQL too when DATABASE_URL points
//! to one. Loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nextpanel_sim::license_callback::{new_request_id, sign};
use nextpanel_sim::SimConfig;
use serde_json::json;

mod common;

use common::{env_u64, on_each_engine, plan_and_customer, start_server, Api};

/// The master key `common::start_server` gives the server, so sealed keys and look-up
/// hashes seeded here are the ones it would write.
fn vault() -> billing::vault::Vault {
    billing::vault::Vault::from_hex(&"42".repeat(32)).unwrap()
}

/// Validations per second over `BENCH_SECONDS` with `BENCH_CONCURRENCY` callers.
async fn rate(base: &str, key: &str, secret: &str, license: &str) -> (f64, u64) {
    let seconds = env_u64("BENCH_SECONDS", 5);
    let concurrency = env_u64("BENCH_CONCURRENCY", 16);
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let url = format!("{base}/api/v1/licenses/validate");
    let mut callers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, stop, done) = (client.clone(), url.clone(), stop.clone(), done.clone());
        let (key, secret, license) = (key.to_owned(), secret.to_owned(), license.to_owned());
        callers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ts = chrono::Utc::now().timestamp();
                let id = new_request_id().unwrap();
                let signature = sign(&secret, &[&license, "create_database", &ts.to_string(), &id]);
                let resp = client
                    .post(&url)
                    .header("X-API-Key", &key)
                    .json(&json!({"license_key": license, "feature": "create_database", "timestamp": ts,
                        "request_id": id, "signature": signature}))
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "validation answered {}", resp.status());
                let answer: serde_json::Value = resp.json().await.unwrap();
                assert_eq!(answer["valid"], true, "{answer}");
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for c in callers {
        c.await.unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    (n as f64 / started.elapsed().as_secs_f64(), n)
}

/// Registers the servers numbered by `range` straight in the database, each with its own sealed
/// key pair and look-up hash (as the API would store them).
macro_rules! seed_servers {
    ($pool:expr, $range:expr) => {{
        let vault = vault();
        let now = chrono::Utc::now();
        for chunk in $range.collect::<Vec<u64>>().chunks(250) {
            let mut sql = String::from(
                "INSERT INTO servers (name, base_url, api_key_sealed, api_secret_sealed, api_key_hint, capacity, \
                 is_active, is_online, created_at, updated_at, api_key_lookup) VALUES ",
            );
            let mut rows = Vec::new();
            for i in chunk {
                let key = format!("npk_fleet_{i:06}");
                rows.push(format!(
                    "('fleet-{i:06}', 'http://127.0.0.1:9', '{}', '{}', 'npk_…{i:06}', 100, TRUE, TRUE, $1, $1, '{}')",
                    vault.seal(&key).unwrap(),
                    vault.seal(&format!("nps_fleet_{i:06}")).unwrap(),
                    vault.lookup_hash(&key)
                ));
            }
            sql.push_str(&rows.join(", "));
            sqlx::query(&sql).bind(now).execute($pool).await.unwrap();
        }
    }};
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let fleet = env_u64("BENCH_FLEET", 5_000);
    // One server calls far more often here than a panel would: no per-server limit.
    std::fs::write(
        dir.join("nextpanel-bill.toml"),
        "license_callbacks_per_minute = 4000000000\n",
    )
    .unwrap();
    let extra = [
        "--workers",
        "2",
        "--health-interval",
        "0",
        "--billing-interval",
        "0",
    ];
    let server = start_server(&dir, &database_url, &extra).await;
    let api = Api::login(&server.base, 4).await;
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap();
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/servers",
            json!({"name": "node-0", "base_url": sim.base_url(), "api_key": sim.api_key(), "api_secret": sim.api_secret(), "capacity": 100}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let (plan, customer) = plan_and_customer(
        &api,
        json!({
            "name": "Checked", "currency": "USD", "prices": {"monthly": 999},
            "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
            "account_type": "panel", "package_id": 1
        }),
    )
    .await;
    let (status, account) = api
        .post(
            "/api/v1/nextpanel/provision",
            json!({"customer_id": customer, "username": "checked", "plan_id": plan}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{account}");
    let license = account["license_key"].as_str().unwrap().to_owned();

    with_pool!(database_url, |pool| seed_servers!(&pool, 0..4));
    let (small, n_small) = rate(&server.base, sim.api_key(), sim.api_secret(), &license).await;
    with_pool!(database_url, |pool| seed_servers!(&pool, 4..fleet - 1));
    let (large, n_large) = rate(&server.base, sim.api_key(), sim.api_secret(), &license).await;
    println!("\n{name}:");
    println!("  5 servers registered: {small:.0} validations/s ({n_small} signed v2 callbacks)");
    println!(
        "  {fleet} servers registered: {large:.0} validations/s ({n_large} signed v2 callbacks)"
    );
    println!(
        "  {fleet} servers vs 5: {:.0} % (target: at least 90 %)",
        100.0 * large / small
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill license-validation benchmark: {} callers, {} s each, {} cores shared by client and server",
        env_u64("BENCH_CONCURRENCY", 16),
        env_u64("BENCH_SECONDS", 5),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_lic", bench_engine).await;
}
