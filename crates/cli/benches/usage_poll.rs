//! Usage polling: the release `nextpanel-bill serve` reads the usage of `BENCH_ACCOUNTS`
//! (default 10,000) hosting accounts spread over 20 in-process `nextpanel-sim` servers
//! that answer every call after 50 ms, in one `POST /api/v1/nextpanel/usage/poll`, and
//! stores it per license. Prints the time until every license's usage is recorded, the
//! ideal set by the panel latency and `usage_poll_concurrency` (calls in flight to each
//! server; `BENCH_CONCURRENCY`, default 4): the busiest server's accounts / concurrency
//! × 50 ms, and the efficiency (target at least 80 %).
//!
//! The accounts are created on the simulators through their API (without latency), and
//! the customers, licenses and hosting accounts are seeded straight into the database
//! with set-based SQL; the seeding is not timed. SQLite always; PostgreSQL too when
//! DATABASE_URL points to one. Loopback only, bounded by `BENCH_DEADLINE_SECS`
//! (default 300) per engine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nextpanel_sim::{SimConfig, SimHandle};
use serde_json::json;

mod common;

use common::{bounded, env_u64, on_each_engine, plan_and_customer, start_server, Api};

const SERVERS: u64 = 20;
const PANEL_LATENCY_MS: u64 = 50;

/// `INSERT ... SELECT <cols> FROM <1..=n as i>`: generate_series, or a recursive CTE on SQLite.
fn series(postgres: bool, n: u64, insert: &str, select: &str) -> String {
    if postgres {
        format!("{insert} SELECT {select} FROM generate_series(1, {n}) AS s(i)")
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             {insert} SELECT {select} FROM s"
        )
    }
}

/// Runs `sql` and returns the first column of its first row (0 when it returns none).
async fn run(url: &str, sql: &str) -> i64 {
    let value: Option<i64> = if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_optional(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_optional(&pool).await.unwrap();
        pool.close().await;
        v
    };
    value.unwrap_or(0)
}

async fn bench_engine(name: &str, dir: std::path::PathBuf, database_url: String) {
    let postgres = name == "PostgreSQL";
    let accounts = env_u64("BENCH_ACCOUNTS", 10_000).max(SERVERS);
    let per_server = accounts / SERVERS;
    let accounts = per_server * SERVERS;
    let concurrency = env_u64("BENCH_CONCURRENCY", 4).max(1);
    let deadline =
        Instant::now() + Duration::from_secs(env_u64("BENCH_DEADLINE_SECS", 300).max(10));
    let config = dir.join("bench.toml");
    std::fs::write(&config, format!("usage_poll_concurrency = {concurrency}\n")).unwrap();
    let extra = [
        "--config",
        config.to_str().unwrap(),
        "--workers",
        "0",
        "--health-interval",
        "0",
        "--usage-poll-interval",
        "0",
        "--billing-interval",
        "0",
        "--reconcile-interval",
        "0",
    ];
    let server = start_server(&dir, &database_url, &extra).await;
    let api = Api::login(&server.base, 4).await;

    let mut sims: Vec<SimHandle> = Vec::new();
    let mut server_ids = Vec::new();
    for i in 0..SERVERS {
        let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
            .await
            .unwrap();
        let (status, body) = api
            .post(
                "/api/v1/nextpanel/servers",
                json!({"name": format!("node-{i}"), "base_url": sim.base_url(), "api_key": sim.api_key(),
                    "api_secret": sim.api_secret(), "capacity": per_server + 10}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
        server_ids.push(body["id"].as_i64().unwrap());
        sims.push(sim);
    }
    let (plan, _) = plan_and_customer(
        &api,
        json!({
            "name": "Polled", "currency": "USD", "prices": {"monthly": 999},
            "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
            "account_type": "panel", "package_id": 1
        }),
    )
    .await;

    // The accounts on the panels: each simulator's in order, all simulators side by side.
    let seeding = Instant::now();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let creates = sims.iter().enumerate().map(|(s, sim)| {
        let client = client.clone();
        let sim = SimRef {
            base: sim.base_url(),
            key: sim.api_key().to_owned(),
            secret: sim.api_secret().to_owned(),
        };
        let first = s as u64 * per_server + 1;
        async move { sim.create(&client, first, per_server).await }
    });
    bounded(
        SERVERS as usize,
        deadline,
        "creating accounts on the simulators",
        creates,
    )
    .await;

    // The same accounts in the database: a customer per ten accounts, a license each.
    let now = if postgres {
        "now()".to_owned()
    } else {
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')".to_owned()
    };
    let customers = (accounts / 10).max(1);
    let base_user = run(&database_url, "SELECT COALESCE(MAX(id), 0) FROM users").await;
    run(
        &database_url,
        &series(
            postgres,
            customers,
            "INSERT INTO users (email, role, full_name, is_active, created_at, updated_at)",
            &format!(
                "'c' || i || '@bench.example', 'customer', 'Customer ' || i, TRUE, {now}, {now}"
            ),
        ),
    )
    .await;
    run(&database_url, &series(postgres, accounts, "INSERT INTO licenses (license_key, customer_id, plan_id, billing_cycle, status, max_accounts, max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, created_at, updated_at)",
        &format!("'NP-U' || i, {base_user} + 1 + (i % {customers}), {plan}, 'monthly', 'active', 1, 5, 5, 10, 10240, -1, {now}, {now}, {now}, {now}"))).await;
    let first_license = run(
        &database_url,
        "SELECT MIN(id) FROM licenses WHERE license_key LIKE 'NP-U%'",
    )
    .await;
    let first_server = server_ids[0];
    assert!(
        server_ids
            .iter()
            .enumerate()
            .all(|(i, id)| *id == first_server + i as i64),
        "server ids are consecutive: {server_ids:?}"
    );
    // Account i lives on simulator (i - 1) / per_server with panel id (i - 1) % per_server + 1.
    run(&database_url, &series(postgres, accounts, "INSERT INTO hosting_accounts (customer_id, license_id, server_id, username, panel_account_id, account_type, state, created_at, updated_at, email, package_id, idempotency_key)",
        &format!("{base_user} + 1 + (i % {customers}), {first_license} + i - 1, {first_server} + (i - 1) / {per_server}, 'usr' || i, '' || ((i - 1) % {per_server} + 1), 'panel', 'active', {now}, {now}, 'usr' || i || '@bench.example', 1, 'usage-bench-' || i"))).await;
    run(&database_url, "ANALYZE").await;
    println!(
        "\n{name}: seeded {accounts} accounts on {SERVERS} simulators and in the database in {:.1} s (not counted)",
        seeding.elapsed().as_secs_f64()
    );

    for sim in &sims {
        sim.set_faults(json!({"latency_ms": PANEL_LATENCY_MS}))
            .unwrap();
    }
    let started = Instant::now();
    let poll = tokio::time::timeout_at(
        deadline.into(),
        api.post("/api/v1/nextpanel/usage/poll", json!({})),
    );
    let (status, summary) = poll
        .await
        .expect("the benchmark's deadline passed during the poll");
    let elapsed = started.elapsed();
    assert!(status.is_success(), "poll: {status} {summary}");
    assert_eq!(
        summary["accounts_polled"].as_u64(),
        Some(accounts),
        "{summary}"
    );
    assert_eq!(summary["failures"].as_u64(), Some(0), "{summary}");
    let recorded = run(
        &database_url,
        "SELECT COUNT(*) FROM license_usage WHERE resource = 'domains'",
    )
    .await;
    assert_eq!(
        recorded,
        i64::try_from(accounts).unwrap(),
        "every license's usage is recorded"
    );
    let calls: u64 = sims
        .iter()
        .map(|s| {
            s.stats()["requests"]["GET /api/v1/billing/accounts/{id}/stats"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();

    let ideal = per_server.div_ceil(concurrency) as f64 * PANEL_LATENCY_MS as f64 / 1000.0;
    println!(
        "  one poll of {accounts} accounts: {:.2} s until every license's usage was recorded ({:.0} accounts/s, {calls} usage calls)",
        elapsed.as_secs_f64(),
        accounts as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  ideal with {concurrency} calls in flight per server, {per_server} accounts per server and {PANEL_LATENCY_MS} ms per call: {ideal:.2} s; efficiency {:.0} % (target at least 80 %)",
        ideal / elapsed.as_secs_f64() * 100.0
    );
    drop(server);
}

/// What creating accounts on a simulator needs, owned (a task cannot borrow the handle).
struct SimRef {
    base: String,
    key: String,
    secret: String,
}

impl SimRef {
    /// Creates `per_server` accounts one after the other, so that their panel ids are
    /// 1..=per_server in order: account `first + k` is `usr<first + k>` with panel id k + 1.
    async fn create(&self, client: &reqwest::Client, first: u64, per_server: u64) {
        for k in 0..per_server {
            let n = first + k;
            let resp = client
                .post(format!("{}/api/v1/billing/accounts", self.base))
                .header("X-API-Key", &self.key)
                .header("X-API-Secret", &self.secret)
                .json(
                    &json!({"username": format!("usr{n}"), "email": format!("usr{n}@bench.example"),
                    "password": "bench-password-1", "billing_id": "1", "package_id": 1,
                    "is_admin": false, "metadata": {}}),
                )
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_success(),
                "create usr{n}: {}",
                resp.status()
            );
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(
                body["id"].as_u64(),
                Some(k + 1),
                "panel ids run in order: {body}"
            );
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "nextpanel-bill usage-poll benchmark: {} accounts over {SERVERS} simulated servers with {PANEL_LATENCY_MS} ms latency, {} cores shared by client, server and simulators",
        env_u64("BENCH_ACCOUNTS", 10_000),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    on_each_engine("bench_usage", bench_engine).await;
}
