//! HTTP benchmark: starts the release `nextpanel-bill` binary on a loopback port,
//! loads `GET /api/v1/plans` and an authenticated `GET /api/v1/auth/me` from this
//! process, and prints requests per second, p50/p99 latency and the server's RSS
//! idle and under load. SQLite always; PostgreSQL too when DATABASE_URL points to one.
//!
//! Bounded: `BENCH_SECONDS` (default 5) per endpoint with `BENCH_CONCURRENCY`
//! (default 32) connections, loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;

use common::{env_u64, on_each_engine, start_server, Api, Server};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Figures {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_kib: u64,
}

async fn load(server: &Server, path: &str, token: Option<&str>) -> Figures {
    let seconds = env_u64("BENCH_SECONDS", 5);
    let concurrency = env_u64("BENCH_CONCURRENCY", 32);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .unwrap();
    let url = format!("{}{}", server.base, path);
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let pid = server.child.id();
    let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, stop, errors) =
            (client.clone(), url.clone(), stop.clone(), errors.clone());
        let token = token.map(str::to_owned);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut req = client.get(&url);
                if let Some(tok) = &token {
                    req = req.bearer_auth(tok);
                }
                match req.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    sampler.await.unwrap();
    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "requests failed during the benchmark"
    );
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    Figures {
        requests: all.len() as u64,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        peak_rss_kib: peak.load(Ordering::Relaxed),
    }
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let server = start_server(&dir, &database_url, &["--health-interval", "0"]).await;
    let api = Api::login(&server.base, 32).await;
    let (client, token) = (api.client.clone(), api.token.clone());
    for i in 0..10 {
        let resp = client
            .post(format!("{}/api/v1/plans", server.base))
            .bearer_auth(&token)
            .json(&json!({
                "name": format!("Plan {i}"), "currency": "USD", "prices": {"monthly": 999 + i, "annual": 9990},
                "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
                "package_id": 1
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(server.child.id());
    let plans = load(&server, "/api/v1/plans", None).await;
    let me = load(&server, "/api/v1/auth/me", Some(&token)).await;
    println!("\n{name}: idle RSS {:.1} MiB", idle as f64 / 1024.0);
    println!(
        "{:<28} {:>9} {:>10} {:>9} {:>9} {:>14}",
        "endpoint", "requests", "req/s", "p50 ms", "p99 ms", "peak RSS MiB"
    );
    for (label, f) in [
        ("GET /api/v1/plans (10 plans)", &plans),
        ("GET /api/v1/auth/me", &me),
    ] {
        println!(
            "{label:<28} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>14.1}",
            f.requests,
            f.rps,
            f.p50_ms,
            f.p99_ms,
            f.peak_rss_kib as f64 / 1024.0
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful either way.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill HTTP benchmark: {} s per endpoint, {} connections, client and server share this machine's {} cores",
        env_u64("BENCH_SECONDS", 5),
        env_u64("BENCH_CONCURRENCY", 32),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench", bench_engine).await;
}
