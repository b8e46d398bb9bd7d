//! License validation: the release server validates signed version-2 callbacks
//! (`POST /api/v1/licenses/validate`, a fresh `request_id` each) from one registered
//! server.
//!
//! 1. By fleet size, with 16 callers: 5 servers registered, then 1,000 (`BENCH_FLEET`).
//!    The caller is found by the keyed hash of its API key, so the rate should not
//!    depend on the fleet (target: at least 90 %).
//! 2. With the fleet registered: 1, 16 and 64 callers, and `GET /api/v1/plans` at 64
//!    in the same run (targets: at least 5,000/s and 80 % of `/plans` at 64).
//! 3. p50 and p99 at a fixed offered rate (`BENCH_OFFERED`, default 1,000/s), open
//!    loop (target: p99 under 5 ms).
//!
//! Bounded: `BENCH_SECONDS` (default 5) per measurement; SQLite always, PostgreSQL too
//! when DATABASE_URL points to one. Loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{client, env_u64, on_each_engine, start_server, validation_setup, Api, Caller};

/// The master key `common::start_server` gives the server, so sealed keys and look-up
/// hashes seeded here are the ones it would write.
fn vault() -> billing::vault::Vault {
    billing::vault::Vault::from_hex(&"42".repeat(32)).unwrap()
}

/// Requests per second over `BENCH_SECONDS` with `connections` callers each sending the
/// next request when the last is answered (closed loop).
async fn closed_loop<F, Fut>(connections: u64, call: F) -> (f64, u64)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let seconds = env_u64("BENCH_SECONDS", 5);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for _ in 0..connections {
        let (call, stop, done) = (call.clone(), stop.clone(), done.clone());
        callers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                call().await;
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

/// p50 and p99 in milliseconds at a fixed offered rate (open loop): a request starts at
/// its scheduled time whether or not earlier ones were answered, so a slow answer never
/// delays the next request. Latency counts from when the request was sent; how late the
/// sender itself was (tokio's timer has 1 ms steps, and it shares the cores) is returned
/// apart, as the p99 of the lateness, so a stalled sender cannot hide.
async fn open_loop(per_second: u64, caller: Caller) -> (f64, f64, f64, usize) {
    let seconds = env_u64("BENCH_SECONDS", 5);
    let total = per_second * seconds;
    let gap = Duration::from_secs_f64(1.0 / per_second as f64);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + gap * i as u32;
        tokio::time::sleep_until(due).await;
        let caller = caller.clone();
        tasks.push(tokio::spawn(async move {
            let sent = tokio::time::Instant::now();
            caller.validate().await;
            (
                sent.elapsed().as_secs_f64() * 1000.0,
                (sent - due).as_secs_f64() * 1000.0,
            )
        }));
    }
    let mut times = Vec::with_capacity(tasks.len());
    let mut late = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (took, behind) = t.await.unwrap();
        times.push(took);
        late.push(behind);
    }
    times.sort_by(f64::total_cmp);
    late.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (
        at(&times, 0.5),
        at(&times, 0.99),
        at(&late, 0.99),
        times.len(),
    )
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
    let fleet = env_u64("BENCH_FLEET", 1_000);
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
    let (_sim, caller) = validation_setup(&api, &server.base).await;
    let validate = {
        let caller = caller.clone();
        move || {
            let caller = caller.clone();
            async move { caller.validate().await }
        }
    };

    with_pool!(database_url, |pool| seed_servers!(&pool, 0..4));
    let (small, n_small) = closed_loop(16, validate.clone()).await;
    with_pool!(database_url, |pool| seed_servers!(&pool, 4..fleet - 1));
    let (large, n_large) = closed_loop(16, validate.clone()).await;
    println!("\n{name}:");
    println!("  16 callers, 5 servers registered: {small:.0} validations/s ({n_small} signed v2 callbacks)");
    println!(
        "  16 callers, {fleet} servers registered: {large:.0} validations/s ({n_large} signed v2 callbacks)"
    );
    println!(
        "  {fleet} servers vs 5: {:.0} % (target: at least 90 %)",
        100.0 * large / small
    );

    // With the whole fleet registered: 1, 16 and 64 callers, and the plan list (one
    // cached-free read, no signature) at 64 in the same run for comparison.
    let mut at = Vec::new();
    for connections in [1, 16, 64] {
        let (rate, _) = closed_loop(connections, validate.clone()).await;
        println!("  {connections} callers: {rate:.0} validations/s");
        at.push(rate);
    }
    let plans = {
        let (client, url) = (client(64), format!("{}/api/v1/plans", server.base));
        move || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let resp = client.get(&url).send().await.unwrap();
                assert!(resp.status().is_success());
                resp.bytes().await.unwrap();
            }
        }
    };
    let (plans_rate, _) = closed_loop(64, plans).await;
    println!("  GET /api/v1/plans, 64 callers: {plans_rate:.0}/s");
    println!(
        "  validation at 64 callers: {:.0}/s (target at least 5,000/s) = {:.0} % of /plans (target at least 80 %)",
        at[2],
        100.0 * at[2] / plans_rate
    );
    let offered = env_u64("BENCH_OFFERED", 1_000);
    let (p50, p99, late, n) = open_loop(offered, caller).await;
    println!(
        "  open loop at {offered}/s ({n} validations): p50 {p50:.2} ms, p99 {p99:.2} ms (target p99 < 5 ms); sender late by {late:.2} ms at p99"
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill license-validation benchmark: {} s per figure, {} cores shared by client and server",
        env_u64("BENCH_SECONDS", 5),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_lic", bench_engine).await;
}
