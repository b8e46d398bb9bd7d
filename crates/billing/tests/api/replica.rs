//! Admin lists and reports read from a PostgreSQL streaming replica: the test starts its
//! own primary and hot standby (the shared server on :5432 is never reconfigured), runs
//! the app on both, and proves which server answers by pausing replay on the standby.
//! Skipped unless `NPB_TEST_ENGINE=postgres` and the PostgreSQL 15 binaries are present.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::helpers::{engine, test_settings, Engine, FreshDb, TestApp};

/// Where Debian puts PostgreSQL 15; `NPB_PG_BIN` points elsewhere.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A primary and its hot standby in a temp dir; dropping it stops both (even when the
/// test fails half-way) and removes the dir.
struct Cluster {
    bin: PathBuf,
    /// `runuser -u postgres --` when running as root (PostgreSQL refuses root).
    as_user: Option<String>,
    dir: tempfile::TempDir,
    primary_port: u16,
    standby_port: u16,
}

impl Cluster {
    fn data(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// A PostgreSQL binary, run as the right user.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut command = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        command.current_dir(self.dir.path());
        command
    }

    /// Runs a PostgreSQL binary; panics with its output unless it works.
    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self, name: &str) {
        let data = self.data(name);
        let log = self.dir.path().join(format!("{name}.log"));
        self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
    }

    fn stop(&self, name: &str, mode: &str) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(name).to_string_lossy(),
                "-m",
                mode,
                "-w",
                "-t",
                "20",
                "stop",
            ],
        );
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        file.write_all(text.as_bytes()).unwrap();
    }

    /// Sets up and starts both servers, or says why it cannot (the test is skipped then).
    fn start_both() -> Result<Cluster, String> {
        let bin = std::env::var("NPB_PG_BIN").map_or_else(|_| PathBuf::from(PG_BIN), Into::into);
        for tool in ["initdb", "pg_ctl", "pg_basebackup", "postgres"] {
            if !bin.join(tool).exists() {
                return Err(format!("{} not found", bin.join(tool).display()));
            }
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = std::fs::metadata("/proc/self").map_or(1, |m| m.uid()) == 0;
        let as_user = if root {
            let ids = |flag: &str| -> Option<u32> {
                let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            };
            let (Some(uid), Some(gid)) = (ids("-u"), ids("-g")) else {
                return Err("running as root and there is no postgres user".to_owned());
            };
            if Command::new("runuser").arg("--help").output().is_err() {
                return Err("running as root and runuser is missing".to_owned());
            }
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| e.to_string())?;
            Some("postgres".to_owned())
        } else {
            None
        };
        let cluster = Cluster {
            bin,
            as_user,
            dir,
            primary_port: free_port(),
            standby_port: free_port(),
        };
        let primary = cluster.data("primary");
        cluster.run(
            "initdb",
            &[
                "-D",
                &primary.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let sockets = cluster.dir.path().to_string_lossy().into_owned();
        Self::append(
            &primary.join("postgresql.conf"),
            &format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{sockets}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n",
                cluster.primary_port
            ),
        );
        Self::append(
            &primary.join("pg_hba.conf"),
            "\nhost replication all 127.0.0.1/32 trust\n",
        );
        cluster.start("primary");
        let standby = cluster.data("standby");
        cluster.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.primary_port.to_string(),
                "-U",
                "postgres",
                "-D",
                &standby.to_string_lossy(),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        // The copied postgresql.conf names the primary's port; the later line wins.
        Self::append(
            &standby.join("postgresql.conf"),
            &format!("\nport = {}\n", cluster.standby_port),
        );
        cluster.start("standby");
        Ok(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for name in ["standby", "primary"] {
            let data = self.data(name);
            let pid_file = data.join("postmaster.pid");
            if !pid_file.exists() {
                continue;
            }
            let stopped = self
                .command("pg_ctl")
                .args(["-D", &data.to_string_lossy()])
                .args(["-m", "immediate", "-w", "-t", "10", "stop"])
                .output()
                .is_ok_and(|o| o.status.success());
            // pg_ctl could not stop it: kill the postmaster named in its pid file.
            if !stopped {
                if let Some(pid) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|t| t.lines().next().map(str::to_owned))
                {
                    let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
                }
            }
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn pool(port: u16) -> PgPool {
    let options = PgConnectOptions::from_str(&Cluster::url(port)).unwrap();
    PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap()
}

/// Waits until the standby has replayed everything the primary has written so far.
async fn caught_up(primary: &PgPool, standby: &PgPool) {
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(primary)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let done: Option<bool> =
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                .bind(&lsn)
                .fetch_one(standby)
                .await
                .unwrap();
        if done == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "the standby did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn customers_named(pool: &PgPool, email: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn emails(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter_map(|c| c["email"].as_str().map(str::to_owned))
        .collect()
}

/// Every endpoint routed to the replica: none may write (the standby would refuse).
const ROUTED: &[&str] = &[
    "/api/v1/customers",
    "/api/v1/licenses",
    "/api/v1/invoices",
    "/api/v1/credit-notes",
    "/api/v1/disputes",
    "/api/v1/jobs",
    "/api/v1/emails",
    "/api/v1/audit-log",
    "/api/v1/users",
    "/api/v1/nextpanel/accounts",
    "/api/v1/nextpanel/accounts/counts/by-role",
    "/api/v1/nextpanel/reconciliations",
    "/api/v1/reports/mrr",
    "/api/v1/reports/revenue",
    "/api/v1/reports/services",
    "/api/v1/reports/overdue",
    "/api/v1/reports/utilisation",
];

#[tokio::test]
async fn lists_and_reports_read_from_the_replica_and_fall_back_to_the_primary() {
    if engine() != Engine::Postgres {
        eprintln!("skipped: the read replica test needs NPB_TEST_ENGINE=postgres");
        return;
    }
    let cluster = match Cluster::start_both() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped: the read replica test cannot start PostgreSQL: {why}");
            return;
        }
    };
    let primary = pool(cluster.primary_port).await;
    let standby = pool(cluster.standby_port).await;
    let settings = test_settings(Layer {
        database_url: Some(Cluster::url(cluster.primary_port)),
        database_replica_url: Some(Cluster::url(cluster.standby_port)),
        ..Layer::default()
    });
    let db = billing::app::connect(&settings).await.unwrap();
    assert!(db.replica().is_some());
    let app = TestApp::start(FreshDb::existing(db), settings).await;
    let admin = app.admin_token().await;

    // Written through the API, so on the primary; once replayed, listed from the standby.
    app.customer(&admin, "first@example.com").await;
    assert_eq!(customers_named(&primary, "first@example.com").await, 1);
    caught_up(&primary, &standby).await;
    let (status, list) = app.get("/api/v1/customers", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(emails(&list).contains(&"first@example.com".to_owned()));

    // Replay paused: what the primary writes now is not on the standby.
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&standby)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state: String = sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()")
            .fetch_one(&standby)
            .await
            .unwrap();
        if state == "paused" {
            break;
        }
        assert!(Instant::now() < deadline, "replay did not pause");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (second, _) = app.customer(&admin, "second@example.com").await;
    assert_eq!(customers_named(&primary, "second@example.com").await, 1);
    assert_eq!(customers_named(&standby, "second@example.com").await, 0);
    // The list comes from the standby, so it lacks the new customer...
    let (status, list) = app.get("/api/v1/customers", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = emails(&list);
    assert!(listed.contains(&"first@example.com".to_owned()), "{list}");
    assert!(!listed.contains(&"second@example.com".to_owned()), "{list}");
    // ...while a read that is not routed (one customer) comes from the primary.
    let (status, one) = app
        .get(&format!("/api/v1/customers/{second}"), Some(&admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["email"], "second@example.com");
    // Every routed endpoint works on the read-only standby.
    for path in ROUTED {
        let (status, body) = app.get(path, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, ready) = app.get("/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["replica"]["state"], "streaming", "{ready}");
    assert_eq!(ready["replica"]["replay_paused"], true, "{ready}");

    // Replay resumed: the list catches up.
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&standby)
        .await
        .unwrap();
    caught_up(&primary, &standby).await;
    let (_, list) = app.get("/api/v1/customers", Some(&admin)).await;
    assert!(
        emails(&list).contains(&"second@example.com".to_owned()),
        "{list}"
    );

    // The standby down: lists fall back to the primary, and the instance stays ready.
    standby.close().await;
    cluster.stop("standby", "fast");
    let (status, list) = app.get("/api/v1/customers", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        emails(&list).contains(&"second@example.com".to_owned()),
        "{list}"
    );
    app.customer(&admin, "third@example.com").await;
    let (status, list) = app.get("/api/v1/customers", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        emails(&list).contains(&"third@example.com".to_owned()),
        "{list}"
    );
    let (status, report) = app.get("/api/v1/reports/mrr", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let (status, ready) = app.get("/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "healthy", "{ready}");
    assert_eq!(ready["replica"]["state"], "unreachable", "{ready}");

    app.stop().await;
    primary.close().await;
    drop(cluster);
}
