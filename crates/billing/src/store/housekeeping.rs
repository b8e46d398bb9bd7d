//! Deletes of rows that have served their purpose: ended sessions, old reset codes,
//! Stripe event claims past Stripe's retry window, license-callback request ids past
//! the replay window, and (when configured) old audit entries.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// Runs one `DELETE ... WHERE <column> < $1` and returns the rows removed.
async fn delete_before(
    conn: &mut impl AsConn,
    sql: &str,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(before)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n)
}

/// Sessions whose refresh token expired, or that were revoked, before `before`.
pub async fn ended_sessions(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    delete_before(
        conn,
        "DELETE FROM sessions WHERE refresh_expires_at < $1 OR revoked_at < $1",
        before,
    )
    .await
}

/// Password-reset codes that expired before `before` (used or not).
pub async fn old_password_resets(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    delete_before(
        conn,
        "DELETE FROM password_resets WHERE expires_at < $1",
        before,
    )
    .await
}

/// Claims of Stripe events received before `before`.
pub async fn old_stripe_events(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    delete_before(
        conn,
        "DELETE FROM stripe_events WHERE received_at < $1",
        before,
    )
    .await
}

/// Audit entries written before `before`.
pub async fn old_audit_entries(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    delete_before(conn, "DELETE FROM audit_log WHERE created_at < $1", before).await
}

/// Request ids of license callbacks remembered since before `before`.
pub async fn old_license_callbacks(
    conn: &mut impl AsConn,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    delete_before(
        conn,
        "DELETE FROM license_callbacks WHERE created_at < $1",
        before,
    )
    .await
}
