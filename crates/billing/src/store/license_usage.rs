//! The `license_usage` table: per license, how many of each server-reported
//! resource (domains, databases, emails) exist, plus the look-ups license
//! validation needs.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// What a validation needs, read in one statement: the calling server (found by the
/// look-up hash of its key; checked by the caller), and the license of the key if there
/// is one, whether it has a live account on that server, and what it uses of `resource`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ValidationRow {
    /// The server's id.
    pub server_id: i64,
    /// Its API key, sealed by the vault.
    pub api_key_sealed: String,
    /// Its API secret, sealed by the vault.
    pub api_secret_sealed: String,
    /// The license's id; `None`: no license has this key.
    pub license_id: Option<i64>,
    /// `active`, `suspended`...
    pub status: Option<String>,
    /// When the paid period ends.
    pub expires_at: Option<DateTime<Utc>>,
    /// Quotas.
    pub max_accounts: Option<i64>,
    /// Quotas.
    pub max_domains: Option<i64>,
    /// Quotas.
    pub max_databases: Option<i64>,
    /// Quotas.
    pub max_emails: Option<i64>,
    /// Whether the license has a live account on this server.
    pub on_server: bool,
    /// How many of the resource exist (0 when no resource was asked about).
    pub used: i64,
}

/// One row per server whose key has `api_key_lookup` (normally one), with the license
/// whose key is `license_key`: the four or five look-ups of a validation as one read.
pub async fn for_validation(
    conn: &mut impl AsConn,
    api_key_lookup: &str,
    license_key: Option<&str>,
    resource: Option<&str>,
) -> Result<Vec<ValidationRow>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, ValidationRow>(
        "SELECT s.id AS server_id, s.api_key_sealed, s.api_secret_sealed, l.id AS license_id, l.status, \
         l.expires_at, l.max_accounts, l.max_domains, l.max_databases, l.max_emails, \
         CASE WHEN l.id IS NULL THEN FALSE ELSE EXISTS (SELECT 1 FROM hosting_accounts a \
           WHERE a.license_id = l.id AND a.server_id = s.id \
           AND a.state IN ('pending', 'provisioning', 'active', 'suspended')) END AS on_server, \
         CASE WHEN l.id IS NULL OR $3 IS NULL THEN 0 \
           WHEN $3 = 'accounts' THEN (SELECT COUNT(*) FROM hosting_accounts a WHERE a.license_id = l.id \
             AND a.state IN ('pending', 'provisioning', 'active', 'suspended')) \
           ELSE COALESCE((SELECT u.used FROM license_usage u WHERE u.license_id = l.id AND u.resource = $3), 0) \
         END AS used \
         FROM servers s LEFT JOIN licenses l ON l.license_key = $2 \
         WHERE s.api_key_lookup = $1 ORDER BY s.id"
    )
    .bind(api_key_lookup)
    .bind(license_key)
    .bind(resource)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

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

/// Sets the counts of many `(license, resource, used)` at once, as [`set`] does one:
/// a poll of a large fleet then costs one statement per batch instead of one per figure.
pub async fn set_many(
    tx: &mut Tx,
    figures: &[(i64, &str, i64)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Well under the bind-parameter limits of both engines (SQLite 32,766).
    for chunk in figures.chunks(1_000) {
        let sql = format!(
            "INSERT INTO license_usage (license_id, resource, used, updated_at) VALUES {} \
             ON CONFLICT (license_id, resource) DO UPDATE SET used = excluded.used, updated_at = excluded.updated_at",
            super::values_lists(chunk.len(), 4)
        );
        on_conn!(tx, |c| {
            let mut q = sqlx::query(&sql);
            for (license_id, resource, used) in chunk {
                q = q.bind(*license_id).bind(*resource).bind(*used).bind(now);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
