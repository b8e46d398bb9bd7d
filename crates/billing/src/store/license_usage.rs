//! The `license_usage` table: per license, how many of each server-reported
//! resource (domains, databases, emails) exist, plus the look-ups license
//! validation needs.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// How many of `resource` exist under a license; 0 when nothing was reported yet.
pub async fn used(
    conn: &mut impl AsConn,
    license_id: i64,
    resource: &str,
) -> Result<i64, StoreError> {
    let used: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT used FROM license_usage WHERE license_id = $1 AND resource = $2"
    )
    .bind(license_id)
    .bind(resource)
    .fetch_optional(c)
    .await)?;
    Ok(used.unwrap_or(0))
}

/// Every reported resource of a license with its count, by resource name.
pub async fn all(
    conn: &mut impl AsConn,
    license_id: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows: Vec<(String, i64)> = on_conn!(conn, |c| sqlx::query_as(
        "SELECT resource, used FROM license_usage WHERE license_id = $1 ORDER BY resource"
    )
    .bind(license_id)
    .fetch_all(c)
    .await)?;
    Ok(rows)
}

/// Adds `delta` (which may be negative) to the count of `resource`, never going
/// below 0, and returns the new count. One statement, so concurrent reports add up.
pub async fn apply_delta(
    tx: &mut Tx,
    license_id: i64,
    resource: &str,
    delta: i64,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let used: i64 = on_conn!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO license_usage (license_id, resource, used, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (license_id, resource) DO UPDATE SET \
         used = CASE WHEN license_usage.used + $5 < 0 THEN 0 ELSE license_usage.used + $5 END, \
         updated_at = $4 \
         RETURNING used"
    )
    .bind(license_id)
    .bind(resource)
    .bind(delta.max(0))
    .bind(now)
    .bind(delta)
    .fetch_one(c)
    .await
    })?;
    Ok(used)
}

/// Whether `server_id` holds a live account under the license.
pub async fn license_on_server(
    conn: &mut impl AsConn,
    license_id: i64,
    server_id: i64,
) -> Result<bool, StoreError> {
    let found: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM hosting_accounts WHERE license_id = $1 AND server_id = $2 \
         AND state IN ('pending', 'provisioning', 'active', 'suspended') LIMIT 1"
    )
    .bind(license_id)
    .bind(server_id)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Sets the count of `resource` under a license to what the panels report (polling
/// corrects any drift of the reported deltas).
pub async fn set(
    tx: &mut Tx,
    license_id: i64,
    resource: &str,
    used: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO license_usage (license_id, resource, used, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (license_id, resource) DO UPDATE SET used = $3, updated_at = $4"
    )
    .bind(license_id)
    .bind(resource)
    .bind(used)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}
