//! The `sessions` table: login sessions with hashed access and refresh tokens.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};
use crate::store::users::UserRow;

/// Hashes and expiry times of a new session.
pub struct NewSession<'a> {
    /// Owner.
    pub user_id: i64,
    /// SHA-256 hex of the access token.
    pub access_hash: &'a str,
    /// SHA-256 hex of the refresh token.
    pub refresh_hash: &'a str,
    /// When the access token stops working.
    pub access_expires_at: DateTime<Utc>,
    /// When the refresh token stops working.
    pub refresh_expires_at: DateTime<Utc>,
    /// Creation time.
    pub now: DateTime<Utc>,
    /// `token` (bearer tokens) or `cookie` (the console's session cookie).
    pub kind: &'a str,
    /// The address the session was opened from.
    pub client_ip: &'a str,
    /// The client's `User-Agent`, cut to a sane length.
    pub user_agent: Option<&'a str>,
}

/// Records a new session.
pub async fn insert(tx: &mut Tx, s: &NewSession<'_>) -> Result<i64, StoreError> {
    let id: i64 = on_conn!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO sessions (user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, created_at, \
         kind, client_ip, user_agent, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $6) RETURNING id"
    )
    .bind(s.user_id)
    .bind(s.access_hash)
    .bind(s.refresh_hash)
    .bind(s.access_expires_at)
    .bind(s.refresh_expires_at)
    .bind(s.now)
    .bind(s.kind)
    .bind(s.client_ip)
    .bind(s.user_agent)
    .fetch_one(c)
    .await
    })?;
    Ok(id)
}

/// A live session found by its access token, with its user.
#[derive(Debug, sqlx::FromRow)]
pub struct LiveSession {
    /// The session's id.
    pub session_id: i64,
    /// `token` or `cookie`.
    pub kind: String,
    /// When it was last used (to the minute).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Its user.
    #[sqlx(flatten)]
    pub user: UserRow,
}

/// The active user behind a live access token, with the session.
pub async fn user_by_access_hash(
    conn: &mut impl AsConn,
    access_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<LiveSession>, StoreError> {
    let found = on_conn!(conn, |c| {
        sqlx::query_as::<_, LiveSession>(
        "SELECT s.id AS session_id, s.kind, s.last_seen_at, u.id, u.email, u.password_hash, u.role, u.full_name, u.company_name, u.phone, \
         u.is_active, u.created_at, u.updated_at, \
         u.billing_address, u.billing_postal_code, u.billing_region, u.billing_country, u.tax_id, u.billing_currency \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.access_hash = $1 AND s.revoked_at IS NULL AND s.access_expires_at > $2 AND u.is_active = TRUE"
    )
    .bind(access_hash)
    .bind(now)
    .fetch_optional(c)
    .await
    })?;
    Ok(found)
}

/// Notes that a session was used at `now` (callers do it at most once a minute).
pub async fn touch(
    conn: &mut impl AsConn,
    session_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "UPDATE sessions SET last_seen_at = $2 WHERE id = $1"
    )
    .bind(session_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A session as listed to its user and to admins.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    /// Session id.
    pub id: i64,
    /// `token` or `cookie`.
    pub kind: String,
    /// Where it was opened from.
    pub client_ip: Option<String>,
    /// The browser or program that opened it.
    pub user_agent: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When it ends at the latest (its refresh token's expiry; a cookie's own).
    pub expires_at: DateTime<Utc>,
}

/// The user's live sessions, newest first. A token session lives as long as its refresh
/// token; a cookie session has no refresh token and lives as long as its cookie.
pub async fn live_for_user(
    conn: &mut impl AsConn,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<SessionRow>, StoreError> {
    let rows = on_conn!(conn, |c| {
        sqlx::query_as::<_, SessionRow>(
        "SELECT id, kind, client_ip, user_agent, created_at, last_seen_at, \
         CASE WHEN kind = 'cookie' THEN access_expires_at ELSE refresh_expires_at END AS expires_at \
         FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
         AND ((kind = 'cookie' AND access_expires_at > $2) OR (kind <> 'cookie' AND refresh_expires_at > $2)) \
         ORDER BY id DESC LIMIT 200"
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(c)
    .await
    })?;
    Ok(rows)
}

/// Revokes one session of this user; `false` when it is not theirs or already ended.
pub async fn revoke_of_user(
    tx: &mut Tx,
    user_id: i64,
    session_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Revokes the live session holding this refresh token and returns its user id;
/// `None` if the token is unknown, expired or already used.
pub async fn take_by_refresh_hash(
    tx: &mut Tx,
    refresh_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let user_id: Option<i64> = on_conn!(tx, |c| {
        sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = $2 \
         WHERE refresh_hash = $1 AND revoked_at IS NULL AND refresh_expires_at > $2 RETURNING user_id"
    )
    .bind(refresh_hash)
    .bind(now)
    .fetch_optional(c)
    .await
    })?;
    Ok(user_id)
}

/// Revokes one session.
pub async fn revoke(tx: &mut Tx, session_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
    )
    .bind(session_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Revokes every session of a user (deactivation, password change).
pub async fn revoke_all_for_user(
    tx: &mut Tx,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"
    )
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
