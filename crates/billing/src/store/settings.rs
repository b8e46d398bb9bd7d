//! The `settings` table: settings admins change at run time, as text by key.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// The stored value of `key`, if it was ever set.
pub async fn get(conn: &mut impl AsConn, key: &str) -> Result<Option<String>, StoreError> {
    let value = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = $1"
    )
    .bind(key)
    .fetch_optional(c)
    .await)?;
    Ok(value)
}

/// Sets `key` to `value`.
pub async fn put(
    tx: &mut Tx,
    key: &str,
    value: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3"
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
