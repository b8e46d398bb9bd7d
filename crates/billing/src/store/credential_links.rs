//! The `credential_links` table: single-use links that show a hosting password once.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `credential_links`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CredentialLinkRow {
    /// SHA-256 of the link's code.
    pub token_digest: String,
    /// The hosting account.
    pub account_id: i64,
    /// Its customer, the only one who may open the link.
    pub customer_id: i64,
    /// The sealed password; `None` once shown or expired.
    pub sealed_password: Option<String>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// When the password was shown.
    pub revealed_at: Option<DateTime<Utc>>,
    /// When the link was made.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "token_digest, account_id, customer_id, sealed_password, expires_at, revealed_at, created_at";

/// Stores a new link.
pub async fn insert(tx: &mut Tx, l: &CredentialLinkRow) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO credential_links (token_digest, account_id, customer_id, sealed_password, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(&l.token_digest)
    .bind(l.account_id)
    .bind(l.customer_id)
    .bind(&l.sealed_password)
    .bind(l.expires_at)
    .bind(l.created_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The link with this code digest.
pub async fn find(
    conn: &mut impl AsConn,
    token_digest: &str,
) -> Result<Option<CredentialLinkRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM credential_links WHERE token_digest = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, CredentialLinkRow>(&sql)
        .bind(token_digest)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Uses a link up: erases its password; `false` when it was used before (a race lost).
pub async fn use_up(
    tx: &mut Tx,
    token_digest: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE credential_links SET sealed_password = NULL, revealed_at = $2 \
         WHERE token_digest = $1 AND revealed_at IS NULL AND sealed_password IS NOT NULL"
    )
    .bind(token_digest)
    .bind(at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Erases the passwords of links that expired before `now` (nobody can open them).
pub async fn erase_expired(conn: &mut impl AsConn, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let n = on_conn!(conn, |c| {
        sqlx::query(
        "UPDATE credential_links SET sealed_password = NULL WHERE expires_at < $1 AND sealed_password IS NOT NULL"
    )
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n)
}
