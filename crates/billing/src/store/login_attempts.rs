//! The `login_attempts` table: failed logins, counted to throttle guessing.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Records one failed login, dropping every failure older than `forget_before` so the
/// table stays as small as the throttling window (also when nobody ever logs in right).
pub async fn record_failure(
    conn: &mut impl AsConn,
    email: &str,
    client_ip: &str,
    now: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "DELETE FROM login_attempts WHERE created_at < $1"
    )
    .bind(forget_before)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    on_conn!(conn, |c| sqlx::query(
        "INSERT INTO login_attempts (email, client_ip, created_at) VALUES ($1, $2, $3)"
    )
    .bind(email)
    .bind(client_ip)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Failures since `since` for this email and for this client address, and the oldest
/// of each (to tell the client when to retry).
pub async fn recent_failures(
    conn: &mut impl AsConn,
    email: &str,
    client_ip: &str,
    since: DateTime<Utc>,
) -> Result<(FailureCount, FailureCount), StoreError> {
    let by_email = on_conn!(conn, |c| {
        sqlx::query_as::<_, FailureCount>(
        "SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM login_attempts WHERE email = $1 AND created_at > $2"
    )
    .bind(email)
    .bind(since)
    .fetch_one(&mut *c)
    .await
    })?;
    let by_ip = on_conn!(conn, |c| {
        sqlx::query_as::<_, FailureCount>(
        "SELECT COUNT(*) AS count, MIN(created_at) AS oldest FROM login_attempts WHERE client_ip = $1 AND created_at > $2"
    )
    .bind(client_ip)
    .bind(since)
    .fetch_one(c)
    .await
    })?;
    Ok((by_email, by_ip))
}

/// How many failures, and the oldest one's time.
#[derive(Debug, sqlx::FromRow)]
pub struct FailureCount {
    /// Number of failures in the window.
    pub count: i64,
    /// Time of the oldest failure in the window.
    pub oldest: Option<DateTime<Utc>>,
}

/// Forgets the failures of an email after a successful login, and old rows of everyone.
pub async fn clear(
    conn: &mut impl AsConn,
    email: &str,
    older_than: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "DELETE FROM login_attempts WHERE email = $1 OR created_at < $2"
    )
    .bind(email)
    .bind(older_than)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
