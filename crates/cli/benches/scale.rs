//! A large host: `BENCH_SCALE_SERVICES` (default 1,000,000 on PostgreSQL, a tenth of it
//! on SQLite) licenses and hosting accounts, a tenth as many customers, 1,000 servers,
//! twice as many invoices and five times as many audit entries, seeded with set-based
//! SQL (the seeding time is printed apart). Then, against the release server:
//!
//! 1. the billing run with nothing due, and with `BENCH_SCALE_DUE` (default 100,000; a
//!    tenth on SQLite) renewals due, in one run that commits invoice by invoice;
//! 2. every admin list at page 1 and at its last page, by page number and again by
//!    `?after=` cursor, with a filter or search where the list has one, and the
//!    dashboard's counts (p50 and p99 of 20 calls each);
//! 3. resident memory of `serve` and the database size per 1,000 services.
//!
//! Each figure is printed beside its target from issue 15.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use serde_json::json;

mod common;

use common::{env_u64, on_each_engine, start_server, Api};

/// Set-based SQL for one engine.
struct Sql {
    postgres: bool,
}

impl Sql {
    /// `SELECT <cols> FROM <1..=n as i>`: generate_series, or a recursive CTE on SQLite.
    fn series(&self, n: u64, insert: &str, select: &str) -> String {
        if self.postgres {
            format!("{insert} SELECT {select} FROM generate_series(1, {n}) AS s(i)")
        } else {
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
                 {insert} SELECT {select} FROM s"
            )
        }
    }

    /// A time `days` from now (may be negative), stored as the engine stores times.
    fn days(&self, days: &str) -> String {
        if self.postgres {
            format!("(now() + ({days}) * interval '1 day')")
        } else {
            format!("strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now', ({days}) || ' days')")
        }
    }
}

async fn exec(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn scalar(url: &str, sql: &str) -> i64 {
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// p50 and p99 in milliseconds of `n` sequential GETs of `path`.
async fn latency(api: &Api, path: &str, n: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        api.get(path).await;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Prints a figure as soon as it is measured (a long run shows its progress) and keeps it.
fn add(rows: &mut Vec<Row>, row: Row) {
    println!("  {}: {} (target {})", row.what, row.figure, row.target);
    rows.push(row);
}

struct Row {
    what: String,
    figure: String,
    target: String,
    ok: bool,
}

#[tokio::main]
async fn main() {
    on_each_engine("bench_scale", |engine, dir, url| async move {
        let postgres = engine == "PostgreSQL";
        let divisor = if postgres { 1 } else { 10 };
        let services = env_u64("BENCH_SCALE_SERVICES", 1_000_000) / divisor;
        let due = env_u64("BENCH_SCALE_DUE", 100_000) / divisor;
        let customers = (services / 10).max(1);
        let servers = 1_000 / divisor;
        let sql = Sql { postgres };
        let args = ["--billing-interval", "0", "--health-interval", "0", "--usage-poll-interval", "0", "--reconcile-interval", "0"];
        let mut server = start_server(&dir, &url, &args).await;
        let mut pid = server.child.id();
        let mut api = Api::login(&server.base, 4).await;
        let (status, plan) = api
            .post(
                "/api/v1/plans",
                json!({"name": "Scale", "currency": "USD", "prices": {"monthly": 999, "annual": 9990},
                       "quotas": {"max_accounts": 1, "max_domains": 5, "max_databases": 5, "max_emails": 10, "storage_mb": 10240, "bandwidth_mb": -1},
                       "account_type": "panel", "package_id": 1}),
            )
            .await;
        assert!(status.is_success(), "{plan}");
        let plan = plan["id"].as_i64().unwrap();
        let idle_rss = rss_mb(pid);

        println!("\n{engine}: seeding {services} services, {customers} customers, {servers} servers, {} invoices, {} audit entries", services * 2, services * 5);
        let seeding = Instant::now();
        let now = sql.days("0");
        let base_user = scalar(&url, "SELECT COALESCE(MAX(id), 0) FROM users").await;
        exec(&url, &sql.series(customers, "INSERT INTO users (email, role, full_name, is_active, created_at, updated_at)",
            &format!("'c' || i || '@bench.example', 'customer', 'Customer ' || i, TRUE, {now}, {now}"))).await;
        exec(&url, &sql.series(servers, "INSERT INTO servers (name, base_url, api_key_sealed, api_secret_sealed, api_key_hint, capacity, created_at, updated_at)",
            &format!("'node-' || i, 'http://127.0.0.1:9', 'x', 'x', 'np_…', 2000, {now}, {now}"))).await;
        let expires = sql.days("20 + (i % 30)");
        let activated = sql.days("-10");
        exec(&url, &sql.series(services, "INSERT INTO licenses (license_key, customer_id, plan_id, billing_cycle, status, max_accounts, max_domains, max_databases, max_emails, storage_mb, bandwidth_mb, activated_at, expires_at, created_at, updated_at)",
            &format!("'NP-B' || i, {base_user} + 1 + (i % {customers}), {plan}, 'monthly', 'active', 1, 5, 5, 10, 10240, -1, {activated}, {expires}, {now}, {now}"))).await;
        let first_license = scalar(&url, "SELECT MIN(id) FROM licenses").await;
        let first_server = scalar(&url, "SELECT MIN(id) FROM servers").await;
        exec(&url, &sql.series(services, "INSERT INTO hosting_accounts (customer_id, license_id, server_id, username, panel_account_id, account_type, state, created_at, updated_at, idempotency_key)",
            &format!("{base_user} + 1 + (i % {customers}), {first_license} + i - 1, {first_server} + (i % {servers}), 'u' || i, '' || i, 'panel', 'active', {now}, {now}, 'bench-' || i"))).await;
        exec(&url, &sql.series(services * 2, "INSERT INTO invoices (customer_id, kind, status, plan_id, billing_cycle, currency, total_minor, subtotal_minor, due_at, created_at, updated_at, number, license_id)",
            &format!("{base_user} + 1 + (i % {customers}), 'order', 'paid', {plan}, 'monthly', 'USD', 999, 999, {now}, {now}, {now}, 'BENCH-' || i, {first_license} + (i % {services})"))).await;
        exec(&url, &sql.series(services * 5, "INSERT INTO audit_log (actor_kind, actor_label, action, entity_type, entity_id, created_at)",
            &format!("'system', 'bench', 'license.updated', 'license', {first_license} + (i % {services}), {now}"))).await;
        exec(&url, "ANALYZE").await;
        let seeded = seeding.elapsed();
        println!("{engine}: seeded in {:.1} s", seeded.as_secs_f64());

        let mut rows: Vec<Row> = Vec::new();
        let quiet = |s: &str| s.to_owned();

        // `BENCH_SCALE_PARTS=billing,lists,reports` measures only those (all by default).
        let parts = std::env::var("BENCH_SCALE_PARTS").unwrap_or_default();
        let part = |name: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == name);

        // 1. The billing run.
        if part("billing") {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            let (status, report) = api.post("/api/v1/billing/run", json!({})).await;
            assert!(status.is_success(), "{report}");
            assert_eq!(report["renewal_invoices"], 0, "{report}");
            runs.push(start.elapsed().as_secs_f64());
        }
        runs.sort_by(f64::total_cmp);
        add(&mut rows, Row { what: format!("billing run, nothing due ({services} licenses)"), figure: format!("{:.3} s", runs[1]), target: quiet("< 2 s"), ok: runs[1] < 2.0 });
        exec(&url, &format!("UPDATE licenses SET expires_at = {} WHERE id < {first_license} + {due}", sql.days("7"))).await;
        let start = Instant::now();
        let (status, report) = api.post("/api/v1/billing/run", json!({})).await;
        let took = start.elapsed().as_secs_f64();
        assert!(status.is_success(), "{report}");
        assert_eq!(report["renewal_invoices"].as_u64(), Some(due), "{report}");
        add(&mut rows, Row { what: format!("billing run, {due} renewals due (one run)"), figure: format!("{took:.1} s ({:.0}/s)", due as f64 / took), target: quiet("< 60 s"), ok: took < 60.0 });

        // Resumable: more renewals due, the server killed (SIGKILL) a third of the way
        // through the run, restarted, and the run started again.
        let kill_set = (due / 2).max(1) as i64;
        let done_before = due as i64;
        exec(&url, &format!("UPDATE licenses SET expires_at = {} WHERE id >= {first_license} + {due} AND id < {first_license} + {due} + {kill_set}", sql.days("7"))).await;
        let renewals = "SELECT COUNT(*) FROM invoices WHERE kind = 'renewal'";
        let request = {
            let api = api.clone();
            tokio::spawn(async move {
                // Cut off by the kill: no answer is expected.
                let _ = api.client.post(format!("{}/api/v1/billing/run", api.base)).bearer_auth(&api.token).json(&json!({})).send().await;
            })
        };
        let waiting = Instant::now();
        while scalar(&url, renewals).await < done_before + kill_set / 3 {
            assert!(waiting.elapsed().as_secs() < 600, "the run did not get a third of the way in 10 minutes");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let _ = request.await;
        let at_kill = scalar(&url, renewals).await - done_before;
        drop(server);
        server = start_server(&dir, &url, &args).await;
        pid = server.child.id();
        api = Api::login(&server.base, 4).await;
        let restart = Instant::now();
        let (status, report) = api.post("/api/v1/billing/run", json!({})).await;
        let resumed = restart.elapsed().as_secs_f64();
        assert!(status.is_success(), "{report}");
        let total = scalar(&url, renewals).await - done_before;
        let twice = scalar(&url, "SELECT COUNT(*) FROM (SELECT license_id FROM invoices WHERE kind = 'renewal' GROUP BY license_id, period_start HAVING COUNT(*) > 1) d").await;
        // Every invoice numbered from the sequence (the seeded ones are not) holds one of
        // its numbers, and it gave out no other: no gap.
        let numbered = scalar(&url, "SELECT COUNT(*) FROM invoices WHERE number NOT LIKE 'BENCH-%'").await;
        let given = scalar(&url, "SELECT CAST(COALESCE(SUM(last_value), 0) AS BIGINT) FROM document_sequences WHERE kind = 'invoice'").await;
        let ok = total == kill_set && report["renewal_invoices"].as_i64() == Some(kill_set - at_kill) && twice == 0 && numbered == given;
        add(&mut rows, Row {
            what: format!("billing run killed at {at_kill} of {kill_set} renewals, restarted"),
            figure: format!("rest in {resumed:.1} s; {total} issued, {twice} twice, {} number gaps", given - numbered),
            target: quiet("each once"),
            ok,
        });
        }

        // 2. Lists at page 1 and at the last page, and the dashboard's counts.
        if part("lists") {
        // Each list with the SQL that counts its rows: past 10,000 a list stops counting
        // (`total` null), and the last page is found from the count.
        for (what, path, counted) in [
            ("accounts", "/api/v1/nextpanel/accounts", "SELECT COUNT(*) FROM hosting_accounts"),
            ("accounts by state", "/api/v1/nextpanel/accounts?state=active", "SELECT COUNT(*) FROM hosting_accounts WHERE state = 'active'"),
            ("customers", "/api/v1/customers", "SELECT COUNT(*) FROM users WHERE role = 'customer' AND is_active = TRUE"),
            ("customers, search", "/api/v1/customers?search=customer%2042", ""),
            ("invoices", "/api/v1/invoices", "SELECT COUNT(*) FROM invoices"),
            ("invoices by status", "/api/v1/invoices?status=paid", "SELECT COUNT(*) FROM invoices WHERE status = 'paid'"),
            ("licenses", "/api/v1/licenses", "SELECT COUNT(*) FROM licenses"),
            ("jobs", "/api/v1/jobs", "SELECT COUNT(*) FROM jobs"),
            ("emails", "/api/v1/emails", "SELECT COUNT(*) FROM email_outbox"),
            ("audit log", "/api/v1/audit-log", "SELECT COUNT(*) FROM audit_log"),
        ] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let first = api.get(&format!("{path}{sep}per_page=50")).await;
            let total = match first["total"].as_i64() {
                Some(total) => total,
                None => scalar(&url, counted).await,
            };
            let last = (total / 50).max(1);
            let (p50, p99) = latency(&api, &format!("{path}{sep}per_page=50&page=1"), 20).await;
            add(&mut rows, Row { what: format!("{what}, page 1 of {last}"), figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms"), target: quiet("p99 < 50 ms"), ok: p99 < 50.0 });
            // Deep pages by number walk past every row before them (OFFSET); the target
            // holds deep pages by cursor, measured next. Shown for comparison.
            let (p50, p99) = latency(&api, &format!("{path}{sep}per_page=50&page={last}"), 20).await;
            add(&mut rows, Row { what: format!("{what}, page {last}"), figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms"), target: quiet("(by number)"), ok: true });
            // The same last page by cursor: the items below its first one.
            let deep = api.get(&format!("{path}{sep}per_page=50&page={last}")).await;
            if let Some(first_id) = deep["items"][0]["id"].as_i64() {
                let (p50, p99) = latency(&api, &format!("{path}{sep}per_page=50&after={}", first_id + 1), 20).await;
                add(&mut rows, Row { what: format!("{what}, page {last} by ?after="), figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms"), target: quiet("p99 < 50 ms"), ok: p99 < 50.0 });
            }
        }
        }
        if part("reports") {
        for (what, path) in [
            ("dashboard: accounts by type", "/api/v1/nextpanel/accounts/counts/by-role"),
            ("dashboard: services report", "/api/v1/reports/services?months=12"),
            ("dashboard: MRR report", "/api/v1/reports/mrr?months=12"),
            ("dashboard: overdue", "/api/v1/reports/overdue"),
        ] {
            let (p50, p99) = latency(&api, path, 10).await;
            add(&mut rows, Row { what: what.to_owned(), figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms"), target: quiet("< 100 ms"), ok: p99 < 100.0 });
        }
        }

        // 3. Memory and size.
        let busy_rss = rss_mb(pid);
        add(&mut rows, Row { what: "serve resident memory: idle after start".into(), figure: format!("{idle_rss:.1} MB"), target: quiet("< 40 MB"), ok: idle_rss < 40.0 });
        add(&mut rows, Row { what: "serve resident memory: after the runs and lists".into(), figure: format!("{busy_rss:.1} MB"), target: quiet("< 120 MB"), ok: busy_rss < 120.0 });
        let bytes = if postgres {
            scalar(&url, "SELECT pg_database_size(current_database())").await
        } else {
            let path = url.trim_start_matches("sqlite://");
            std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0)
                + std::fs::metadata(format!("{path}-wal")).map(|m| m.len() as i64).unwrap_or(0)
        };
        add(&mut rows, Row { what: "database size per 1,000 services".into(), figure: format!("{:.2} MB", bytes as f64 / 1_048_576.0 / (services as f64 / 1000.0)), target: quiet("(reported)"), ok: true });

        println!("\n{engine}, {services} services (seeding took {:.1} s, not counted):", seeded.as_secs_f64());
        println!("{:<52} {:>30}  target", "measure", "figure");
        for r in &rows {
            println!("{:<52} {:>30}  {:<14} {}", r.what, r.figure, r.target, if r.ok { "ok" } else { "MISSED" });
        }
        drop(server);
    })
    .await;
}
