//! The `password_resets` table: single-use, expiring reset tokens, stored hashed.

use chrono::{DateTime, Utc};

use super::{on_conn, StoreError, Tx};

/// Records a reset token's hash for a user.
pub async fn insert(
    tx: &mut Tx,
    user_id: i64,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query("INSERT INTO password_resets (user_id, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(token_hash)
        .bind(expires_at)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Uses a live token: marks it used and returns its user, or `None` when unknown, used or expired.
pub async fn take(
    tx: &mut Tx,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let user: Option<i64> = on_conn!(tx, |c| {
        sqlx::query_scalar(
        "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id"
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(c)
    .await
    })?;
    Ok(user)
}

/// Reset codes issued to a user since `since` (used or not).
pub async fn issued_since(
    conn: &mut impl super::AsConn,
    user_id: i64,
    since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at > $2"
    )
    .bind(user_id)
    .bind(since)
    .fetch_one(c)
    .await)?;
    Ok(n)
}
