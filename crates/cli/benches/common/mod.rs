//! What both benchmarks need: settings from the environment, the release server as a
//! child process that is always killed and reaped, and a run on SQLite then on a fresh
//! PostgreSQL database when `DATABASE_URL` points to one.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `$body` with `$pool` bound to a fresh pool on `$url` (SQLite or PostgreSQL), for
/// seeding with set-based SQL that both engines accept; the pool is closed afterwards.
#[macro_export]
macro_rules! with_pool {
    ($url:expr, |$pool:ident| $body:expr) => {
        if $url.starts_with("sqlite") {
            let $pool = sqlx::SqlitePool::connect(&$url).await.unwrap();
            $body;
            $pool.close().await;
        } else {
            let $pool = sqlx::PgPool::connect(&$url).await.unwrap();
            $body;
            $pool.close().await;
        }
    };
}

/// Password of the admin every benchmark server is seeded with.
pub const ADMIN_PASSWORD: &str = "bench-admin-password";

/// A numeric setting from the environment, or its default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running `nextpanel-bill serve`, killed and reaped when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the release server in `dir` on a free loopback port with `extra` arguments,
/// and waits until `/health` answers.
pub async fn start_server(dir: &Path, database_url: &str, extra: &[&str]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"));
    // The caller's own settings must not leak into the measured server.
    for (var, _) in std::env::vars() {
        if var.starts_with("NEXTPANEL_BILL_") || var == "DATABASE_URL" {
            cmd.env_remove(var);
        }
    }
    let listen = format!("127.0.0.1:{port}");
    let child = cmd
        .current_dir(dir)
        .args(["serve", "--listen", &listen, "--database", database_url])
        .args(extra)
        .env("NEXTPANEL_BILL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NEXTPANEL_BILL_MASTER_KEY", "42".repeat(32))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nextpanel-bill");
    // Owned by `Server` at once, so every exit path below kills and reaps it.
    let mut server = Server {
        child,
        base: format!("http://{listen}"),
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("nextpanel-bill exited at start: {status}");
        }
        if client
            .get(format!("{}/health", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy within 30 s");
}

/// Runs `bench(engine name, work dir, database URL)` on a temp SQLite file, then on a
/// fresh PostgreSQL database named `<db_prefix>_<pid>` (dropped afterwards, even when
/// the run panics) when `DATABASE_URL` is a PostgreSQL URL. `BENCH_ENGINE=sqlite` or
/// `postgres` runs only that one.
pub async fn on_each_engine<F, Fut>(db_prefix: &str, bench: F)
where
    F: Fn(&'static str, PathBuf, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let only = std::env::var("BENCH_ENGINE").unwrap_or_default();
    if only != "postgres" {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        bench("SQLite", dir.path().to_owned(), sqlite).await;
    }
    if only == "sqlite" {
        return;
    }

    let Some(url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        println!("\nPostgreSQL: skipped (set DATABASE_URL=postgres://... to include it)");
        return;
    };
    let db = format!("{db_prefix}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = url.rsplit_once('/').unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    let result = tokio::spawn(bench(
        "PostgreSQL",
        pg_dir.path().to_owned(),
        format!("{prefix}/{db}"),
    ))
    .await;
    sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The admin's view of the API under test.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    /// Logs in as the seeded admin with room for `connections` idle connections.
    pub async fn login(base: &str, connections: usize) -> Api {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(connections)
            .build()
            .unwrap();
        let login: serde_json::Value = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "admin@example.com", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Api {
            client,
            base: base.to_owned(),
            token: login["access_token"].as_str().expect("login").to_owned(),
        }
    }

    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get(&self, path: &str) -> serde_json::Value {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    pub async fn count(&self, state: &str) -> i64 {
        self.get(&format!(
            "/api/v1/nextpanel/accounts?state={state}&per_page=1"
        ))
        .await["total"]
            .as_i64()
            .unwrap()
    }
}

/// Runs every future of `work` with at most `limit` in flight and returns their results
/// in the order they finish; panics, naming `what`, when `deadline` passes first.
pub async fn bounded<T, F>(
    limit: usize,
    deadline: Instant,
    what: &str,
    work: impl IntoIterator<Item = F>,
) -> Vec<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limit));
    let mut tasks = tokio::task::JoinSet::new();
    for job in work {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            job.await
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tokio::time::timeout_at(deadline.into(), tasks.join_next())
        .await
        .unwrap_or_else(|_| panic!("the benchmark's deadline passed while {what}"))
    {
        results.push(done.unwrap());
    }
    results
}

/// Creates the plan `plan` (a JSON body) and the customer `bench@example.com`; returns their ids.
pub async fn plan_and_customer(api: &Api, plan: serde_json::Value) -> (i64, i64) {
    let (status, plan) = api.post("/api/v1/plans", plan).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{plan}");
    let (status, customer) = api
        .post(
            "/api/v1/customers",
            serde_json::json!({"email": "bench@example.com", "full_name": "Bench", "password": "customer-password-1"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{customer}");
    (
        plan["id"].as_i64().unwrap(),
        customer["id"].as_i64().unwrap(),
    )
}

/// One signed version-2 validation, checked to be answered `valid`.
#[derive(Clone)]
pub struct Caller {
    pub client: reqwest::Client,
    pub url: String,
    pub key: String,
    pub secret: String,
    pub license: String,
}

impl Caller {
    pub async fn validate(&self) {
        let ts = chrono::Utc::now().timestamp();
        let id = nextpanel_sim::license_callback::new_request_id().unwrap();
        let signature = nextpanel_sim::license_callback::sign(
            &self.secret,
            &[&self.license, "create_database", &ts.to_string(), &id],
        );
        let resp = self
            .client
            .post(&self.url)
            .header("X-API-Key", &self.key)
            .json(
                &serde_json::json!({"license_key": self.license, "feature": "create_database", "timestamp": ts,
                "request_id": id, "signature": signature}),
            )
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "validation answered {}",
            resp.status()
        );
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(answer["valid"], true, "{answer}");
    }
}

/// A client keeping up to `connections` idle connections to the server.
pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap()
}

/// Registers a simulated NextPanel server and provisions an account on it; returns the
/// simulator (keep it alive) and a caller validating that account's license as the server.
pub async fn validation_setup(api: &Api, base: &str) -> (nextpanel_sim::SimHandle, Caller) {
    let sim = nextpanel_sim::spawn(nextpanel_sim::SimConfig::random().unwrap())
        .await
        .unwrap();
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/servers",
            serde_json::json!({"name": "node-0", "base_url": sim.base_url(), "api_key": sim.api_key(), "api_secret": sim.api_secret(), "capacity": 100}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let (plan, customer) = plan_and_customer(
        api,
        serde_json::json!({
            "name": "Checked", "currency": "USD", "prices": {"monthly": 999},
            "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
            "account_type": "panel", "package_id": 1
        }),
    )
    .await;
    let (status, account) = api
        .post(
            "/api/v1/nextpanel/provision",
            serde_json::json!({"customer_id": customer, "username": "checked", "plan_id": plan}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{account}");
    let caller = Caller {
        client: client(64),
        url: format!("{base}/api/v1/licenses/validate"),
        key: sim.api_key().to_owned(),
        secret: sim.api_secret().to_owned(),
        license: account["license_key"].as_str().unwrap().to_owned(),
    };
    (sim, caller)
}
