//! The `servers` table. `current_accounts` is read from the live counts that triggers
//! keep in the transaction of every change to an account (migration 0026), so it is
//! right after a restart and under concurrency, and costs the same at any size.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, RawConn, StoreError, Tx};

/// A row of `servers` with its live account count.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServerRow {
    /// Primary key.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// API key, sealed by the vault.
    pub api_key_sealed: String,
    /// API secret, sealed by the vault.
    pub api_secret_sealed: String,
    /// The vault's look-up hash of the API key (`None` until filled in at start-up
    /// for servers registered before it existed).
    pub api_key_lookup: Option<String>,
    /// Masked API key for display.
    pub api_key_hint: String,
    /// Accounts the server may hold.
    pub capacity: i64,
    /// Location label.
    pub location: Option<String>,
    /// Group label.
    pub server_group: Option<String>,
    /// JSON array of tags.
    pub tags: String,
    /// Disabled servers get no new accounts.
    pub is_active: bool,
    /// Health as seen by the monitor.
    pub is_online: bool,
    /// Consecutive failed checks.
    pub consecutive_failures: i64,
    /// Consecutive successful checks.
    pub consecutive_successes: i64,
    /// Time of the last check.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Latency of the last check.
    pub last_latency_ms: Option<i64>,
    /// Error of the last failed check, in words for admins.
    pub last_error: Option<String>,
    /// NextPanel version reported by the server.
    pub version: Option<String>,
    /// JSON array of advertised extensions.
    pub extensions: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Live hosting accounts on the server (counted, not stored).
    pub current_accounts: i64,
}

/// Servers with their live accounts, from the counts triggers keep (migration 0026):
/// counting the accounts would read every live account of every server listed.
const SELECT: &str = "SELECT s.id, s.name, s.description, s.base_url, s.api_key_sealed, s.api_secret_sealed, s.api_key_lookup, \
         s.api_key_hint, s.capacity, s.location, s.server_group, s.tags, s.is_active, s.is_online, s.consecutive_failures, \
         s.consecutive_successes, s.last_checked_at, s.last_latency_ms, s.last_error, s.version, s.extensions, \
         s.created_at, s.updated_at, \
         (SELECT CAST(COALESCE(SUM(c.live), 0) AS BIGINT) FROM account_type_counts c WHERE c.server_id = s.id) AS current_accounts \
     FROM servers s";

/// Inserts a server (the row's `id` and counters are ignored) and returns its id.
pub async fn insert(tx: &mut Tx, s: &ServerRow) -> Result<i64, StoreError> {
    let id: i64 = on_conn!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO servers (name, description, base_url, api_key_sealed, api_secret_sealed, api_key_hint, capacity, \
         location, server_group, tags, is_active, is_online, last_checked_at, last_latency_ms, last_error, version, \
         extensions, created_at, updated_at, api_key_lookup) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19) RETURNING id"
    )
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.base_url)
    .bind(&s.api_key_sealed)
    .bind(&s.api_secret_sealed)
    .bind(&s.api_key_hint)
    .bind(s.capacity)
    .bind(&s.location)
    .bind(&s.server_group)
    .bind(&s.tags)
    .bind(s.is_active)
    .bind(s.is_online)
    .bind(s.last_checked_at)
    .bind(s.last_latency_ms)
    .bind(&s.last_error)
    .bind(&s.version)
    .bind(&s.extensions)
    .bind(s.created_at)
    .bind(&s.api_key_lookup)
    .fetch_one(c)
    .await
    })?;
    Ok(id)
}

/// Writes the admin-editable fields of `s` back (name, description, URL, credentials,
/// capacity, placement, tags, active flag).
pub async fn update(tx: &mut Tx, s: &ServerRow) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE servers SET name = $2, description = $3, base_url = $4, api_key_sealed = $5, api_secret_sealed = $6, \
         api_key_hint = $7, capacity = $8, location = $9, server_group = $10, tags = $11, is_active = $12, updated_at = $13, \
         api_key_lookup = $14 WHERE id = $1"
    )
    .bind(s.id)
    .bind(&s.name)
    .bind(&s.description)
    .bind(&s.base_url)
    .bind(&s.api_key_sealed)
    .bind(&s.api_secret_sealed)
    .bind(&s.api_key_hint)
    .bind(s.capacity)
    .bind(&s.location)
    .bind(&s.server_group)
    .bind(&s.tags)
    .bind(s.is_active)
    .bind(s.updated_at)
    .bind(&s.api_key_lookup)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The result of one health check, as stored.
pub struct HealthRecord<'a> {
    /// Online after this check (hysteresis applied).
    pub is_online: bool,
    /// Consecutive failures after this check.
    pub consecutive_failures: i64,
    /// Consecutive successes after this check.
    pub consecutive_successes: i64,
    /// When it was checked.
    pub checked_at: DateTime<Utc>,
    /// How long it took.
    pub latency_ms: Option<i64>,
    /// The failure in words, if it failed.
    pub error: Option<&'a str>,
    /// Reported version, when it answered.
    pub version: Option<&'a str>,
    /// Advertised extensions as a JSON array, when it answered.
    pub extensions: Option<&'a str>,
}

/// Stores a health check result.
pub async fn record_health(tx: &mut Tx, id: i64, h: &HealthRecord<'_>) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE servers SET is_online = $2, consecutive_failures = $3, consecutive_successes = $4, last_checked_at = $5, \
         last_latency_ms = $6, last_error = $7, version = COALESCE($8, version), extensions = COALESCE($9, extensions) \
         WHERE id = $1"
    )
    .bind(id)
    .bind(h.is_online)
    .bind(h.consecutive_failures)
    .bind(h.consecutive_successes)
    .bind(h.checked_at)
    .bind(h.latency_ms)
    .bind(h.error)
    .bind(h.version)
    .bind(h.extensions)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Finds a server by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<ServerRow>, StoreError> {
    let sql = format!("{SELECT} WHERE s.id = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, ServerRow>(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Whether another server already has this name (case-insensitive).
pub async fn name_taken(
    conn: &mut impl AsConn,
    name: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let found: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM servers WHERE LOWER(name) = LOWER($1) AND ($2 IS NULL OR id <> $2)"
    )
    .bind(name)
    .bind(except)
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Lists every server by id.
pub async fn list(conn: &mut impl AsConn) -> Result<Vec<ServerRow>, StoreError> {
    let sql = format!("{SELECT} ORDER BY s.id");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, ServerRow>(&sql)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// The credentials of a server that may be calling back, found by the look-up hash
/// of the presented API key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallerRow {
    /// Primary key.
    pub id: i64,
    /// API key, sealed by the vault.
    pub api_key_sealed: String,
    /// API secret, sealed by the vault.
    pub api_secret_sealed: String,
}

/// Servers whose API key has this look-up hash: one indexed read, whatever the fleet's
/// size. Usually one row; two only when an admin registered the same key twice.
pub async fn find_callers(
    conn: &mut impl AsConn,
    api_key_lookup: &str,
) -> Result<Vec<CallerRow>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, CallerRow>(
        "SELECT id, api_key_sealed, api_secret_sealed FROM servers WHERE api_key_lookup = $1 ORDER BY id"
    )
    .bind(api_key_lookup)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// Servers registered before look-up hashes existed: (id, sealed API key).
pub async fn without_lookup(conn: &mut impl AsConn) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, api_key_sealed FROM servers WHERE api_key_lookup IS NULL ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows)
}

/// Stores the look-up hash of a server's API key.
pub async fn set_lookup(
    conn: &mut impl AsConn,
    id: i64,
    api_key_lookup: &str,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "UPDATE servers SET api_key_lookup = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(api_key_lookup)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes a server and the callback answers remembered for it; terminated accounts on
/// it keep their rows with no server.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    // No foreign key does this (migration 0029 says why).
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM license_callbacks WHERE server_id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_conn!(tx, |c| sqlx::query("DELETE FROM servers WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Serialises slot-taking (count the live accounts, then insert one) across every
/// process on PostgreSQL until the transaction ends. One lock for all servers keeps
/// it deadlock-free whatever order transactions look at servers in; SQLite
/// transactions here already hold the single write lock.
pub async fn lock_slots(tx: &mut Tx) -> Result<(), StoreError> {
    /// Arbitrary application-wide key for `pg_advisory_xact_lock`.
    const SLOT_LOCK: i64 = 0x6e70_6269_6c6c_0001;
    match tx.raw() {
        RawConn::Sqlite(_) => {}
        RawConn::Postgres(c) => {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SLOT_LOCK)
                .execute(c)
                .await?;
        }
    }
    Ok(())
}

/// Names of the servers with these ids (for lists that show which, not only an id).
pub async fn names(conn: &mut impl AsConn, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, name FROM servers WHERE id IN ({})",
        super::placeholders(ids.len())
    );
    let rows = on_conn!(conn, |c| {
        let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows)
}

/// The id of the server called `name`, if any.
pub async fn id_by_name(conn: &mut impl AsConn, name: &str) -> Result<Option<i64>, StoreError> {
    let id = on_conn!(conn, |c| {
        sqlx::query_scalar("SELECT id FROM servers WHERE name = $1")
            .bind(name)
            .fetch_optional(c)
            .await
    })?;
    Ok(id)
}
