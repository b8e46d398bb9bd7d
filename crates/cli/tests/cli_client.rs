//! The API client commands of `nextpanel-bill` against a real server process and an
//! in-process `nextpanel-sim`: login, servers, plans, customers, unattended provisioning,
//! resume after a failure, and the errors an admin meets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{free_port, Running};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "a-long-admin-password-1";

/// A server process, a simulated NextPanel and a home directory for the CLI.
struct World {
    _server: Running,
    url: String,
    sim: nextpanel_sim::SimHandle,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
    http: reqwest::Client,
}

impl World {
    async fn start() -> World {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"))
            .current_dir(data.path())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--health-interval",
                "0",
            ])
            .env_remove("DATABASE_URL")
            .env_remove("NEXTPANEL_BILL_DATABASE_URL")
            .env_remove("NEXTPANEL_BILL_CONFIG")
            .env("NEXTPANEL_BILL_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("NEXTPANEL_BILL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("NEXTPANEL_BILL_MASTER_KEY", "ab".repeat(32))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Running(child);
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "server did not become healthy");
            if http
                .get(format!("{url}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let sim = nextpanel_sim::spawn(nextpanel_sim::SimConfig::random().unwrap())
            .await
            .unwrap();
        World {
            _server: server,
            url,
            sim,
            home: tempfile::tempdir().unwrap(),
            _data: data,
            http,
        }
    }

    fn config_dir(&self) -> PathBuf {
        self.home.path().join("config").join("nextpanel-bill")
    }

    /// Runs the CLI with this world's home; `stdin` is fed when given.
    async fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"));
        cmd.args(args)
            .env_remove("NEXTPANEL_BILL_URL")
            .env_remove("NEXTPANEL_BILL_TOKEN")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = cmd.spawn().unwrap();
            let mut pipe = child.stdin.take().unwrap();
            if let Some(text) = input {
                pipe.write_all(text.as_bytes()).unwrap();
            }
            drop(pipe);
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap()
    }

    /// Runs the CLI, asserts success and parses stdout as JSON.
    async fn cli_json(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let out = self.cli(args, stdin).await;
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    async fn login(&self) {
        let out = self
            .cli(
                &[
                    "login",
                    "--url",
                    &self.url,
                    "--email",
                    ADMIN_EMAIL,
                    "--password-stdin",
                ],
                Some(&format!("{ADMIN_PASSWORD}\n")),
            )
            .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn admin_token(&self) -> String {
        let pair: Value = self
            .http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pair["access_token"].as_str().unwrap().to_owned()
    }

    async fn api_get(&self, path: &str) -> Value {
        let token = self.admin_token().await;
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn create_plan(&self, name: &str) -> i64 {
        let token = self.admin_token().await;
        let resp = self
            .http
            .post(format!("{}/api/v1/plans", self.url))
            .bearer_auth(token)
            .json(&json!({"name": name, "currency": "USD", "prices": {"monthly": 999, "annual": 9990},
                "quotas": {"max_accounts": 3, "max_domains": -1, "max_databases": -1, "max_emails": -1,
                    "storage_mb": 1024, "bandwidth_mb": -1}}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    async fn add_server(&self, name: &str) -> Value {
        self.cli_json(
            &[
                "servers",
                "add",
                "--name",
                name,
                "--base-url",
                &self.sim.base_url(),
                "--api-key",
                self.sim.api_key(),
                "--api-secret-stdin",
                "--capacity",
                "10",
                "--json",
            ],
            Some(&format!("{}\n", self.sim.api_secret())),
        )
        .await
    }

    fn sim_accounts(&self) -> usize {
        self.sim.state()["accounts"].as_array().unwrap().len()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_and_provisions_without_a_terminal() {
    let w = World::start().await;
    w.login().await;
    let creds = w.config_dir().join("credentials.json");
    #[cfg(unix)]
    assert_eq!(mode(&creds), 0o600);

    let server = w.add_server("web1").await;
    assert_eq!(server["is_online"], true, "{server}");
    let list = w.cli_json(&["servers", "list", "--json"], None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let test = w.cli(&["servers", "test", "web1"], None).await;
    assert!(test.status.success(), "{}", stderr(&test));
    assert!(String::from_utf8_lossy(&test.stdout).contains("online"));
    let table = w.cli(&["servers", "list"], None).await;
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.starts_with("ID  NAME"), "{table}");
    assert!(!table.contains(w.sim.api_secret()));

    w.create_plan("Starter").await;
    let plans = w.cli(&["plans", "list"], None).await;
    let plans = String::from_utf8_lossy(&plans.stdout).into_owned();
    assert!(
        plans.contains("9.99 USD/monthly, 99.90 USD/annual"),
        "{plans}"
    );

    let created = w
        .cli_json(
            &[
                "customers",
                "create",
                "--email",
                "bob@example.com",
                "--name",
                "Bob",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(created["email"], "bob@example.com");
    let found = w
        .cli_json(&["customers", "list", "--search", "bob@", "--json"], None)
        .await;
    assert_eq!(found["total"], 1, "{found}");

    let summary = w
        .cli_json(
            &[
                "provision",
                "--email",
                "ann@example.com",
                "--name",
                "Ann Lee",
                "--company",
                "Acme",
                "--plan",
                "starter",
                "--cycle",
                "annual",
                "--username",
                "annlee",
                "--server",
                "auto",
                "--yes",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(summary["username"], "annlee");
    assert_eq!(summary["state"], "active", "{summary}");
    assert_eq!(summary["server"], "web1");
    assert_eq!(summary["welcome_email"], "queued");
    assert_eq!(summary["customer_created"], true);
    assert!(summary["license_key"].as_str().unwrap().starts_with("NP-"));
    assert!(summary["nextpanel_user_id"].is_string(), "{summary}");
    assert!(summary["hosting_password"].as_str().unwrap().len() >= 12);
    assert!(summary["customer_password"].as_str().unwrap().len() >= 10);
    let id = summary["account_id"].as_i64().unwrap();
    let account = w.api_get(&format!("/api/v1/nextpanel/accounts/{id}")).await;
    assert_eq!(account["state"], "active");
    assert_eq!(w.sim_accounts(), 1);
    assert!(!w.config_dir().join("provision-resume.json").exists());

    // An existing customer is reused, and the account list shows both.
    let again = w
        .cli_json(
            &[
                "provision",
                "--email",
                "ANN@example.com",
                "--plan",
                "Starter",
                "--username",
                "annshop",
                "--yes",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(again["customer_created"], false);
    assert_eq!(again["customer_id"], summary["customer_id"]);
    assert!(again.get("customer_password").is_none());
    let accounts = w.cli_json(&["accounts", "list", "--json"], None).await;
    assert_eq!(accounts["total"], 2);

    let suspended = w
        .cli_json(
            &[
                "accounts",
                "suspend",
                &id.to_string(),
                "--reason",
                "unpaid",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(suspended["account"]["state"], "suspended", "{suspended}");

    let shown = w
        .cli_json(&["accounts", "show", &id.to_string(), "--json"], None)
        .await;
    assert_eq!(shown["suspend_reason"], "unpaid", "{shown}");
    let password = w
        .cli(&["accounts", "password", &id.to_string()], None)
        .await;
    assert!(password.status.success(), "{}", stderr(&password));
    let out = String::from_utf8_lossy(&password.stdout).into_owned();
    assert!(out.contains("new hosting password (shown once): "), "{out}");
    let retry = w.cli(&["accounts", "retry", &id.to_string()], None).await;
    assert!(
        !retry.status.success(),
        "only failed accounts can be retried"
    );
    assert!(
        stderr(&retry).contains("cannot be retried"),
        "{}",
        stderr(&retry)
    );

    let customer = summary["customer_id"].to_string();
    let off = w
        .cli_json(&["customers", "deactivate", &customer, "--json"], None)
        .await;
    assert_eq!(off["is_active"], false, "{off}");
    let on = w
        .cli_json(&["customers", "activate", &customer, "--json"], None)
        .await;
    assert_eq!(on["is_active"], true, "{on}");

    let logout = w.cli(&["logout"], None).await;
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert!(!creds.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_with_the_api_message() {
    let w = World::start().await;
    let out = w
        .cli(
            &[
                "login",
                "--url",
                &w.url,
                "--email",
                ADMIN_EMAIL,
                "--password-stdin",
            ],
            Some("not-the-password\n"),
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim(), "error: invalid email or password");
    assert!(!err.contains("not-the-password"));
    assert!(!w.config_dir().join("credentials.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_saved() {
    let w = World::start().await;
    w.login().await;
    let path = w.config_dir().join("credentials.json");
    let mut creds: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let old_refresh = creds["refresh_token"].clone();
    creds["access_token"] = json!("no-longer-valid");
    std::fs::write(&path, creds.to_string()).unwrap();

    let out = w.cli(&["plans", "list", "--json"], None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.cli(&["servers", "list", "--json"], None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_ne!(saved["access_token"], "no-longer-valid");
    assert_ne!(saved["refresh_token"], old_refresh);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    // A token that cannot be refreshed says to log in again.
    std::fs::write(
        &path,
        json!({"url": w.url, "access_token": "bad", "refresh_token": "bad"}).to_string(),
    )
    .unwrap();
    let out = w.cli(&["servers", "list"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nextpanel-bill login"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_named() {
    let w = World::start().await;
    let closed = free_port();
    let url = format!("http://127.0.0.1:{closed}");
    let out = w
        .cli(&["--url", &url, "--token", "x", "plans", "list"], None)
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot reach nextpanel-bill at {url}")),
        "{err}"
    );
    let out = w.cli(&["servers", "list"], None).await;
    assert!(stderr(&out).contains("not logged in"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_flags_are_listed_without_a_terminal() {
    let w = World::start().await;
    w.login().await;
    let out = w
        .cli(&["provision", "--email", "x@example.com"], None)
        .await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--plan") && err.contains("--username") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(w.api_get("/api/v1/customers").await["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_username_is_refused() {
    let w = World::start().await;
    w.login().await;
    w.add_server("web1").await;
    w.create_plan("Starter").await;
    let args = |email: &'static str| {
        vec![
            "provision",
            "--email",
            email,
            "--name",
            "Someone",
            "--plan",
            "Starter",
            "--username",
            "taken1",
            "--yes",
            "--json",
        ]
    };
    w.cli_json(&args("one@example.com"), None).await;
    let out = w.cli(&args("two@example.com"), None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("username \"taken1\" is already taken"),
        "{err}"
    );
    assert!(
        err.contains("nothing was created") || !err.contains("created before"),
        "{err}"
    );
    assert_eq!(w.sim_accounts(), 1);
    // Refused before any write: no second customer, no second license.
    assert_eq!(w.api_get("/api/v1/customers").await["total"], 1);
    assert_eq!(w.api_get("/api/v1/licenses").await["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_failure_creates_the_account_once() {
    let w = World::start().await;
    w.login().await;
    w.add_server("web1").await;
    w.create_plan("Starter").await;
    // Ann, on web1, with no questions asked: run twice below.
    let ann = [
        "provision",
        "--email",
        "ann@example.com",
        "--name",
        "Ann",
        "--plan",
        "Starter",
        "--username",
        "annlee",
        "--server",
        "web1",
        "--yes",
    ];
    // An unusable server is refused before anything is written.
    let off = w.cli(&["servers", "disable", "web1"], None).await;
    assert!(off.status.success(), "{}", stderr(&off));
    let refused = w.cli(&ann, None).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("cannot take an account"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        w.api_get("/api/v1/customers").await["total"],
        0,
        "nothing was created"
    );
    let on = w.cli(&["servers", "enable", "web1"], None).await;
    assert!(on.status.success(), "{}", stderr(&on));

    // Someone else holds the username on the panel itself: the failure comes only after the
    // customer and the license exist, which is what --resume is for.
    let squatter = reqwest::Client::new()
        .post(format!("{}/api/v1/billing/accounts", w.sim.base_url()))
        .header("X-API-Key", w.sim.api_key())
        .header("X-API-Secret", w.sim.api_secret())
        .json(&json!({"username": "annlee", "email": "x@example.com", "password": "pw-123456789", "billing_id": "someone-else", "is_admin": false, "metadata": {}}))
        .send()
        .await
        .unwrap();
    assert!(squatter.status().is_success());
    let out = w.cli(&[&ann[..], &["--json"]].concat(), None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not ours"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let resume_file = w.config_dir().join("provision-resume.json");
    let saved = std::fs::read_to_string(&resume_file).unwrap();
    assert!(!saved.contains("password"), "{saved}");
    #[cfg(unix)]
    assert_eq!(mode(&resume_file), 0o600);
    assert_eq!(w.sim_accounts(), 1, "only the squatter");

    // A fresh run would duplicate: it is refused while a resume is waiting.
    let blocked = w
        .cli(
            &[
                "provision",
                "--email",
                "ann@example.com",
                "--plan",
                "Starter",
                "--username",
                "annlee",
                "--yes",
            ],
            None,
        )
        .await;
    assert!(
        stderr(&blocked).contains("--resume"),
        "{}",
        stderr(&blocked)
    );

    // A run cut off between issuing the license and recording it: the resume file lacks
    // the license, and the resumed run must reuse it rather than issue a second one.
    let mut state: Value = serde_json::from_str(&saved).unwrap();
    assert!(state["license_id"].is_i64(), "{state}");
    state.as_object_mut().unwrap().remove("license_id");
    std::fs::write(&resume_file, state.to_string()).unwrap();

    // The squatter leaves; the resumed run retries the same account.
    w.sim.reset().unwrap();
    let summary = w
        .cli_json(&["provision", "--resume", "--yes", "--json"], None)
        .await;
    assert_eq!(summary["state"], "active", "{summary}");
    assert_eq!(summary["customer_created"], true);
    assert!(!resume_file.exists());
    assert_eq!(w.sim_accounts(), 1);
    assert_eq!(w.api_get("/api/v1/customers").await["total"], 1);
    let licenses = w
        .api_get(&format!(
            "/api/v1/customers/{}/licenses",
            summary["customer_id"]
        ))
        .await;
    assert_eq!(licenses["total"], 1, "{licenses}");
}

#[test]
fn completions_and_help_are_there() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("provision"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"))
        .args(["provision", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--resume --yes"));
    let out = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"))
        .args(["servers", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The CLI under a pseudo-terminal, through util-linux `script`, driven like `expect`:
/// wait for a prompt (polling with a deadline), then type the answer.
struct Pty {
    child: Child,
    input: std::process::ChildStdin,
    screen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
    seen: usize,
}

impl Pty {
    /// Starts `nextpanel-bill ARGS` on a terminal; `None` where `script` is missing.
    fn spawn(w: &World, args: &str) -> Option<Pty> {
        if Command::new("script").arg("--version").output().is_err() {
            eprintln!("skipped: util-linux `script` is not installed");
            return None;
        }
        let command = format!("'{}' {args}", env!("CARGO_BIN_EXE_nextpanel-bill"));
        let mut child = Command::new("script")
            .args(["-qefc", &command, "/dev/null"])
            .env_remove("NEXTPANEL_BILL_URL")
            .env_remove("NEXTPANEL_BILL_TOKEN")
            .env("HOME", w.home.path())
            .env("XDG_CONFIG_HOME", w.home.path().join("config"))
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let mut output = child.stdout.take().unwrap();
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = screen.clone();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Some(Pty {
            child,
            input,
            screen,
            reader,
            seen: 0,
        })
    }

    /// Waits until `text` appears after what was already matched.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let screen = self.screen.lock().unwrap();
                if let Some(at) = screen[self.seen..].find(text) {
                    self.seen += at + text.len();
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared; the screen:\n{}",
                self.screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types a hidden answer. A password prompt turns echo off with TCSAFLUSH, which
    /// throws away whatever was typed before (as getpass does), so wait for that first.
    fn send_secret(&mut self, keys: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.terminal_echoes() {
            assert!(
                Instant::now() < deadline,
                "the password prompt never hid input"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.send(keys);
    }

    /// Whether the CLI's terminal echoes input, read with `stty` from its stdin.
    fn terminal_echoes(&self) -> bool {
        let script = self.child.id().to_string();
        let cli = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok())
            .find(|entry| {
                std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                    // pid (comm) state ppid ...: the comm may hold spaces, so split after ')'.
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        == Some(script.as_str())
                })
            });
        let Some(cli) = cli else {
            return true;
        };
        let Ok(tty) = std::fs::read_link(cli.path().join("fd/0")) else {
            return true;
        };
        let out = Command::new("stty").arg("-F").arg(&tty).arg("-a").output();
        !out.is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .any(|flag| flag == "-echo")
        })
    }

    fn send(&mut self, keys: &str) {
        use std::io::Write;
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// Waits for the end and returns the exit code and the whole screen.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the CLI did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader ends at end of file, once the last output is in.
        self.reader.join().unwrap();
        let screen = self.screen.lock().unwrap().clone();
        (status.code(), screen)
    }
}

const DOWN: &str = "\x1b[B";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interactive_flow_asks_reviews_and_provisions() {
    let w = World::start().await;
    w.login().await;
    w.add_server("web1").await;
    w.create_plan("Starter").await;
    let Some(mut pty) = Pty::spawn(&w, "provision") else {
        return;
    };
    let sim_before = w.sim_accounts();
    let screen = tokio::task::spawn_blocking(move || {
        pty.expect("web1");
        pty.expect("Customer email");
        pty.send("erin@example.com\r");
        pty.expect("Full name");
        pty.send("Erin Example\r");
        pty.expect("Company (optional)");
        pty.send("\r");
        pty.expect("Customer portal password");
        pty.send_secret("\r");
        pty.expect("9.99 USD/monthly");
        pty.send("\r");
        pty.expect("Billing cycle");
        pty.send(&format!("{DOWN}\r"));
        pty.expect("Hosting username");
        // Refused as typed, then a good one.
        pty.send("9erin\r");
        pty.expect("must start with a lower-case letter");
        pty.send("\x7f\x7f\x7f\x7f\x7ferin9\r");
        pty.expect("Hosting password");
        pty.send_secret("\r");
        pty.expect("auto (the least used usable server)");
        pty.send(&format!("{DOWN}\r"));
        pty.expect("Review:");
        pty.expect("Create all this?");
        pty.send("y");
        let (code, screen) = pty.finish();
        assert_eq!(code, Some(0), "{screen}");
        screen
    })
    .await
    .unwrap();
    assert!(screen.contains("username           erin9"), "{screen}");
    assert!(screen.contains("billing cycle      annual"), "{screen}");
    assert!(screen.contains("server             web1"), "{screen}");
    assert!(screen.contains("welcome email      queued"), "{screen}");
    assert_eq!(w.sim_accounts(), sim_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_a_prompt_creates_nothing() {
    let w = World::start().await;
    w.login().await;
    w.add_server("web1").await;
    w.create_plan("Starter").await;
    let Some(mut pty) = Pty::spawn(&w, "provision") else {
        return;
    };
    let (code, screen) = tokio::task::spawn_blocking(move || {
        pty.expect("Customer email");
        pty.send("frank@example.com\r");
        pty.expect("Full name");
        pty.send("Frank\r");
        pty.expect("Company (optional)");
        pty.send("\r");
        pty.expect("Customer portal password");
        pty.send_secret("\r");
        pty.expect("9.99 USD/monthly");
        pty.send("\x03");
        pty.finish()
    })
    .await
    .unwrap();
    assert_eq!(code, Some(130), "{screen}");
    assert!(screen.contains("nothing was"), "{screen}");
    assert_eq!(w.api_get("/api/v1/customers").await["total"], 0);
    assert_eq!(w.sim_accounts(), 0);
    assert!(!w.config_dir().join("provision-resume.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_bills_an_order_paid_by_bank_transfer() {
    let w = World::start().await;
    w.login().await;
    w.add_server("web1").await;
    let plan = w.create_plan("Starter").await.to_string();
    w.cli_json(
        &[
            "customers",
            "create",
            "--email",
            "cy@example.com",
            "--name",
            "Cy",
            "--json",
        ],
        None,
    )
    .await;
    let out = w
        .cli(
            &[
                "invoices",
                "order",
                "--customer",
                "cy@example.com",
                "--plan",
                &plan,
                "--username",
                "cyril",
                "--cycle",
                "annual",
            ],
            None,
        )
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let number = format!("INV-{}-000001", chrono::Utc::now().format("%Y"));
    assert!(
        said.contains(&format!("{number} for 99.90 USD is open")),
        "{said}"
    );
    let open = w
        .cli_json(&["invoices", "list", "--status", "open", "--json"], None)
        .await;
    assert_eq!(open["total"], 1, "{open}");

    // Without Stripe configured the checkout link is refused with the reason.
    let out = w.cli(&["invoices", "checkout", &number], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("stripe_secret_key"),
        "{}",
        stderr(&out)
    );

    let out = w
        .cli(
            &[
                "invoices",
                "mark-paid",
                &number,
                "--reference",
                "SEPA #4411",
            ],
            None,
        )
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains("paid") && shown.contains("SEPA #4411"),
        "{shown}"
    );
    assert!(shown.contains("Starter hosting, annual"), "{shown}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while w.sim_accounts() == 0 {
        assert!(std::time::Instant::now() < deadline, "never provisioned");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let again = w
        .cli(
            &["invoices", "mark-paid", "1", "--reference", "again"],
            None,
        )
        .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("only open invoices"),
        "{}",
        stderr(&again)
    );
    // A bank transfer is refunded by hand, in part, with a credit note; too much is refused.
    let out = w
        .cli(
            &[
                "invoices", "refund", "1", "--amount", "10.005", "--reason", "goodwill",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--amount must be an amount like 4.99"),
        "{}",
        stderr(&out)
    );
    let out = w
        .cli(
            &[
                "invoices", "refund", &number, "--amount", "10.00", "--reason", "goodwill",
                "--key", "t-1",
            ],
            None,
        )
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(&format!(
            "refunded 10.00 USD of {number} (succeeded); credit note CN-"
        )),
        "{said}"
    );
    let again = w
        .cli(
            &[
                "invoices", "refund", "1", "--amount", "1", "--reason", "goodwill", "--key", "t-1",
            ],
            None,
        )
        .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("Idempotency-Key"),
        "{}",
        stderr(&again)
    );
    let over = w
        .cli(
            &[
                "invoices", "refund", "1", "--amount", "99.90", "--reason", "x",
            ],
            None,
        )
        .await;
    assert_eq!(over.status.code(), Some(1));
    assert!(
        stderr(&over).contains("must be at most 89.90 USD"),
        "{}",
        stderr(&over)
    );
    let shown = w.cli(&["invoices", "show", "1"], None).await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains("goodwill"));
    let bad = w.cli(&["invoices", "show", "INV-x"], None).await;
    assert!(
        stderr(&bad).contains("no invoice has the number \"INV-x\""),
        "{}",
        stderr(&bad)
    );
    let run = w.cli(&["invoices", "run"], None).await;
    assert!(String::from_utf8_lossy(&run.stdout).contains("renewal invoices"));

    // The dashboard's figures on the terminal: the transfer is this month's revenue
    // (minus the refunds), and one service is new.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let revenue = w.cli(&["report", "revenue", "--months", "2"], None).await;
    assert!(revenue.status.success(), "{}", stderr(&revenue));
    let said = String::from_utf8_lossy(&revenue.stdout).into_owned();
    assert!(
        said.contains("Revenue collected") && said.contains(&month) && said.contains("USD"),
        "{said}"
    );
    let services = w.cli(&["report", "services", "--csv"], None).await;
    let csv = String::from_utf8_lossy(&services.stdout).into_owned();
    assert!(csv.starts_with("series,currency,label,value"), "{csv}");
    assert!(csv.contains(&format!("new,,{month},1")), "{csv}");
}
