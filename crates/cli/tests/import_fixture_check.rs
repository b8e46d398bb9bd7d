//! The old system's database fixture (`common::seed_db`) builds on the engine chosen by
//! `NPB_TEST_ENGINE` (`sqlite` by default, `postgres` with `DATABASE_URL`), and holds
//! what its `SeedFacts` say.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::seed_db::{self, SeedEngine};
use nextpanel_sim::SimConfig;
use serde_json::Value;

const TABLES: [&str; 9] = [
    "users",
    "plans",
    "licenses",
    "subscriptions",
    "orders",
    "payments",
    "invoices",
    "nextpanel_servers",
    "nextpanel_accounts",
];

#[tokio::test]
async fn the_seed_fixture_builds_and_holds_its_facts() {
    let engine = seed_db::engine_from_env();
    let sim = nextpanel_sim::spawn(SimConfig::random().unwrap())
        .await
        .unwrap();
    let (db, facts) = seed_db::build(engine, &sim).await;

    let expected = [
        facts.users,
        facts.plans,
        facts.licenses,
        facts.subscriptions,
        facts.orders,
        facts.payments,
        facts.invoices,
        facts.servers,
        facts.accounts,
    ];
    let key_q = "SELECT license_key FROM licenses WHERE id = ";
    let (counts, ada_hash, status, key, price, panel_ids) = match engine {
        SeedEngine::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            assert!(std::path::Path::new(path).exists(), "{path}");
            let pool = sqlx::SqlitePool::connect(&format!("{}?mode=ro", db.url))
                .await
                .unwrap();
            let mut counts = Vec::new();
            for table in TABLES {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                counts.push(n);
            }
            let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = ?")
                .bind(facts.ada_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let status: String = sqlx::query_scalar("SELECT status FROM licenses WHERE id = ?")
                .bind(facts.license_ada_pro_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let key: String = sqlx::query_scalar(&format!("{key_q}?"))
                .bind(facts.license_ada_pro_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let price: f64 = sqlx::query_scalar("SELECT price_monthly FROM plans WHERE id = ?")
                .bind(facts.plan_basic_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT nextpanel_user_id FROM nextpanel_accounts WHERE id IN (1, 2) ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let created: String = sqlx::query_scalar("SELECT created_at FROM users WHERE id = ?")
                .bind(facts.ada_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(created, "2024-03-10 14:30:12.000000", "SQLAlchemy's format");
            pool.close().await;
            (counts, hash, status, key, price, ids)
        }
        SeedEngine::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let mut counts = Vec::new();
            for table in TABLES {
                let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                counts.push(n);
            }
            let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(facts.ada_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let status: String =
                sqlx::query_scalar("SELECT status::text FROM licenses WHERE id = $1")
                    .bind(facts.license_ada_pro_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let key: String = sqlx::query_scalar(&format!("{key_q}$1"))
                .bind(facts.license_ada_pro_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let price: f64 = sqlx::query_scalar("SELECT price_monthly FROM plans WHERE id = $1")
                .bind(facts.plan_basic_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let ids: Vec<i32> = sqlx::query_scalar(
                "SELECT nextpanel_user_id FROM nextpanel_accounts WHERE id IN (1, 2) ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let (float_type, enum_type): (String, String) = sqlx::query_as(
                "SELECT \
                   (SELECT data_type FROM information_schema.columns \
                     WHERE table_name = 'plans' AND column_name = 'price_monthly'), \
                   (SELECT udt_name FROM information_schema.columns \
                     WHERE table_name = 'licenses' AND column_name = 'status')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(float_type, "double precision");
            assert_eq!(enum_type, "licensestatus");
            pool.close().await;
            (
                counts,
                hash,
                status,
                key,
                price,
                ids.into_iter().map(i64::from).collect(),
            )
        }
    };

    assert_eq!(counts, expected, "rows per table: {TABLES:?}");
    assert!(ada_hash.starts_with("$2b$04$"), "{ada_hash}");
    assert!(bcrypt::verify(facts.ada_password, &ada_hash).unwrap());
    let want_status = match engine {
        SeedEngine::Sqlite => "suspended",
        SeedEngine::Postgres => "SUSPENDED",
    };
    assert_eq!(status, want_status);
    assert_eq!(key, facts.license_ada_pro_key);
    assert_eq!(key, "NP-0OI1-WXYZ-2345-6789");
    assert_eq!(price, 9.990000001);
    assert_eq!(panel_ids, [facts.adahost_panel_id, facts.adablog_panel_id]);

    // The two accounts really are on the panel, adablog suspended; the down server is down.
    let panel = sim.state();
    let accounts = panel["accounts"]
        .as_array()
        .expect("sim state has accounts");
    let find = |name: &str| {
        accounts
            .iter()
            .find(|a| a["username"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(find("adahost")["id"].as_i64(), Some(facts.adahost_panel_id));
    assert_eq!(find("adablog")["status"], "suspended");
    assert!(
        reqwest::get(format!("{}/api/health", facts.down_server_url))
            .await
            .is_err(),
        "nothing listens at {}",
        facts.down_server_url
    );
}
