//! The `license_usage` table: per license, how many of each server-reported
//! resource (domains, databases, emails) exist, plus the look-ups license
//! validation needs.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, RawConn, StoreError, Tx};

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

/// What one validation looks up: the calling server by the look-up hash of its key, the
/// license by its key (`None` when the key is not well formed) and a resource.
#[derive(Debug, Clone)]
pub struct ValidationLookup {
    /// The vault's look-up hash of the presented API key.
    pub api_key_lookup: String,
    /// The license key as sent, when it is well formed.
    pub license_key: Option<String>,
    /// `accounts`, `domains`, `databases`, `emails`, or `None` for unquoted features.
    pub resource: Option<&'static str>,
}

#[derive(sqlx::FromRow)]
struct Numbered {
    request: i64,
    #[sqlx(flatten)]
    row: ValidationRow,
}

/// Most look-ups read in one statement.
pub const MAX_VALIDATION_LOOKUPS: usize = 32;

/// The rows of many validations in one read: for each look-up (by its index in
/// `lookups`), one row per server whose key has its look-up hash (normally one), with
/// the license, whether it has a live account on that server and what it uses of the
/// resource. Rows come in no particular order.
pub async fn for_validations(
    conn: &mut impl AsConn,
    lookups: &[ValidationLookup],
) -> Result<Vec<(usize, ValidationRow)>, StoreError> {
    let mut found = Vec::new();
    for (n, chunk) in lookups.chunks(MAX_VALIDATION_LOOKUPS).enumerate() {
        let offset = n * MAX_VALIDATION_LOOKUPS;
        for (i, row) in validation_chunk(&mut *conn, chunk).await? {
            found.push((offset + i, row));
        }
    }
    Ok(found)
}

/// [`for_validations`] of at most [`MAX_VALIDATION_LOOKUPS`] look-ups, in one statement.
async fn validation_chunk(
    conn: &mut impl AsConn,
    lookups: &[ValidationLookup],
) -> Result<Vec<(usize, ValidationRow)>, StoreError> {
    // Padded to a power of two with rows that match nothing (a NULL look-up hash joins no
    // server), so a handful of statements serve every batch size and stay prepared.
    let padded = lookups.len().next_power_of_two();
    let values = (0..padded)
        .map(|i| {
            let p = i * 4;
            format!("(${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4)
        })
        .collect::<Vec<_>>()
        .join(", ");
    // Each look-up must reach its server and license through their indexes. Given a
    // batch of plain joins, PostgreSQL's planner may rather hash the whole table (a
    // million licenses) once per batch, so there each is a LATERAL subquery it cannot
    // flatten (OFFSET 0), run per look-up. SQLite has no LATERAL and only nested loops:
    // plain joins do the same there.
    let from = match conn.raw() {
        RawConn::Postgres(_) => {
            "FROM req CROSS JOIN LATERAL (SELECT * FROM servers s0 \
               WHERE s0.api_key_lookup = req.lookup OFFSET 0) s \
             LEFT JOIN LATERAL (SELECT * FROM licenses l0 \
               WHERE l0.license_key = req.license_key OFFSET 0) l ON TRUE"
        }
        RawConn::Sqlite(_) => {
            "FROM req JOIN servers s ON s.api_key_lookup = req.lookup \
             LEFT JOIN licenses l ON l.license_key = req.license_key"
        }
    };
    let sql = format!(
        "WITH req (request, lookup, license_key, resource) AS (VALUES {values}) \
         SELECT req.request, s.id AS server_id, s.api_key_sealed, s.api_secret_sealed, \
         l.id AS license_id, l.status, l.expires_at, l.max_accounts, l.max_domains, l.max_databases, l.max_emails, \
         EXISTS (SELECT 1 FROM hosting_accounts a WHERE a.license_id = l.id AND a.server_id = s.id \
           AND a.state IN ('pending', 'provisioning', 'active', 'suspended')) AS on_server, \
         CASE WHEN l.id IS NULL OR req.resource IS NULL THEN 0 \
           WHEN req.resource = 'accounts' THEN (SELECT COUNT(*) FROM hosting_accounts a WHERE a.license_id = l.id \
             AND a.state IN ('pending', 'provisioning', 'active', 'suspended')) \
           ELSE COALESCE((SELECT u.used FROM license_usage u WHERE u.license_id = l.id \
             AND u.resource = req.resource), 0) \
         END AS used {from}"
    );
    let rows = on_conn!(conn, |c| {
        let mut q = sqlx::query_as::<_, Numbered>(&sql);
        for (i, l) in lookups.iter().enumerate() {
            q = q
                .bind(i as i64)
                .bind(l.api_key_lookup.as_str())
                .bind(l.license_key.as_deref())
                .bind(l.resource);
        }
        for _ in lookups.len()..padded {
            q = q
                .bind(-1_i64)
                .bind(None::<&str>)
                .bind(None::<&str>)
                .bind(None::<&str>);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|n| usize::try_from(n.request).ok().map(|i| (i, n.row)))
        .collect())
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
