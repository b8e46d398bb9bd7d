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
}

/// Records a new session.
pub async fn insert(tx: &mut Tx, s: &NewSession<'_>) -> Result<i64, StoreError> {
    let id: i64 = on_conn!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO sessions (user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    )
    .bind(s.user_id)
    .bind(s.access_hash)
    .bind(s.refresh_hash)
    .bind(s.access_expires_at)
    .bind(s.refresh_expires_at)
    .bind(s.now)
    .fetch_one(c)
    .await
    })?;
    Ok(id)
}

/// The active user behind a live access token, with the session id.
pub async fn user_by_access_hash(
    conn: &mut impl AsConn,
    access_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(i64, UserRow)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Found {
        session_id: i64,
        #[sqlx(flatten)]
        user: UserRow,
    }
    let found = on_conn!(conn, |c| {
        sqlx::query_as::<_, Found>(
        "SELECT s.id AS session_id, u.id, u.email, u.password_hash, u.role, u.full_name, u.company_name, u.phone, \
         u.is_active, u.created_at, u.updated_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.access_hash = $1 AND s.revoked_at IS NULL AND s.access_expires_at > $2 AND u.is_active = TRUE"
    )
    .bind(access_hash)
    .bind(now)
    .fetch_optional(c)
    .await
    })?;
    Ok(found.map(|f| (f.session_id, f.user)))
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
