//! Both engines' migrations must produce the same tables, columns and indexes.

use std::collections::BTreeSet;

use billing::store::Db;

use crate::helpers::{postgres_url, Engine, FreshDb};

async fn columns(db: &Db) -> BTreeSet<(String, String)> {
    db.migrate().await.unwrap();
    let rows: Vec<(String, String)> = match db {
        Db::Sqlite(pool) => sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool, _) => sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    rows.into_iter().collect()
}

/// The indexes created by the migrations (not those behind a primary key or a UNIQUE
/// constraint, which each engine names its own way): table, name and columns in order.
async fn indexes(db: &Db) -> BTreeSet<(String, String, String)> {
    db.migrate().await.unwrap();
    let rows: Vec<(String, String, String)> = match db {
        Db::Sqlite(pool) => sqlx::query_as(
            "SELECT m.tbl_name, m.name, (SELECT group_concat(name, ',') FROM \
             (SELECT i.name FROM pragma_index_info(m.name) i ORDER BY i.seqno)) \
             FROM sqlite_master m WHERE m.type = 'index' AND m.sql IS NOT NULL",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool, _) => sqlx::query_as(
            "SELECT t.relname::text, i.relname::text, \
             string_agg(a.attname::text, ',' ORDER BY k.ord) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE n.nspname = current_schema() \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
             GROUP BY t.relname, i.relname",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    rows.into_iter().collect()
}

#[tokio::test]
async fn sqlite_and_postgres_indexes_match() {
    let sqlite = FreshDb::new(Engine::Sqlite).await;
    let sqlite_indexes = indexes(&sqlite.db).await;
    assert!(sqlite_indexes.contains(&(
        "invoices".into(),
        "invoices_status_list_idx".into(),
        "status,id".into()
    )));
    let Some(_) = postgres_url() else {
        assert_ne!(
            crate::helpers::engine(),
            Engine::Postgres,
            "the postgres pass needs DATABASE_URL"
        );
        eprintln!("DATABASE_URL is not PostgreSQL: index comparison runs in the PostgreSQL pass");
        return;
    };
    let postgres = FreshDb::new(Engine::Postgres).await;
    let postgres_indexes = indexes(&postgres.db).await;
    let only_sqlite: Vec<_> = sqlite_indexes.difference(&postgres_indexes).collect();
    let only_postgres: Vec<_> = postgres_indexes.difference(&sqlite_indexes).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
    // PostgreSQL's alone, on expressions (so not in the comparison above), and made by a
    // migration that goes on without it where pg_trgm is missing: here it must exist.
    if let Db::Postgres(pool, _) = &postgres.db {
        let search: Option<String> = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'users_search_idx'",
        )
        .fetch_optional(pool)
        .await
        .unwrap();
        let search = search.expect("the customer search index (migration 0027)");
        assert!(search.contains("gin_trgm_ops"), "{search}");
    }
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let sqlite = FreshDb::new(Engine::Sqlite).await;
    let sqlite_columns = columns(&sqlite.db).await;
    assert!(sqlite_columns.contains(&("licenses".into(), "license_key".into())));
    let Some(_) = postgres_url() else {
        // The SQLite pass has no PostgreSQL; the PostgreSQL pass (NPB_TEST_ENGINE=postgres) must.
        assert_ne!(
            crate::helpers::engine(),
            Engine::Postgres,
            "the postgres pass needs DATABASE_URL"
        );
        eprintln!("DATABASE_URL is not PostgreSQL: schema comparison runs in the PostgreSQL pass");
        return;
    };
    let postgres = FreshDb::new(Engine::Postgres).await;
    let postgres_columns = columns(&postgres.db).await;
    let only_sqlite: Vec<_> = sqlite_columns.difference(&postgres_columns).collect();
    let only_postgres: Vec<_> = postgres_columns.difference(&sqlite_columns).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
}
