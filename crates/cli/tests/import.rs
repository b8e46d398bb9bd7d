//! `nextpanel-bill import seed` against an older-system database with that system's
//! schema and realistic oddities (float prices, upper-case enums, a key outside our
//! alphabet, a customer without licenses, a server whose panel is down), on the engine
//! the suite runs on: the dry run, the import, the second run, a resumed run, and the
//! old passwords signing in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::seed_db::{self, SeedEngine};
use common::{free_port, FreshPg, Running};
use nextpanel_sim::SimConfig;
use serde_json::Value;

const KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// Our database for the test: a file in a temporary directory or a fresh PostgreSQL database.
struct Target {
    url: String,
    _dir: tempfile::TempDir,
    _pg: Option<FreshPg>,
}

async fn target(engine: &SeedEngine) -> Target {
    let dir = tempfile::tempdir().unwrap();
    match engine {
        SeedEngine::Postgres => {
            let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL for PostgreSQL");
            let pg = FreshPg::create(&admin).await;
            Target {
                url: pg.url.clone(),
                _dir: dir,
                _pg: Some(pg),
            }
        }
        SeedEngine::Sqlite => Target {
            url: format!("sqlite://{}", dir.path().join("bill.db").display()),
            _dir: dir,
            _pg: None,
        },
    }
}

fn bin(dir: &std::path::Path, db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextpanel-bill"));
    for (var, _) in std::env::vars() {
        if var.starts_with("NEXTPANEL_BILL_") || var == "DATABASE_URL" {
            cmd.env_remove(var);
        }
    }
    cmd.current_dir(dir)
        .env("NEXTPANEL_BILL_DATABASE_URL", db)
        .env("NEXTPANEL_BILL_MASTER_KEY", KEY_HEX)
        .env("NEXTPANEL_BILL_ADMIN_PASSWORD", "our-admin-password-1")
        .env("RUST_LOG", "warn");
    cmd
}

fn import(dir: &std::path::Path, db: &str, from: &str, apply: bool) -> Value {
    let mut cmd = bin(dir, db);
    cmd.args(["--json", "import", "seed", "--from", from]);
    if apply {
        cmd.arg("--apply");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn table<'a>(report: &'a Value, entity: &str) -> &'a Value {
    report["report"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["entity"] == entity)
        .unwrap_or_else(|| panic!("no {entity} in {report}"))
}

fn notes(report: &Value, kind: &str) -> String {
    report["report"][kind].to_string()
}

async fn scalar(db: &str, sql: &str) -> String {
    if db.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db).await.unwrap();
        let v: String = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(db).await.unwrap();
        let v: String = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

async fn exec(db: &str, sql: &str) {
    if db.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(db).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// Row counts of our tables the import writes, as one comparable string.
async fn our_counts(db: &str) -> String {
    let mut out = Vec::new();
    for t in [
        "users",
        "plans",
        "servers",
        "licenses",
        "hosting_accounts",
        "imported_invoices",
        "imported_payments",
        "credit_entries",
        "import_map",
    ] {
        out.push(format!(
            "{t}={}",
            scalar(db, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM {t}")).await
        ));
    }
    out.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_older_systems_database_moves_over_once_and_completely() {
    let engine = seed_db::engine_from_env();
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap();
    let (seed, facts) = seed_db::build(engine, &sim).await;
    let ours = target(&seed.engine).await;
    let dir = tempfile::tempdir().unwrap();

    // The dry run says what it would do and writes nothing.
    let dry = import(dir.path(), &ours.url, &seed.url, false);
    assert_eq!(dry["report"]["applied"], false);
    let users = table(&dry, "users");
    assert_eq!(users["in_source"], facts.users);
    assert_eq!(users["created"], 4, "{dry}");
    assert_eq!(users["skipped"], 1, "{dry}");
    assert_eq!(table(&dry, "licenses")["created"], 3, "{dry}");
    assert_eq!(table(&dry, "accounts")["created"], 4, "{dry}");
    assert!(notes(&dry, "skipped").contains("not-an-email"), "{dry}");
    assert!(notes(&dry, "converted").contains("9.990000001"), "{dry}");
    assert!(dry["reconciliation"].as_array().unwrap().is_empty());
    assert_eq!(
        our_counts(&ours.url).await,
        "users=0 plans=0 servers=0 licenses=0 hosting_accounts=0 imported_invoices=0 \
         imported_payments=0 credit_entries=0 import_map=0",
        "the dry run wrote something"
    );

    // The import.
    let applied = import(dir.path(), &ours.url, &seed.url, true);
    assert_eq!(applied["report"]["applied"], true);
    for (entity, created) in [
        ("users", 4),
        ("plans", 3),
        ("servers", 2),
        ("licenses", 3),
        ("accounts", 4),
        ("invoices", 3),
        ("payments", 2),
    ] {
        let t = table(&applied, entity);
        assert_eq!(t["created"], created, "{entity}: {t}");
        assert_eq!(
            t["mapped_after"].as_i64().unwrap() + t["skipped"].as_i64().unwrap(),
            t["in_source"].as_i64().unwrap(),
            "{entity}: every old row is either imported or reported: {t}"
        );
    }
    assert_eq!(table(&applied, "licenses")["in_source"], facts.licenses);
    assert_eq!(table(&applied, "accounts")["in_source"], facts.accounts);
    // Money: the float price is rounded to cents and reported; the balance is credit.
    assert_eq!(
        scalar(
            &ours.url,
            "SELECT CAST(price_monthly AS TEXT) || '/' || CAST(price_annual AS TEXT) || '/' || currency FROM plans WHERE name = 'Basic'"
        )
        .await,
        "999/9990/USD"
    );
    assert_eq!(
        scalar(
            &ours.url,
            "SELECT CAST(max_domains AS TEXT) FROM plans WHERE name = 'Pro'"
        )
        .await,
        "-1",
        "an empty quota is unlimited"
    );
    assert_eq!(
        scalar(
            &ours.url,
            "SELECT CAST(SUM(amount_minor) AS TEXT) FROM credit_entries"
        )
        .await,
        "1250"
    );
    // Licenses keep their keys exactly, their status (either case) and whether they renew.
    let pro = scalar(
        &ours.url,
        &format!(
            "SELECT status || '/' || CASE WHEN auto_renew THEN 'renews' ELSE 'ends' END FROM licenses WHERE license_key = '{}'",
            facts.license_ada_pro_key
        ),
    )
    .await;
    assert_eq!(pro, "suspended/ends");
    assert_eq!(
        scalar(
            &ours.url,
            &format!(
                "SELECT status FROM licenses WHERE license_key = '{}'",
                facts.license_cy_pro_key
            )
        )
        .await,
        "expired"
    );
    assert!(notes(&applied, "converted").contains(facts.license_ada_pro_key));
    // Server credentials are sealed, never stored as they came.
    let sealed = scalar(
        &ours.url,
        "SELECT api_secret_sealed FROM servers WHERE name = 'old-node-1'",
    )
    .await;
    assert!(!sealed.contains(sim.api_secret()) && !sealed.is_empty());
    // Accounts: linked to server, license and panel id; the deleted one terminated.
    assert_eq!(
        scalar(
            &ours.url,
            "SELECT a.state || '/' || s.name || '/' || l.license_key FROM hosting_accounts a \
             JOIN servers s ON s.id = a.server_id JOIN licenses l ON l.id = a.license_id WHERE a.username = 'adablog'"
        )
        .await,
        format!("suspended/old-node-1/{}", facts.license_ada_basic_key)
    );
    assert_eq!(
        scalar(
            &ours.url,
            "SELECT state FROM hosting_accounts WHERE username = 'gone'"
        )
        .await,
        "terminated"
    );
    // History: the old numbers kept, amounts in cents.
    assert_eq!(
        scalar(
            &ours.url,
            "SELECT status || '/' || CAST(total_minor AS TEXT) FROM imported_invoices WHERE number = 'INV-2025-0002'"
        )
        .await,
        "open/1999"
    );
    // The check afterwards: the live panel compared, the dead one said so.
    let checks = applied["reconciliation"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{applied}");
    let live = checks
        .iter()
        .find(|c| c["server_name"] == "old-node-1")
        .unwrap();
    assert_eq!(live["missing"], 0, "{live}");
    assert_eq!(live["mismatches"], 0, "{live}");
    let down = checks
        .iter()
        .find(|c| c["server_name"] == "old-node-down")
        .unwrap();
    assert!(down["error"].is_string(), "{down}");

    // A second run changes nothing.
    let before = our_counts(&ours.url).await;
    let again = import(dir.path(), &ours.url, &seed.url, true);
    for t in again["report"]["tables"].as_array().unwrap() {
        assert_eq!(t["created"], 0, "{t}");
    }
    assert_eq!(table(&again, "users")["already"], 4);
    assert_eq!(our_counts(&ours.url).await, before);

    // A run stopped before the payments carries on: only they are written.
    exec(&ours.url, "DELETE FROM imported_payments").await;
    exec(
        &ours.url,
        "DELETE FROM import_map WHERE entity = 'payments'",
    )
    .await;
    let resumed = import(dir.path(), &ours.url, &seed.url, true);
    assert_eq!(table(&resumed, "payments")["created"], 2, "{resumed}");
    assert_eq!(table(&resumed, "licenses")["created"], 0, "{resumed}");
    assert_eq!(our_counts(&ours.url).await, before);

    // Customers sign in with their old passwords, and the hash becomes Argon2id.
    let port = free_port();
    let _serve = Running(
        bin(dir.path(), &ours.url)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("NEXTPANEL_BILL_HEALTH_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = |email: &'static str, password: &'static str| {
        let http = http.clone();
        let url = format!("{base}/api/v1/auth/login");
        async move {
            http.post(url)
                .json(&serde_json::json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(login(seed_db::ADA_EMAIL, "wrong-password-1").await, 401);
    assert_eq!(login(seed_db::ADA_EMAIL, facts.ada_password).await, 200);
    assert_eq!(login(seed_db::ADA_EMAIL, facts.ada_password).await, 200);
    assert_eq!(login(seed_db::ADMIN_EMAIL, facts.admin_password).await, 200);
    // Bob was inactive there and stays so here.
    assert_eq!(login(seed_db::BOB_EMAIL, facts.bob_password).await, 403);
    let hash = scalar(
        &ours.url,
        &format!(
            "SELECT password_hash FROM users WHERE email = '{}'",
            seed_db::ADA_EMAIL
        ),
    )
    .await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    // Ada finds her old invoices and payments, under their old numbers.
    let token: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": seed_db::ADA_EMAIL, "password": facts.ada_password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let history: Value = http
        .get(format!("{base}/api/v1/me/imported-history"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let numbers: Vec<&str> = history["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["number"].as_str())
        .collect();
    assert_eq!(numbers.len(), 2, "{history}");
    assert!(numbers.contains(&"INV-2025-0001") && numbers.contains(&"INV-2025-0002"));
    assert_eq!(history["payments"][0]["amount"], 999, "{history}");
    assert_eq!(history["payments"][0]["reference"], "pi_old_1", "{history}");
}
