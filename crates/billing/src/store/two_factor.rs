//! The `user_totp` and `recovery_codes` tables: each user's TOTP secret (sealed) and
//! the digests of their single-use recovery codes.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};

/// A row of `user_totp`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    /// Its user.
    pub user_id: i64,
    /// The shared secret, sealed by the vault.
    pub secret_sealed: String,
    /// When the user confirmed a first code; `None` during setup.
    pub enabled_at: Option<DateTime<Utc>>,
    /// The last time step a code was accepted for.
    pub last_used_step: i64,
    /// When the secret was made.
    pub created_at: DateTime<Utc>,
}

/// The user's TOTP row, set up or enabled.
pub async fn find(conn: &mut impl AsConn, user_id: i64) -> Result<Option<TotpRow>, StoreError> {
    let row = on_conn!(conn, |c| {
        sqlx::query_as::<_, TotpRow>(
        "SELECT user_id, secret_sealed, enabled_at, last_used_step, created_at FROM user_totp WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(c)
    .await
    })?;
    Ok(row)
}

/// Whether the user has two-factor sign-in turned on.
pub async fn is_enabled(conn: &mut impl AsConn, user_id: i64) -> Result<bool, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_totp WHERE user_id = $1 AND enabled_at IS NOT NULL"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Starts (or restarts) a setup: a new secret, not yet enabled. Refused by the caller
/// when two-factor sign-in is already on, so an enabled secret is never replaced here.
pub async fn begin_setup(
    tx: &mut Tx,
    user_id: i64,
    secret_sealed: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO user_totp (user_id, secret_sealed, enabled_at, last_used_step, created_at) \
         VALUES ($1, $2, NULL, 0, $3) \
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = $2, enabled_at = NULL, last_used_step = 0, created_at = $3"
    )
    .bind(user_id)
    .bind(secret_sealed)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Records that a code of time step `step` was accepted: `false` when that step (or a
/// later one) was used already, so the same code cannot sign in twice.
pub async fn use_step(tx: &mut Tx, user_id: i64, step: i64) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE user_totp SET last_used_step = $2 WHERE user_id = $1 AND last_used_step < $2"
    )
    .bind(user_id)
    .bind(step)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Turns two-factor sign-in on (the setup was confirmed with a code).
pub async fn enable(tx: &mut Tx, user_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE user_totp SET enabled_at = $2 WHERE user_id = $1 AND enabled_at IS NULL"
    )
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Turns two-factor sign-in off: the secret and every recovery code go.
pub async fn remove(tx: &mut Tx, user_id: i64) -> Result<bool, StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM recovery_codes WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM user_totp WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Replaces the user's recovery codes with these digests.
pub async fn replace_recovery_codes(
    tx: &mut Tx,
    user_id: i64,
    digests: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM recovery_codes WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    for digest in digests {
        on_conn!(tx, |c| sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_digest, created_at) VALUES ($1, $2, $3)"
        )
        .bind(user_id)
        .bind(digest)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Uses up the unused recovery code with this digest; `false` when there is none.
pub async fn use_recovery_code(
    tx: &mut Tx,
    user_id: i64,
    digest: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_digest = $2 AND used_at IS NULL"
    )
    .bind(user_id)
    .bind(digest)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// How many recovery codes the user has left.
pub async fn recovery_codes_left(conn: &mut impl AsConn, user_id: i64) -> Result<i64, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)?;
    Ok(n)
}
