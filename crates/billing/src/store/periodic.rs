//! The `periodic_tasks` table: who runs the current round of each background task.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Takes the round of `name` for `holder` until `until` if nobody holds it past `now`
/// (or `holder` already does); `false` when another holder's lease is still running.
pub async fn claim(
    conn: &mut impl AsConn,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // One statement, so two instances racing for a round cannot both win it.
    let claimed: Option<String> = on_conn!(conn, |c| {
        sqlx::query_scalar(
        "INSERT INTO periodic_tasks (name, holder, lease_until, last_started_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, \
         last_started_at = excluded.last_started_at \
         WHERE periodic_tasks.lease_until <= excluded.last_started_at OR periodic_tasks.holder = excluded.holder \
         RETURNING name"
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .fetch_optional(c)
    .await
    })?;
    Ok(claimed.is_some())
}
