//! Provisioning throughput: the release `nextpanel-bill serve` with N job workers
//! provisions `BENCH_ACCOUNTS` (default 1,000) hosting accounts over 5 in-process
//! `nextpanel-sim` servers that answer every call after 50 ms. Prints accounts per
//! second from the first submit to the last account active, the ideal set by the
//! concurrency limit (each create is one panel call of at least 50 ms, so at most
//! N / 0.05 s accounts per second), the efficiency, and the submit throughput.
//!
//! SQLite always; PostgreSQL too when DATABASE_URL points to one (a fresh database,
//! dropped afterwards). `BENCH_WORKERS` (default 8) sets N, `BENCH_SUBMITTERS`
//! (default 32) the HTTP requests in flight while submitting. Loopback only, and
//! bounded: each engine gives up after `BENCH_DEADLINE_SECS` (default 180).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nextpanel_sim::{SimConfig, SimHandle};
use serde_json::json;

mod common;

use common::{bounded, env_u64, on_each_engine, plan_and_customer, start_server, Api};

const SERVERS: usize = 5;
const PANEL_LATENCY_MS: u64 = 50;

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let accounts = env_u64("BENCH_ACCOUNTS", 1000);
    let workers = env_u64("BENCH_WORKERS", 8);
    let submitters = env_u64("BENCH_SUBMITTERS", 32);
    let deadline =
        Instant::now() + Duration::from_secs(env_u64("BENCH_DEADLINE_SECS", 180).max(10));
    // The submit call must answer at once (202): the benchmark measures the workers.
    let config = dir.join("bench.toml");
    std::fs::write(&config, "provision_wait_secs = 0\n").unwrap();
    let workers_arg = workers.to_string();
    let log = dir.join("provisioned_accounts.log");
    let extra = [
        "--config",
        config.to_str().unwrap(),
        "--workers",
        &workers_arg,
        "--health-interval",
        "0",
        "--provisioning-log",
        log.to_str().unwrap(),
    ];
    let server = start_server(&dir, &database_url, &extra).await;
    let api = Api::login(&server.base, submitters as usize).await;

    let mut sims: Vec<SimHandle> = Vec::new();
    let capacity = i64::try_from(accounts / SERVERS as u64 + 10).unwrap();
    for i in 0..SERVERS {
        let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
            .await
            .unwrap();
        let (status, body) = api
            .post(
                "/api/v1/nextpanel/servers",
                json!({"name": format!("node-{i}"), "base_url": sim.base_url(), "api_key": sim.api_key(), "api_secret": sim.api_secret(), "capacity": capacity}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        sim.set_faults(json!({"latency_ms": PANEL_LATENCY_MS}))
            .unwrap();
        sims.push(sim);
    }
    let (plan, customer) = plan_and_customer(
        &api,
            json!({
                "name": "Bench", "currency": "USD", "prices": {"monthly": 999, "annual": 9990},
                "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
                "account_type": "panel", "package_id": 1
            }),
    )
    .await;

    // Submit every provision with at most `submitters` requests in flight.
    let started = Instant::now();
    let submits = (0..accounts).map(|i| {
        let api = api.clone();
        async move {
            let (status, body) = api
                .post(
                    "/api/v1/nextpanel/provision",
                    json!({"customer_id": customer, "username": format!("bench{i:05}"), "plan_id": plan}),
                )
                .await;
            assert!(status.is_success(), "provision {i}: {status} {body}");
        }
    });
    bounded(submitters as usize, deadline, "submitting", submits).await;
    let submitted = started.elapsed();
    let active_at_submitted = api.count("active").await;
    let total = i64::try_from(accounts).unwrap();
    loop {
        let active = api.count("active").await;
        if active == total {
            break;
        }
        let failed = api.count("failed").await;
        assert_eq!(failed, 0, "accounts failed to provision");
        assert!(
            Instant::now() < deadline,
            "the benchmark's deadline passed with {active} of {total} accounts active"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let performed: u64 = sims
        .iter()
        .map(|s| s.stats()["creates_performed"].as_u64().unwrap())
        .sum();
    assert_eq!(performed, accounts, "one create per account on the panels");
    // Panel calls per account, by endpoint: what the ideal's "one call per create" misses.
    let mut calls: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for sim in &sims {
        if let Some(requests) = sim.stats()["requests"].as_object() {
            for (endpoint, n) in requests {
                *calls.entry(endpoint.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
    }

    let rate = accounts as f64 / elapsed.as_secs_f64();
    let ideal = workers as f64 / (PANEL_LATENCY_MS as f64 / 1000.0);
    println!("\n{name}:");
    println!(
        "  submitted {accounts} provisions in {:.2} s: {:.0} requests/s ({submitters} in flight)",
        submitted.as_secs_f64(),
        accounts as f64 / submitted.as_secs_f64()
    );
    println!(
        "  all {accounts} active after {:.2} s: {rate:.1} accounts/s ({active_at_submitted} while submitting, the rest at {:.1}/s)",
        elapsed.as_secs_f64(),
        (total - active_at_submitted) as f64 / (elapsed - submitted).as_secs_f64()
    );
    println!(
        "  ideal with {workers} workers and {PANEL_LATENCY_MS} ms per create: {ideal:.0} accounts/s; efficiency {:.0} %",
        rate / ideal * 100.0
    );
    let shown: Vec<String> = calls
        .iter()
        .map(|(endpoint, n)| format!("{endpoint}: {:.2}", *n as f64 / accounts as f64))
        .collect();
    println!("  panel calls per account: {}", shown.join(", "));
    // Jobs that needed more than one attempt, and why.
    let mut retried: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut page = 1;
    loop {
        let jobs = api
            .get(&format!("/api/v1/jobs?per_page=200&page={page}"))
            .await;
        let items = jobs["items"].as_array().unwrap();
        for job in items.iter().filter(|j| j["attempts"].as_i64() > Some(1)) {
            let error = job["last_error"].as_str().unwrap_or("none").to_owned();
            *retried.entry(error).or_default() += 1;
        }
        if items.len() < 200 {
            break;
        }
        page += 1;
    }
    println!(
        "  jobs with more than one attempt: {} {retried:?}",
        retried.values().sum::<u64>()
    );
    drop(server);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill provisioning benchmark: {} accounts over {SERVERS} simulated servers with {PANEL_LATENCY_MS} ms latency, {} workers, {} cores shared by client, server and simulators",
        env_u64("BENCH_ACCOUNTS", 1000),
        env_u64("BENCH_WORKERS", 8),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_prov", bench_engine).await;
}
