//! The `periodic_tasks` table: who runs the current round of each background task.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Takes the round of `name` for `holder` until `until`, if nobody is running it (no
/// live lease) and it is due: the last round started at or before `due_before`, or its
/// holder died before finishing it. `false` otherwise.
pub async fn claim(
    conn: &mut impl AsConn,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    due_before: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // One statement, so two instances racing for a round cannot both win it.
    let claimed: Option<String> = on_conn!(conn, |c| {
        sqlx::query_scalar(
        "INSERT INTO periodic_tasks (name, holder, lease_until, last_started_at, finished_at) VALUES ($1, $2, $3, $4, NULL) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, \
         last_started_at = excluded.last_started_at, finished_at = NULL \
         WHERE periodic_tasks.lease_until <= excluded.last_started_at \
         AND (periodic_tasks.finished_at IS NULL OR periodic_tasks.last_started_at <= $5) \
         RETURNING name"
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .bind(due_before)
    .fetch_optional(c)
    .await
    })?;
    Ok(claimed.is_some())
}

/// Extends `holder`'s lease on the running round of `name`; `false` when the round was
/// taken over (its lease had lapsed) or has finished.
pub async fn renew(
    conn: &mut impl AsConn,
    name: &str,
    holder: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(conn, |c| {
        sqlx::query(
        "UPDATE periodic_tasks SET lease_until = $3 WHERE name = $1 AND holder = $2 AND finished_at IS NULL"
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Records that `holder` finished its round of `name` and gives up the lease; `false`
/// (nothing recorded) when another holder took the round over meanwhile.
pub async fn finish(
    conn: &mut impl AsConn,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(conn, |c| sqlx::query(
        "UPDATE periodic_tasks SET finished_at = $3, lease_until = $3 \
         WHERE name = $1 AND holder = $2 AND finished_at IS NULL"
    )
    .bind(name)
    .bind(holder)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
