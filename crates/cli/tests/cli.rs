//! The `nextpanel-bill` binary itself: first start, restart, configuration output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{free_port, Running};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"));
    // Every NEXTPANEL_BILL_* variable is a setting: none of the caller's may leak in.
    for (var, _) in std::env::vars() {
        if var.starts_with("NEXTPANEL_BILL_") || var == "DATABASE_URL" {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// `serve` on `port` in `dir`, logging warnings only and printing nowhere; callers add
/// settings or take an output.
fn serve_command(dir: &std::path::Path, port: u16) -> Command {
    let mut cmd = bin();
    cmd.current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Starts `serve` in `dir` and returns the process and what it printed on stdout before it was healthy.
async fn serve(dir: &std::path::Path, port: u16) -> (Running, Vec<String>) {
    let mut child = serve_command(dir, port)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut running = Running(child);
    healthy(port).await;
    // Stop it to collect stdout (the banner is printed before the server listens).
    let _ = running.0.kill();
    let _ = running.0.wait();
    (running, lines.join().unwrap())
}

#[tokio::test]
async fn first_start_prints_the_admin_password_once_and_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_first, out) = serve(dir.path(), port).await;
    assert!(
        dir.path().join("nextpanel-bill.db").exists(),
        "the default SQLite file is created in the working directory"
    );
    let password = out
        .iter()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .map(|p| p.trim().to_owned())
        .expect("the first start prints the admin password");
    assert!(password.len() >= 16);
    // The master key file is created beside the database, readable by its owner only.
    let key_file = dir.path().join("nextpanel-bill.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("master key file created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (_second, again) = serve(dir.path(), port).await;
    assert!(
        again.iter().all(|l| !l.contains("password")),
        "a restart must not print credentials: {again:?}"
    );

    // The printed password logs in.
    let mut child = bin()
        .current_dir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        assert!(Instant::now() < deadline, "server did not start");
        if let Ok(resp) = client
            .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "admin@example.com", "password": password}))
            .send()
            .await
        {
            break resp.status();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, reqwest::StatusCode::OK);
}

#[test]
fn config_shows_precedence_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bill.toml");
    std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nallow_registration = false\nadmin_email = \"ops@example.com\"\n").unwrap();
    let out = bin()
        .args([
            "config",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:9100",
        ])
        .env("NEXTPANEL_BILL_ADMIN_EMAIL", "env@example.com")
        .env("NEXTPANEL_BILL_ADMIN_PASSWORD", "super-secret-password")
        .env("DATABASE_URL", "postgres://bill:db-secret@db.internal/bill")
        .env(
            "NEXTPANEL_BILL_DATABASE_REPLICA_URL",
            "postgres://bill:replica-secret@standby.internal/bill",
        )
        .env("NEXTPANEL_BILL_STRIPE_SECRET_KEY", "sk_live_very_secret")
        .env("NEXTPANEL_BILL_STRIPE_WEBHOOK_SECRET", "whsec_very_secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("listen = \"127.0.0.1:9100\""),
        "flag beats file: {text}"
    );
    assert!(
        text.contains("admin_email = \"env@example.com\""),
        "environment beats file: {text}"
    );
    assert!(
        text.contains("allow_registration = false"),
        "file beats default: {text}"
    );
    assert!(
        text.contains("postgres://bill:********@db.internal/bill"),
        "{text}"
    );
    assert!(
        text.contains("database_replica_url = \"postgres://bill:********@standby.internal/bill\"  # environment NEXTPANEL_BILL_DATABASE_REPLICA_URL"),
        "{text}"
    );
    assert!(
        !text.contains("db-secret")
            && !text.contains("replica-secret")
            && !text.contains("super-secret-password")
            && !text.contains("very_secret"),
        "secrets leaked: {text}"
    );
    assert!(text.contains("stripe_secret_key = \"********\""), "{text}");
}

#[test]
fn every_setting_comes_from_the_environment_and_says_from_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bill.toml");
    std::fs::write(
        &file,
        "company_name = \"File Hosting\"\n[smtp]\nhost = \"file-relay.example\"\nport = 2525\n",
    )
    .unwrap();
    let secret = dir.path().join("smtp-password");
    std::fs::write(&secret, "smtp-secret-from-file\n").unwrap();
    let out = bin()
        .args([
            "config",
            "--config",
            file.to_str().unwrap(),
            "--workers",
            "3",
        ])
        .env("NEXTPANEL_BILL_WORKERS", "9")
        .env("NEXTPANEL_BILL_SMTP__HOST", "relay.example")
        .env("NEXTPANEL_BILL_SMTP_USERNAME", "billing")
        .env("NEXTPANEL_BILL_SMTP_PASSWORD_FILE", &secret)
        .env("NEXTPANEL_BILL_RENEWAL_LEAD_DAYS", "21")
        .env("NEXTPANEL_BILL_AUTOPAY_RETRY_DAYS", "[0, 4]")
        .env("NEXTPANEL_BILL_COMPANY_COUNTRY", "DE")
        .env("NEXTPANEL_BILL_HEALTH_INTERVAL", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    for (line, source) in [
        ("workers = 3", "command-line flag"),
        (
            "renewal_lead_days = 21",
            "environment NEXTPANEL_BILL_RENEWAL_LEAD_DAYS",
        ),
        (
            "autopay_retry_days = [0, 4]",
            "environment NEXTPANEL_BILL_AUTOPAY_RETRY_DAYS",
        ),
        (
            "company_country = \"DE\"",
            "environment NEXTPANEL_BILL_COMPANY_COUNTRY",
        ),
        ("company_name = \"File Hosting\"", "file "),
        (
            "health_interval_secs = 0",
            "environment NEXTPANEL_BILL_HEALTH_INTERVAL",
        ),
        ("order_due_days = 7", "default"),
    ] {
        let shown = text.lines().find(|l| l.starts_with(line));
        assert!(
            shown.is_some_and(|l| l.contains(&format!("# {source}"))),
            "{line} from {source}: {text}"
        );
    }
    let smtp = text.lines().find(|l| l.starts_with("smtp = ")).unwrap();
    assert!(smtp.contains("relay.example:2525"), "{smtp}");
    assert!(smtp.contains("password ********"), "{smtp}");
    assert!(smtp.contains("NEXTPANEL_BILL_SMTP__HOST"), "{smtp}");
    assert!(
        text.contains("#   smtp_password: file ")
            && text.contains("(from NEXTPANEL_BILL_SMTP_PASSWORD_FILE)"),
        "{text}"
    );
    assert!(text.contains("#   smtp_port: file "), "{text}");
    assert!(
        !text.contains("smtp-secret-from-file"),
        "secret shown: {text}"
    );

    // A misspelt variable and a value of the wrong type are refused, naming both.
    for (var, value, named) in [
        ("NEXTPANEL_BILL_SMTP_HOTS", "x", "smtp_hots"),
        ("NEXTPANEL_BILL_SMTP_PORT", "twenty-five", "smtp_port"),
        ("NEXTPANEL_BILL_ORDER_DUE_DAYS", "0", "order_due_days"),
        (
            "NEXTPANEL_BILL_SMTP_PASSWORD_FILE",
            "/nonexistent/secret",
            "smtp_password",
        ),
    ] {
        let out = bin().arg("config").env(var, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{var}={value} was taken");
        assert!(stderr.contains(named), "{var}: {stderr}");
    }
}

#[test]
fn bad_configuration_is_refused_with_the_setting_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bill.toml");
    std::fs::write(&file, "lisen = \"x\"\n").unwrap();
    let out = bin()
        .args(["config", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    let out = bin()
        .args(["config", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
    // A read replica is PostgreSQL only: refused next to SQLite, naming the setting and
    // never showing the URL's password.
    let out = bin()
        .args([
            "config",
            "--database",
            "sqlite://bill.db",
            "--database-replica",
            "postgres://bill:replica-secret@standby/bill",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database_replica_url"), "{err}");
    assert!(!err.contains("replica-secret"), "{err}");
}

/// Waits until `serve` on `port` answers.
async fn healthy(port: u16) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "server did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(port: u16) -> Option<String> {
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(
            &serde_json::json!({"email": "admin@example.com", "password": "backup-admin-password"}),
        )
        .send()
        .await
        .ok()?;
    let body: serde_json::Value = resp.json().await.ok()?;
    body["access_token"].as_str().map(str::to_owned)
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_to_a_working_service() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve_command(dir.path(), port)
        .env("NEXTPANEL_BILL_ADMIN_PASSWORD", "backup-admin-password")
        .spawn()
        .unwrap();
    let mut running = Running(child);
    healthy(port).await;
    let token = login(port).await.expect("admin logs in");
    let created = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/customers"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"email": "kept@example.com", "full_name": "Kept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    // A server, so the copy holds a sealed secret the key must open.
    let server = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/nextpanel/servers"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "node-1", "base_url": "http://127.0.0.1:9", "api_key": "key-1234567890",
            "api_secret": "secret-1234567890", "capacity": 10, "skip_test": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.status(),
        reqwest::StatusCode::CREATED,
        "{:?}",
        server.text().await
    );

    // Taken while serve runs: a consistent copy, and the key beside it, both 0600.
    let copy = dir.path().join("copy.db");
    let out = bin()
        .current_dir(dir.path())
        .args(["backup", "--to", copy.to_str().unwrap(), "--include-key"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("backup written") && said.contains("master key written"),
        "{said}"
    );
    let key = dir.path().join("copy.db.key");
    assert_eq!((mode(&copy), mode(&key)), (0o600, 0o600));
    let again = bin()
        .current_dir(dir.path())
        .args(["backup", "--to", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    let _ = running.0.kill();
    let _ = running.0.wait();

    // Restored elsewhere: checked first (a damaged file and a wrong key are refused).
    let other = tempfile::tempdir().unwrap();
    let target = other.path().join("restored.db");
    let database = format!("sqlite://{}", target.display());
    let garbage = other.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all").unwrap();
    let refused = bin()
        .args([
            "restore",
            "--from",
            garbage.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
            "--database",
            &database,
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(!target.exists(), "nothing put in place");
    let wrong_key = other.path().join("wrong.key");
    std::fs::write(&wrong_key, "11".repeat(32)).unwrap();
    let restored = bin()
        .args([
            "restore",
            "--from",
            copy.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
            "--database",
            &database,
        ])
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(mode(&target), 0o600);
    let twice = bin()
        .args([
            "restore",
            "--from",
            copy.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
            "--database",
            &database,
        ])
        .output()
        .unwrap();
    assert!(
        !twice.status.success(),
        "an existing database needs --force"
    );
    let wrong = bin()
        .args([
            "restore",
            "--from",
            copy.to_str().unwrap(),
            "--key-file",
            wrong_key.to_str().unwrap(),
            "--database",
            &database,
            "--force",
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("does not open"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let status = bin()
        .args(["migrate", "--status", "--database", &database])
        .env("NEXTPANEL_BILL_MASTER_KEY_FILE", key.to_str().unwrap())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        listed.contains("0 pending") && listed.contains("applied  0001"),
        "{listed}"
    );

    // The restored service works: the admin signs in and the customer is there.
    let port = free_port();
    let child = serve_command(other.path(), port)
        .args(["--database", &database])
        .env("NEXTPANEL_BILL_MASTER_KEY_FILE", key.to_str().unwrap())
        .spawn()
        .unwrap();
    let mut restored_serve = Running(child);
    healthy(port).await;
    let token = login(port).await.expect("the restored admin logs in");
    let list: serde_json::Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/customers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["email"], "kept@example.com", "{list}");
    let _ = restored_serve.0.kill();
    let _ = restored_serve.0.wait();
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bill.db").display());
    let migrate = |args: &[&str]| {
        bin()
            .args(["migrate", "--database", &database])
            .args(args)
            .env("NEXTPANEL_BILL_MASTER_KEY", "22".repeat(32))
            .output()
            .unwrap()
    };
    assert!(migrate(&[]).status.success());
    let db = billing::store::Db::connect(&database).await.unwrap();
    if let billing::store::Db::Sqlite(pool) = &db {
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', TRUE, x'00', 0)")
            .execute(pool)
            .await
            .unwrap();
    }
    db.close().await;
    let refused = migrate(&[]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        said.contains("migrated by a newer nextpanel-bill (migration 9999)"),
        "{said}"
    );
    let listed = String::from_utf8_lossy(&migrate(&["--status"]).stdout).into_owned();
    assert!(listed.contains("NEWER    9999"), "{listed}");
}

#[tokio::test]
async fn logs_to_a_file_carry_the_request_id_and_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve_command(dir.path(), port)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stderr = running.0.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    healthy(port).await;
    let resp = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/plans"))
        .header("x-request-id", "test-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "test-req-42");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = running.0.kill();
    let _ = running.0.wait();
    let log = lines.join().unwrap().join("\n");
    assert!(log.contains("request_id=test-req-42"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}

/// `check` passes on books that hold and names each violation, exiting 1, when they do not.
#[tokio::test]
async fn check_names_every_broken_invariant_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bill.db").display());
    let run = |args: &[&str]| {
        bin()
            .args(args)
            .args(["--database", &database])
            .env("NEXTPANEL_BILL_MASTER_KEY", "22".repeat(32))
            .output()
            .unwrap()
    };
    assert!(run(&["migrate"]).status.success());
    let clean = run(&["check"]);
    let said = String::from_utf8_lossy(&clean.stdout).into_owned();
    assert!(clean.status.success(), "{said}");
    assert!(said.contains("0 violation(s)"), "{said}");

    // A ledger entry whose balance row never moved: what a write outside the store did.
    let db = billing::store::Db::connect(&database).await.unwrap();
    if let billing::store::Db::Sqlite(pool) = &db {
        for sql in [
            "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at, updated_at) \
             VALUES ('ada@example.com', 'x', 'Ada', 'customer', TRUE, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            "INSERT INTO credit_entries (customer_id, currency, amount_minor, reason, created_by, created_at) \
             VALUES (1, 'USD', 700, 'by hand', 'test', '2026-01-01T00:00:00Z')",
        ] {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
    db.close().await;
    let broken = run(&["check"]);
    let said = String::from_utf8_lossy(&broken.stdout).into_owned();
    assert!(!broken.status.success(), "{said}");
    assert!(
        said.contains("VIOLATION  credit balance equals its ledger: customer 1 USD: no balance row, ledger sums to 700"),
        "{said}"
    );
}
