//! The test app: the real server on a random loopback port with a fresh database
//! (a temp SQLite file, or a fresh PostgreSQL schema), spoken to over HTTP.
//!
//! The engine comes from `NPB_TEST_ENGINE` (`sqlite`, the default, or `postgres`,
//! which uses `DATABASE_URL`). The README's test command runs the suite once per engine.

use std::str::FromStr;

use billing::config::{Layer, Settings};
use billing::store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::sync::oneshot;

/// Password of the admin every test app is seeded with.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Password of the seeded admin.
pub const ADMIN_PASSWORD: &str = "admin-password-123";
/// Master key of every test app (secrets at rest).
pub const MASTER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Which engine this test run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub fn engine() -> Engine {
    match std::env::var("NPB_TEST_ENGINE").as_deref() {
        Ok("postgres") => Engine::Postgres,
        Ok("sqlite") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("NPB_TEST_ENGINE must be sqlite or postgres, not {other}"),
    }
}

/// The PostgreSQL server URL for the postgres pass.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// A fresh, migrated-on-use database of the current engine and what must be cleaned up.
pub struct FreshDb {
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl FreshDb {
    /// A database the test set up itself, left for the test to clean up.
    pub fn existing(db: Db) -> FreshDb {
        FreshDb {
            db,
            _dir: None,
            schema: None,
        }
    }

    pub async fn new(engine: Engine) -> FreshDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("bill.db");
                let options =
                    SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                        .unwrap();
                let db = Db::connect_sqlite(options).await.unwrap();
                FreshDb {
                    db,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Engine::Postgres => {
                let url = postgres_url()
                    .expect("NPB_TEST_ENGINE=postgres needs DATABASE_URL=postgres://...");
                let schema = format!("t_{}", hex_id());
                let admin = Db::connect(&url).await.unwrap();
                let Db::Postgres(pool, _) = &admin else {
                    unreachable!()
                };
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(pool)
                    .await
                    .unwrap();
                admin.close().await;
                let options = PgConnectOptions::from_str(&url)
                    .unwrap()
                    .options([("search_path", schema.as_str())]);
                let db = Db::connect_postgres(options).await.unwrap();
                FreshDb {
                    db,
                    _dir: None,
                    schema: Some((url, schema)),
                }
            }
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let Some((url, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on another thread drops the schema.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(Db::Postgres(pool, _)) = Db::connect(&url).await {
                    // One statement with its own lock timeout: a failed test may leave the
                    // app's connections holding locks, and the drop must not wait on them.
                    let sql =
                        format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::raw_sql(&sql).execute(&pool).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

impl FreshDb {
    /// Where to connect to this database again from another runtime (the ledger check
    /// after a test): a SQLite file path or a PostgreSQL URL and schema.
    fn address(&self) -> Option<(String, Option<String>)> {
        if let Some((url, schema)) = &self.schema {
            return Some((url.clone(), Some(schema.clone())));
        }
        let dir = self._dir.as_ref()?;
        Some((
            format!("sqlite://{}", dir.path().join("bill.db").display()),
            None,
        ))
    }
}

/// Runs `nextpanel-bill check`'s checks on the database at `address` (on a thread of its
/// own: it is called from `Drop`) and panics naming every violation.
pub fn assert_ledger_holds(address: (String, Option<String>)) {
    let outcome = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (url, schema) = address;
            let db = match schema {
                Some(schema) => {
                    let options = PgConnectOptions::from_str(&url)
                        .unwrap()
                        .options([("search_path", schema.as_str())]);
                    Db::connect_postgres(options).await.unwrap()
                }
                None => Db::connect(&url).await.unwrap(),
            };
            let report =
                billing::service::ledger::check(&db, std::time::Duration::from_secs(900)).await;
            db.close().await;
            report.map_err(|e| e.to_string())
        })
    })
    .join()
    .expect("the ledger check panicked");
    let report = outcome.expect("the ledger check could not run");
    let found: Vec<String> = report
        .violations
        .iter()
        .map(|v| format!("{}: {}", v.rule, v.detail))
        .collect();
    assert!(
        found.is_empty(),
        "the ledger check found violations:\n{}",
        found.join("\n")
    );
}

fn hex_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running nextpanel-bill.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The provisioning log file of this app.
    pub provisioning_log: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    fresh: FreshDb,
    /// Whether the ledger check runs when the app is dropped (off only for tests that
    /// break the books on purpose, to see them reported).
    pub ledger_check: bool,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Layer::default()).await
    }

    /// Starts the app with `layer` over the test defaults.
    pub async fn spawn_with(layer: Layer) -> TestApp {
        let fresh = FreshDb::new(engine()).await;
        Self::start(fresh, test_settings(layer)).await
    }

    /// Starts the app with `layer` and its own address as `public_url`, so the links it
    /// makes (checkout return pages, reset links) lead back to it, as in production.
    pub async fn spawn_public(mut layer: Layer) -> TestApp {
        let fresh = FreshDb::new(engine()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        layer.public_url = Some(format!("http://{}", listener.local_addr().unwrap()));
        Self::start_on(listener, fresh, test_settings(layer)).await
    }

    /// Starts the app on an existing fresh database.
    pub async fn start(fresh: FreshDb, settings: Settings) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, fresh, settings).await
    }

    async fn start_on(
        listener: tokio::net::TcpListener,
        fresh: FreshDb,
        settings: Settings,
    ) -> TestApp {
        let provisioning_log = settings.provisioning_log.clone();
        let (state, _seeded) = billing::app::prepare_with_db(fresh.db.clone(), settings)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            billing::app::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            db: fresh.db.clone(),
            provisioning_log,
            shutdown: Some(tx),
            server: Some(server),
            fresh,
            ledger_check: true,
        }
    }

    /// Stops the server and hands back its database (to start again on it).
    pub async fn stop(mut self) -> FreshDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
        std::mem::replace(
            &mut self.fresh,
            FreshDb {
                db: self.db.clone(),
                _dir: None,
                schema: None,
            },
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON (or Null).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", path, token, Some(body)).await
    }

    /// Posts raw bytes with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &'static str,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Logs in and returns the access token; panics unless it works.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email} failed: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Creates a customer with a password and returns (id, token).
    pub async fn customer(&self, admin: &str, email: &str) -> (i64, String) {
        let (status, body) = self
            .post(
                "/api/v1/customers",
                Some(admin),
                json!({"email": email, "full_name": "Test Customer", "password": "customer-password-1"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_i64().unwrap();
        (id, self.login(email, "customer-password-1").await)
    }

    /// Creates a staff user and returns its token.
    pub async fn staff(&self, admin: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/users",
                Some(admin),
                json!({"email": "staff@example.com", "full_name": "Staff", "password": "staff-password-1", "role": "staff"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login("staff@example.com", "staff-password-1").await
    }

    /// Creates a plan offering monthly and annual billing and returns its id.
    pub async fn plan(&self, admin: &str, name: &str) -> i64 {
        let (status, body) = self
            .post("/api/v1/plans", Some(admin), plan_body(name))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// Issues a monthly license of `plan` to `customer` and returns it.
    pub async fn license(&self, admin: &str, customer: i64, plan: i64) -> Value {
        let (status, body) = self
            .post(
                &format!("/api/v1/customers/{customer}/licenses"),
                Some(admin),
                json!({"plan_id": plan, "billing_cycle": "monthly"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Runs one SQL statement as it is (test set-up only).
    /// Starts a NextPanel simulator with `config` and registers it as server `name`;
    /// returns the simulator and the server's id.
    pub async fn sim_server(
        &self,
        admin: &str,
        name: &str,
        capacity: i64,
        config: nextpanel_sim::SimConfig,
    ) -> (nextpanel_sim::SimHandle, i64) {
        let sim = nextpanel_sim::spawn(config).await.unwrap();
        let (status, body) = self
            .post(
                "/api/v1/nextpanel/servers",
                Some(admin),
                json!({"name": name, "base_url": sim.base_url(), "api_key": sim.api_key(),
                       "api_secret": sim.api_secret(), "capacity": capacity}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (sim, body["id"].as_i64().unwrap())
    }

    pub async fn exec(&self, sql: &str) {
        match &self.db {
            Db::Sqlite(pool) => {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            Db::Postgres(pool, _) => {
                sqlx::query(sql).execute(pool).await.unwrap();
            }
        }
    }

    /// Moves a timestamp column of one row (to bring a due date or an expiry near).
    pub async fn set_time(
        &self,
        table: &str,
        column: &str,
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
        let n = match &self.db {
            Db::Sqlite(pool) => sqlx::query(&sql)
                .bind(at)
                .bind(id)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected(),
            Db::Postgres(pool, _) => sqlx::query(&sql)
                .bind(at)
                .bind(id)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected(),
        };
        assert_eq!(n, 1, "no {table} row {id}");
    }

    /// The first column of every row of `sql`, as text.
    pub async fn query_strings(&self, sql: &str) -> Vec<String> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
            Db::Postgres(pool, _) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        }
    }

    /// Number of rows in `table` (for "changes nothing" checks).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
            Db::Postgres(pool, _) => sqlx::query_scalar(&sql).fetch_one(pool).await.unwrap(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Every test ends with the books checked: whatever it did, no invariant broke.
        if self.ledger_check && !std::thread::panicking() {
            if let Some(address) = self.fresh.address() {
                assert_ledger_holds(address);
            }
        }
    }
}

/// A valid plan body.
pub fn plan_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Fast SSD hosting",
        "currency": "USD",
        "prices": {"monthly": 999, "annual": 9990},
        "setup_fee": 0,
        "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
        "account_type": "panel",
        "package_id": 1
    })
}

/// Asserts the error envelope: status, code and (when given) field; returns the body.
#[track_caller]
pub fn assert_error(
    actual: (StatusCode, Value),
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) -> Value {
    let (got_status, body) = actual;
    assert_eq!(got_status, status, "unexpected status; body: {body}");
    assert_eq!(body["error"]["code"], code, "unexpected code; body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "unexpected field; body: {body}");
    }
    // Scripts written for the older system read the message at `.detail`.
    assert_eq!(
        body["detail"], body["error"]["message"],
        "no detail: {body}"
    );
    body
}

/// Settings of a test app: `layer` over the test defaults. The background monitor is
/// off unless a test turns it on; tests check servers on demand.
pub fn test_settings(layer: Layer) -> Settings {
    let defaults = Layer {
        listen: Some("127.0.0.1:0".into()),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        master_key: Some(MASTER_KEY.into()),
        health_interval_secs: Some(0),
        reconcile_interval_secs: Some(0),
        usage_poll_interval_secs: Some(0),
        payment_sweep_interval_secs: Some(0),
        workers: Some(2),
        job_max_attempts: Some(6),
        job_backoff_base_ms: Some(20),
        job_backoff_cap_ms: Some(200),
        job_lease_secs: Some(30),
        provision_wait_secs: Some(10),
        provisioning_log: Some(
            std::env::temp_dir()
                .join(format!("npb-provisioning-{}.log", hex_id()))
                .display()
                .to_string(),
        ),
        ..Layer::default()
    };
    Settings::from_layer(layer.or(defaults)).unwrap()
}

/// The SQLite file of a test app, when it runs on SQLite.
pub fn sqlite_path(app: &TestApp) -> Option<std::path::PathBuf> {
    app.fresh._dir.as_ref().map(|d| d.path().join("bill.db"))
}

/// Log lines captured from every tracing event of this test process (DEBUG and up).
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a subscriber capturing all logs at DEBUG (each nextest test is its own process).
pub fn capture_logs() -> Logs {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    logs
}

/// A real SMTP server (aiosmtpd, `tests/smtp_sink.py`) that stores every message it accepts.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    /// Extra arguments of `smtp_sink.py` (TLS mode and certificate, required login).
    options: Vec<String>,
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub fn start() -> SmtpSink {
        Self::start_with(Vec::new())
    }

    /// Starts a sink with `smtp_sink.py` options (`--tls MODE CERT KEY`, `--auth USER:PASS`).
    pub fn start_with(options: Vec<String>) -> SmtpSink {
        let mut sink = SmtpSink {
            port: 0,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            options,
        };
        // A free port can be taken by another test between asking and binding: try anew.
        for _ in 0..10 {
            sink.port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if sink.try_up() {
                return sink;
            }
        }
        panic!("the SMTP sink did not start on any of 10 free ports");
    }

    /// (Re)starts the server on its port, waiting for the port if another process holds it.
    pub fn up(&mut self) {
        for _ in 0..50 {
            if self.try_up() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the SMTP sink did not start on port {}", self.port);
    }

    /// One attempt to start the server on its port.
    fn try_up(&mut self) -> bool {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = std::process::Command::new("python3")
            .args([
                script,
                &self.port.to_string(),
                self.dir.path().to_str().unwrap(),
            ])
            .args(&self.options)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd) runs the test SMTP server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        self.child = Some(child);
        true
    }

    /// Stops the server: connections to its port are refused until `up`.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} messages, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Settings layer pointing nextpanel-bill at this sink.
    pub fn layer(&self) -> Layer {
        Layer {
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: Some(i64::from(self.port)),
            smtp_security: Some("none".into()),
            smtp_from: Some("Acme Hosting <billing@acme.example>".into()),
            smtp_timeout_secs: Some(5),
            company_name: Some("Acme Hosting".into()),
            support_email: Some("help@acme.example".into()),
            ..Layer::default()
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.down();
    }
}
