//! The real `nextpanel-bill` binary as child processes, over real HTTP, against
//! in-process `nextpanel-sim` servers: a process killed with SIGKILL in the middle
//! of a create, then restarted; and two processes sharing one PostgreSQL queue.
//!
//! Every child is owned by a guard that kills and reaps it on drop, so a failed
//! assertion never leaves a process behind. Nothing sleeps to wait for a
//! condition: every wait polls with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{free_port, FreshPg};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "process-admin-password";
/// The create request of the NextPanel billing API, as the simulator counts it.
const CREATE_ENDPOINT: &str = "POST /api/v1/billing/accounts";

fn master_key() -> String {
    "5a".repeat(32)
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    stderr: PathBuf,
}

impl Proc {
    /// `kill -9` and reap, now.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Panics with its log when it has exited.
    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}):\n{}",
                self.name,
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts `nextpanel-bill <command>` with a clean environment, logging to `dir/<name>.log`.
fn start(
    name: &'static str,
    command: &str,
    dir: &Path,
    database_url: &str,
    config: &Path,
    extra: &[&str],
) -> Proc {
    let stderr = dir.join(format!("{name}.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"));
    for (var, _) in std::env::vars() {
        if var.starts_with("NEXTPANEL_BILL_") || var == "DATABASE_URL" || var == "RUST_LOG" {
            cmd.env_remove(var);
        }
    }
    let child = cmd
        .current_dir(dir)
        .arg(command)
        .args([
            "--database",
            database_url,
            "--config",
            config.to_str().unwrap(),
            "--health-interval",
            "0",
            "--log-format",
            "json",
            "--provisioning-log",
            dir.join("provisioned_accounts.log").to_str().unwrap(),
        ])
        .args(extra)
        .env("NEXTPANEL_BILL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NEXTPANEL_BILL_MASTER_KEY", master_key())
        .env("RUST_LOG", "info,sqlx=warn,tower_http=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
        .spawn()
        .expect("start nextpanel-bill");
    Proc {
        name,
        child,
        stderr,
    }
}

/// Polls `/health` until it answers, failing early when the process exits.
async fn wait_healthy(proc: &mut Proc, base: &str) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        proc.assert_alive();
        if client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not become healthy:\n{}",
            proc.name,
            proc.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An admin session on a running server.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn login(base: &str) -> Api {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let resp = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        Api {
            client,
            base: base.to_owned(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Registers the simulators (each at the given URL) as servers; returns (plan id, customer id).
    async fn catalogue(&self, sims: &[(&SimHandle, String)], capacity: i64) -> (i64, i64) {
        for (i, (sim, url)) in sims.iter().enumerate() {
            let (status, body) = self
                .post(
                    "/api/v1/nextpanel/servers",
                    json!({"name": format!("node-{i}"), "base_url": url, "api_key": sim.api_key(), "api_secret": sim.api_secret(), "capacity": capacity}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let (status, plan) = self
            .post(
                "/api/v1/plans",
                json!({
                    "name": "Starter", "currency": "USD", "prices": {"monthly": 999, "annual": 9990},
                    "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
                    "account_type": "panel", "package_id": 1
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{plan}");
        let (status, customer) = self
            .post(
                "/api/v1/customers",
                json!({"email": "ada@example.com", "full_name": "Ada", "password": "customer-password-1"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        (
            plan["id"].as_i64().unwrap(),
            customer["id"].as_i64().unwrap(),
        )
    }
}

fn creates(sim: &SimHandle) -> u64 {
    sim.stats()["creates_performed"].as_u64().unwrap()
}

fn create_requests(sim: &SimHandle) -> u64 {
    sim.stats()["requests"][CREATE_ENDPOINT]
        .as_u64()
        .unwrap_or(0)
}

fn panel_usernames(sim: &SimHandle) -> Vec<String> {
    sim.state()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` at the deadline.
async fn poll<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP proxy in front of a simulator that can hold the simulator's answers to
/// POST requests: with `hold` set, a create reaches the panel and is carried out,
/// but its response waits in the proxy (other calls, such as the extension
/// discovery before a create, pass).
struct HoldingProxy {
    base_url: String,
    hold: Arc<AtomicBool>,
}

fn holding_proxy(target: std::net::SocketAddr) -> HoldingProxy {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let hold = Arc::new(AtomicBool::new(false));
    let holding = hold.clone();
    // Threads end when their sockets close; the accept loop ends with the test process.
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut upstream) = std::net::TcpStream::connect(target) else {
                continue;
            };
            let (Ok(mut client_in), Ok(mut upstream_out)) =
                (client.try_clone(), upstream.try_clone())
            else {
                continue;
            };
            // Whether the request in flight on this connection is a POST (the test's
            // requests are small: each starts a read with its request line).
            let posting = Arc::new(AtomicBool::new(false));
            let posted = posting.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = client_in.read(&mut buf) {
                    let chunk = &buf[..n];
                    if chunk
                        .iter()
                        .take(8)
                        .all(|b| b.is_ascii_graphic() || *b == b' ')
                    {
                        posted.store(chunk.starts_with(b"POST "), Ordering::SeqCst);
                    }
                    if upstream_out.write_all(chunk).is_err() {
                        break;
                    }
                }
                let _ = upstream_out.shutdown(std::net::Shutdown::Write);
            });
            let hold = holding.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n @ 1..) = upstream.read(&mut buf) {
                    while hold.load(Ordering::SeqCst) && posting.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    HoldingProxy { base_url, hold }
}

/// When the process is killed during the create.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KillPoint {
    /// The panel has received the create but holds it (1.5 s latency before acting).
    BeforeThePanelActs,
    /// The panel has created the account; its answer is held in a proxy (the ambiguous case).
    AfterThePanelCreated,
}

/// SIGKILL while the create is in flight, restart on the same SQLite file: the job's
/// lease (2 s) expires, the new process takes the job over, looks the account up by
/// username before creating again, and the panel ends with exactly one account.
///
/// The simulator runs in baseline mode (no idempotency-key extension), so the
/// lookup-before-create is what prevents a double account, not the panel.
async fn kill_9_mid_create_then_restart(kill_point: KillPoint) {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("bill.db").display());
    let config = dir.path().join("bill.toml");
    std::fs::write(
        &config,
        "job_lease_secs = 2\nprovision_wait_secs = 0\njob_backoff_base_ms = 100\njob_backoff_cap_ms = 1000\n",
    )
    .unwrap();
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap().with_baseline(true))
        .await
        .unwrap();
    let proxy = holding_proxy(sim.addr());
    let panel_url = match kill_point {
        KillPoint::BeforeThePanelActs => sim.base_url(),
        KillPoint::AfterThePanelCreated => proxy.base_url.clone(),
    };

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", listen.as_str(), "--workers", "1"];
    let mut first = start("first", "serve", dir.path(), &database_url, &config, &args);
    wait_healthy(&mut first, &base).await;
    let api = Api::login(&base).await;
    let (plan, customer) = api.catalogue(&[(&sim, panel_url)], 10).await;

    match kill_point {
        KillPoint::BeforeThePanelActs => {
            sim.set_faults(json!({"latency_ms": 1500})).unwrap();
        }
        KillPoint::AfterThePanelCreated => proxy.hold.store(true, Ordering::SeqCst),
    }
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/provision",
            json!({"customer_id": customer, "username": "alice", "plan_id": plan}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let account_id = body["id"].as_i64().unwrap();
    let job_id = body["job_id"].as_i64().unwrap();

    match kill_point {
        KillPoint::BeforeThePanelActs => {
            poll(
                Duration::from_secs(10),
                "the create to reach the panel",
                || {
                    let n = create_requests(&sim);
                    async move { (n >= 1).then_some(()) }
                },
            )
            .await;
        }
        KillPoint::AfterThePanelCreated => {
            poll(
                Duration::from_secs(10),
                "the panel to create the account",
                || {
                    let n = creates(&sim);
                    async move { (n >= 1).then_some(()) }
                },
            )
            .await;
        }
    }
    let job = api.get(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(job["state"], "running", "{job}");
    let account = api
        .get(&format!("/api/v1/nextpanel/accounts/{account_id}"))
        .await;
    assert_eq!(account["state"], "provisioning", "{account}");
    first.kill9();
    proxy.hold.store(false, Ordering::SeqCst);

    if kill_point == KillPoint::BeforeThePanelActs {
        assert_eq!(creates(&sim), 0, "the panel holds the create for 1.5 s");
        // Let the held create finish on the panel, if it is going to: the simulator
        // (hyper) normally drops a handler whose client has gone, but either is fine.
        let deadline = Instant::now() + Duration::from_millis(2500);
        while creates(&sim) == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sim.set_faults(json!({"latency_ms": 0})).unwrap();
    }
    let created_while_dead = creates(&sim) == 1;
    eprintln!(
        "kill -9 {kill_point:?}: at restart the panel {}",
        if created_while_dead {
            "has the account, billing has no record of success (the ambiguous case)"
        } else {
            "has no account"
        }
    );

    let mut second = start("second", "serve", dir.path(), &database_url, &config, &args);
    wait_healthy(&mut second, &base).await;
    let api = Api::login(&base).await;
    let account = poll(Duration::from_secs(30), "the account to be active", || {
        let api = api.clone();
        async move {
            let a = api
                .get(&format!("/api/v1/nextpanel/accounts/{account_id}"))
                .await;
            assert!(
                a["state"] == "provisioning" || a["state"] == "active",
                "{a}"
            );
            (a["state"] == "active").then_some(a)
        }
    })
    .await;

    let on_panel: Vec<Value> = sim.state()["accounts"].as_array().unwrap().clone();
    assert_eq!(
        on_panel.iter().filter(|a| a["username"] == "alice").count(),
        1,
        "exactly one panel account: {on_panel:?}"
    );
    assert_eq!(creates(&sim), 1, "one create performed on the panel");
    assert_eq!(
        account["nextpanel_user_id"].as_str().unwrap(),
        on_panel[0]["id"].to_string(),
        "billing records the panel's account"
    );
    let job = api.get(&format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        job["attempts"], 2,
        "the killed attempt, then the takeover after the lease expired: {job}"
    );
    if created_while_dead {
        assert_eq!(
            create_requests(&sim),
            1,
            "the restart found the account by username and sent no second create"
        );
    } else {
        assert_eq!(create_requests(&sim), 2, "the restart created it, once");
    }
    if kill_point == KillPoint::AfterThePanelCreated {
        assert!(created_while_dead, "the proxy only held the answer");
    }
    second.assert_alive();
}

/// Killed while the panel still holds the create (it has not acted yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_before_the_panel_creates_then_restart_creates_exactly_once() {
    kill_9_mid_create_then_restart(KillPoint::BeforeThePanelActs).await;
}

/// Killed after the panel created the account but before billing heard of it: the
/// restart adopts the account instead of creating a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_the_panel_created_then_restart_adopts_the_account() {
    kill_9_mid_create_then_restart(KillPoint::AfterThePanelCreated).await;
}

/// `serve` (4 workers) and `worker` (4 workers) on one PostgreSQL work through 200
/// provisioning jobs: every job runs once, every account is created once, and both
/// processes take a share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_run_each_of_200_jobs_once() {
    if std::env::var("NPB_TEST_ENGINE").as_deref() != Ok("postgres") {
        eprintln!(
            "note: two processes sharing one queue needs PostgreSQL (SQLite is single-instance); \
             run with NPB_TEST_ENGINE=postgres DATABASE_URL=postgres://..."
        );
        return;
    }
    let admin_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .expect("NPB_TEST_ENGINE=postgres needs DATABASE_URL=postgres://...");
    const ACCOUNTS: usize = 200;
    // Declared first, dropped last: after the processes using it are gone.
    let pg = FreshPg::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bill.toml");
    std::fs::write(&config, "provision_wait_secs = 0\n").unwrap();
    let mut sims = Vec::new();
    for _ in 0..4 {
        let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
            .await
            .unwrap();
        sims.push(sim);
    }

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut a = start(
        "serve-a",
        "serve",
        dir.path(),
        &pg.url,
        &config,
        &["--listen", &format!("127.0.0.1:{port}"), "--workers", "4"],
    );
    wait_healthy(&mut a, &base).await;
    // B starts once A has migrated and seeded the database.
    let mut b = start(
        "worker-b",
        "worker",
        dir.path(),
        &pg.url,
        &config,
        &["--workers", "4"],
    );
    let api = Api::login(&base).await;
    let servers: Vec<_> = sims.iter().map(|s| (s, s.base_url())).collect();
    let (plan, customer) = api.catalogue(&servers, 60).await;
    for sim in &sims {
        sim.set_faults(json!({"latency_ms": 20, "jitter_ms": 10}))
            .unwrap();
    }
    // B is up when it has logged its start-up (it has no HTTP port).
    poll(Duration::from_secs(30), "worker B to start", || {
        b.assert_alive();
        let started = b.log().contains("job workers running");
        async move { started.then_some(()) }
    })
    .await;

    let in_flight = Arc::new(tokio::sync::Semaphore::new(16));
    let mut submits = tokio::task::JoinSet::new();
    for i in 0..ACCOUNTS {
        let (api, in_flight) = (api.clone(), in_flight.clone());
        submits.spawn(async move {
            let _permit = in_flight.acquire_owned().await.unwrap();
            let (status, body) = api
                .post(
                    "/api/v1/nextpanel/provision",
                    json!({"customer_id": customer, "username": format!("user{i:03}"), "plan_id": plan}),
                )
                .await;
            assert!(
                status == StatusCode::ACCEPTED || status == StatusCode::CREATED,
                "{status} {body}"
            );
        });
    }
    while let Some(done) = submits.join_next().await {
        done.unwrap();
    }

    let db = sqlx::PgPool::connect(&pg.url).await.unwrap();
    poll(Duration::from_secs(45), "all accounts to be active", || {
        let db = db.clone();
        a.assert_alive();
        b.assert_alive();
        async move {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT state, COUNT(*) FROM hosting_accounts GROUP BY state")
                    .fetch_all(&db)
                    .await
                    .unwrap();
            let by_state: BTreeMap<String, i64> = rows.into_iter().collect();
            assert!(
                !by_state.contains_key("failed"),
                "an account failed: {by_state:?}"
            );
            (by_state.get("active").copied() == Some(ACCOUNTS as i64)).then_some(())
        }
    })
    .await;

    // No account created twice: 200 creates in all, each username on exactly one panel.
    let performed: u64 = sims.iter().map(creates).sum();
    let requested: u64 = sims.iter().map(create_requests).sum();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for sim in &sims {
        for name in panel_usernames(sim) {
            *seen.entry(name).or_default() += 1;
        }
    }
    assert_eq!(
        performed, ACCOUNTS as u64,
        "creates performed on the panels"
    );
    assert_eq!(
        requested, ACCOUNTS as u64,
        "create requests sent to the panels"
    );
    assert_eq!(seen.len(), ACCOUNTS);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "usernames on more than one panel: {twice:?}"
    );

    // No job run twice.
    let jobs: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT id, kind, state, attempts FROM jobs ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        jobs.iter().filter(|j| j.1 == "provision").count(),
        ACCOUNTS,
        "one provision job per account"
    );
    let odd: Vec<_> = jobs.iter().filter(|j| j.2 != "done" || j.3 != 1).collect();
    assert!(
        odd.is_empty(),
        "jobs not done in exactly one attempt: {odd:?}"
    );
    let api_done = api.get("/api/v1/jobs?state=done&per_page=200").await;
    assert_eq!(api_done["total"], jobs.len());
    db.close().await;

    // Both processes did work, and the runs add up to one per job.
    let runs = |p: &Proc| {
        p.log()
            .lines()
            .filter(|l| l.contains("running job"))
            .count()
    };
    let (runs_a, runs_b) = (runs(&a), runs(&b));
    eprintln!("jobs run: serve A {runs_a}, worker B {runs_b}");
    assert!(runs_b >= 1, "worker B ran no job");
    assert!(runs_a >= 1, "serve A ran no job");
    assert_eq!(runs_a + runs_b, jobs.len(), "one run per job across both");
    drop((a, b));
    drop(pg);
}

/// A Stripe stand-in for off-session charges: it records each PaymentIntent it makes,
/// answers a repeated idempotency key with the first answer (as Stripe does), and while
/// `hold` is set makes the charge but never answers (the caller dies waiting).
struct HoldingStripe {
    base: String,
    hold: Arc<AtomicBool>,
    made: Arc<std::sync::Mutex<BTreeMap<String, Value>>>,
}

async fn holding_stripe() -> HoldingStripe {
    use axum::extract::State;
    type Shared = (
        Arc<AtomicBool>,
        Arc<std::sync::Mutex<BTreeMap<String, Value>>>,
    );
    async fn create(
        State((hold, made)): State<Shared>,
        headers: axum::http::HeaderMap,
        body: axum::body::Bytes,
    ) -> axum::Json<Value> {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let answer = {
            let mut made = made.lock().unwrap();
            let n = made.len() + 1;
            let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
            let field = |k: &str| {
                form.iter()
                    .find(|(name, _)| name == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            made.entry(key)
                .or_insert_with(|| {
                    json!({"id": format!("pi_held_{n}"), "status": "succeeded",
                        "amount": field("amount").parse::<i64>().unwrap(), "currency": field("currency"),
                        "metadata": {"invoice_id": field("metadata[invoice_id]")}})
                })
                .clone()
        };
        if hold.load(Ordering::SeqCst) {
            // Charged, and the answer never leaves: the caller is killed meanwhile.
            std::future::pending::<()>().await;
        }
        axum::Json(answer)
    }
    let hold = Arc::new(AtomicBool::new(false));
    let made = Arc::new(std::sync::Mutex::new(BTreeMap::new()));
    let app = axum::Router::new()
        .route("/v1/payment_intents", axum::routing::post(create))
        .with_state((hold.clone(), made.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    HoldingStripe { base, hold, made }
}

/// `kill -9` between Stripe making the renewal's charge and the process recording it:
/// after the restart the attempt is asked again under its key, Stripe answers with the
/// charge it made, and the invoice is paid once with one charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_charging_a_card_and_recording_it_charges_once() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("bill.db");
    let database_url = format!("sqlite://{}", db_file.display());
    let stripe = holding_stripe().await;
    let config = dir.path().join("bill.toml");
    std::fs::write(
        &config,
        format!(
            "stripe_secret_key = \"sk_test_held\"\nstripe_api_base = \"{}\"\npayment_sweep_interval_secs = 0\n\
             billing_interval_secs = 0\nprovision_wait_secs = 0\n",
            stripe.base
        ),
    )
    .unwrap();
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", listen.as_str(), "--workers", "1"];
    let mut first = start("first", "serve", dir.path(), &database_url, &config, &args);
    wait_healthy(&mut first, &base).await;
    let api = Api::login(&base).await;
    let (plan, customer) = api.catalogue(&[(&sim, sim.base_url())], 10).await;

    // A customer with a license paid by transfer, a saved card and autopay on; the
    // license ran out a minute ago, so the next billing run renews and charges it.
    let (status, order) = api
        .post(
            &format!("/api/v1/customers/{customer}/orders"),
            json!({"plan_id": plan, "username": "ada"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let (status, paid) = api
        .post(
            &format!("/api/v1/invoices/{}/mark-paid", order["id"]),
            json!({"reference": "SEPA 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    let db = sqlx::SqlitePool::connect(&database_url).await.unwrap();
    for sql in [
        format!("UPDATE users SET stripe_customer_id = 'cus_held' WHERE id = {customer}"),
        format!(
            "INSERT INTO saved_cards (customer_id, payment_method_id, brand, last4, exp_month, exp_year, saved_at) \
             VALUES ({customer}, 'pm_held', 'visa', '4242', 12, 2099, '2026-01-01T00:00:00Z')"
        ),
    ] {
        sqlx::query(&sql).execute(&db).await.unwrap();
    }
    sqlx::query("UPDATE licenses SET expires_at = $1")
        .bind(chrono::Utc::now() - chrono::Duration::minutes(1))
        .execute(&db)
        .await
        .unwrap();

    stripe.hold.store(true, Ordering::SeqCst);
    let run = {
        let api = api.clone();
        tokio::spawn(async move { api.post("/api/v1/billing/run", json!({})).await })
    };
    poll(Duration::from_secs(20), "Stripe to make the charge", || {
        let n = stripe.made.lock().unwrap().len();
        async move { (n == 1).then_some(()) }
    })
    .await;
    first.kill9();
    let _ = run.await;
    stripe.hold.store(false, Ordering::SeqCst);
    let renewal: i64 = sqlx::query_scalar("SELECT id FROM invoices WHERE kind = 'renewal'")
        .fetch_one(&db)
        .await
        .unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM charge_attempts")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(state, "pending", "killed before the outcome was recorded");

    // Restarted: once the attempt has been pending long enough to be abandoned, the
    // next run asks Stripe again under the same key.
    let mut second = start("second", "serve", dir.path(), &database_url, &config, &args);
    wait_healthy(&mut second, &base).await;
    let api = Api::login(&base).await;
    sqlx::query("UPDATE charge_attempts SET started_at = $1")
        .bind(chrono::Utc::now() - chrono::Duration::minutes(5))
        .execute(&db)
        .await
        .unwrap();
    let (status, report) = api.post("/api/v1/billing/run", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["autopay"]["charged"], 1, "{report}");
    let invoice = api.get(&format!("/api/v1/invoices/{renewal}")).await;
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(
        invoice["payments"].as_array().unwrap().len(),
        1,
        "{invoice}"
    );
    assert_eq!(invoice["charge_attempts"].as_array().unwrap().len(), 1);
    assert_eq!(invoice["charge_attempts"][0]["state"], "succeeded");
    assert_eq!(stripe.made.lock().unwrap().len(), 1, "one charge at Stripe");
    let (_, again) = api.post("/api/v1/billing/run", json!({})).await;
    assert_eq!(again["autopay"]["charged"], 0, "{again}");
    assert_eq!(stripe.made.lock().unwrap().len(), 1);
    second.assert_alive();
}

/// A create slower than the job's lease: the heartbeat keeps renewing the lease, so the
/// second worker of the process never takes the job over (one attempt, one create sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_longer_than_its_lease_is_not_taken_over_while_its_worker_lives() {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _pg) = engine_database(dir.path()).await;
    let config = dir.path().join("bill.toml");
    std::fs::write(&config, "job_lease_secs = 1\nprovision_wait_secs = 0\n").unwrap();
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap().with_baseline(true))
        .await
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut proc = start(
        "heartbeat",
        "serve",
        dir.path(),
        &database_url,
        &config,
        &["--listen", listen.as_str(), "--workers", "2"],
    );
    wait_healthy(&mut proc, &base).await;
    let api = Api::login(&base).await;
    let (plan, customer) = api.catalogue(&[(&sim, sim.base_url())], 10).await;
    // Four leases long.
    sim.set_faults(json!({"latency_ms": 4000})).unwrap();
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/provision",
            json!({"customer_id": customer, "username": "slowpoke", "plan_id": plan}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job_id = body["job_id"].as_i64().unwrap();
    let job = poll(Duration::from_secs(30), "the slow job to finish", || {
        let api = api.clone();
        async move {
            let job = api.get(&format!("/api/v1/jobs/{job_id}")).await;
            (job["state"] == "done").then_some(job)
        }
    })
    .await;
    assert_eq!(job["attempts"], 1, "taken over while running: {job}");
    assert_eq!(
        create_requests(&sim),
        1,
        "a second worker sent the create again"
    );
    proc.assert_alive();
}

/// kill -9 in the middle of a create with the default lease (15 s, renewed while alive):
/// after the restart the interrupted job is taken over and finished well within 30 s,
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_an_interrupted_job_finishes_within_30_seconds_of_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _pg) = engine_database(dir.path()).await;
    let config = dir.path().join("bill.toml");
    std::fs::write(&config, "provision_wait_secs = 0\n").unwrap();
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap().with_baseline(true))
        .await
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let args = ["--listen", listen.as_str(), "--workers", "1"];
    let mut first = start("first", "serve", dir.path(), &database_url, &config, &args);
    wait_healthy(&mut first, &base).await;
    let api = Api::login(&base).await;
    let (plan, customer) = api.catalogue(&[(&sim, sim.base_url())], 10).await;
    sim.set_faults(json!({"latency_ms": 1500})).unwrap();
    let (status, body) = api
        .post(
            "/api/v1/nextpanel/provision",
            json!({"customer_id": customer, "username": "crashy", "plan_id": plan}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let account_id = body["id"].as_i64().unwrap();
    poll(
        Duration::from_secs(10),
        "the create to reach the panel",
        || {
            let n = create_requests(&sim);
            async move { (n >= 1).then_some(()) }
        },
    )
    .await;
    first.kill9();
    sim.set_faults(json!({"latency_ms": 0})).unwrap();

    let restarted = Instant::now();
    let mut second = start("second", "serve", dir.path(), &database_url, &config, &args);
    wait_healthy(&mut second, &base).await;
    let api = Api::login(&base).await;
    poll(
        Duration::from_secs(30),
        "the interrupted account to be active",
        || {
            let api = api.clone();
            async move {
                let a = api
                    .get(&format!("/api/v1/nextpanel/accounts/{account_id}"))
                    .await;
                (a["state"] == "active").then_some(())
            }
        },
    )
    .await;
    eprintln!(
        "recovery after kill -9: the interrupted job finished {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    let on_panel = panel_usernames(&sim);
    assert_eq!(
        on_panel.iter().filter(|u| *u == "crashy").count(),
        1,
        "exactly one panel account: {on_panel:?}"
    );
    second.assert_alive();
}

/// The database of a test on the engine the suite runs on: an SQLite file in `dir`, or a
/// fresh PostgreSQL database (dropped with the returned guard).
async fn engine_database(dir: &Path) -> (String, Option<FreshPg>) {
    if std::env::var("NPB_TEST_ENGINE").as_deref() == Ok("postgres") {
        let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL for PostgreSQL");
        let pg = FreshPg::create(&admin).await;
        (pg.url.clone(), Some(pg))
    } else {
        (format!("sqlite://{}", dir.join("bill.db").display()), None)
    }
}
