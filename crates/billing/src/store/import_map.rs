//! The `import_map` table: which row of an imported system became which of ours.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Our id of the `entity` row `source_id` imported from `source`.
pub async fn find(
    conn: &mut impl AsConn,
    source: &str,
    entity: &str,
    source_id: &str,
) -> Result<Option<i64>, StoreError> {
    let id = on_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT target_id FROM import_map WHERE source = $1 AND entity = $2 AND source_id = $3",
        )
        .bind(source)
        .bind(entity)
        .bind(source_id)
        .fetch_optional(c)
        .await
    })?;
    Ok(id)
}

/// Records that `source_id` became our `target_id`.
pub async fn insert(
    conn: &mut impl AsConn,
    source: &str,
    entity: &str,
    source_id: &str,
    target_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO import_map (source, entity, source_id, target_id, imported_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(source)
        .bind(entity)
        .bind(source_id)
        .bind(target_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Rows of `entity` imported from `source`.
pub async fn count(conn: &mut impl AsConn, source: &str, entity: &str) -> Result<i64, StoreError> {
    let n = on_conn!(conn, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM import_map WHERE source = $1 AND entity = $2")
            .bind(source)
            .bind(entity)
            .fetch_one(c)
            .await
    })?;
    Ok(n)
}

/// Our ids of every `entity` row imported from `source`.
pub async fn targets(
    conn: &mut impl AsConn,
    source: &str,
    entity: &str,
) -> Result<Vec<i64>, StoreError> {
    let ids = on_conn!(conn, |c| {
        sqlx::query_scalar(
            "SELECT target_id FROM import_map WHERE source = $1 AND entity = $2 ORDER BY target_id",
        )
        .bind(source)
        .bind(entity)
        .fetch_all(c)
        .await
    })?;
    Ok(ids)
}
