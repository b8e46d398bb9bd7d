//! The `nextpanel-bill` binary itself: first start, restart, configuration output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{free_port, Running};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"));
    for var in [
        "DATABASE_URL",
        "NEXTPANEL_BILL_ADMIN_PASSWORD",
        "NEXTPANEL_BILL_ADMIN_EMAIL",
        "NEXTPANEL_BILL_LISTEN",
        "NEXTPANEL_BILL_DATABASE_URL",
        "NEXTPANEL_BILL_CONFIG",
        "NEXTPANEL_BILL_MASTER_KEY",
        "NEXTPANEL_BILL_MASTER_KEY_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Starts `serve` in `dir` and returns the process and what it printed on stdout before it was healthy.
async fn serve(dir: &std::path::Path, port: u16) -> (Running, Vec<String>) {
    let mut child = bin()
        .current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let running = Running(child);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "server did not become healthy");
        if client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut running = running;
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
        !text.contains("db-secret")
            && !text.contains("super-secret-password")
            && !text.contains("very_secret"),
        "secrets leaked: {text}"
    );
    assert!(text.contains("stripe_secret_key = \"********\""), "{text}");
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
}
