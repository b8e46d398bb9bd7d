//! The `api_keys` table: hashed keys for automation.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError, Tx};
use crate::store::users::UserRow;

/// A row of `api_keys` (never the key itself, only its hash and prefix).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    /// Primary key.
    pub id: i64,
    /// The admin who created it; requests made with it act as this user.
    pub user_id: i64,
    /// A label for people.
    pub name: String,
    /// `admin` or `staff`.
    pub role: String,
    /// The first characters of the key, to recognise it.
    pub key_prefix: String,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When a request last used it (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, name, role, key_prefix, revoked_at, created_at, last_used_at";

/// Stores a new key's hash.
pub async fn insert(
    tx: &mut Tx,
    user_id: i64,
    name: &str,
    role: &str,
    key_prefix: &str,
    key_hash: &str,
    now: DateTime<Utc>,
) -> Result<ApiKeyRow, StoreError> {
    let sql = format!(
        "INSERT INTO api_keys (user_id, name, role, key_prefix, key_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, ApiKeyRow>(&sql)
        .bind(user_id)
        .bind(name)
        .bind(role)
        .bind(key_prefix)
        .bind(key_hash)
        .bind(now)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Lists every key, newest first.
pub async fn list(conn: &mut impl AsConn) -> Result<Vec<ApiKeyRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY id DESC");
    let rows = on_conn!(conn, |c| sqlx::query_as::<_, ApiKeyRow>(&sql)
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Finds one key.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<ApiKeyRow>, StoreError> {
    super::find_row(conn, "api_keys", COLUMNS, id, None).await
}

/// Marks a key revoked; returns the updated row.
pub async fn revoke(
    tx: &mut Tx,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<ApiKeyRow>, StoreError> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, ApiKeyRow>(&sql)
        .bind(id)
        .bind(now)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// The live key with this hash and the active user it acts as.
pub async fn find_live_by_hash(
    conn: &mut impl AsConn,
    key_hash: &str,
) -> Result<Option<(ApiKeyRow, UserRow)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Found {
        key_id: i64,
        key_name: String,
        key_role: String,
        key_prefix: String,
        key_created_at: DateTime<Utc>,
        key_last_used_at: Option<DateTime<Utc>>,
        #[sqlx(flatten)]
        user: UserRow,
    }
    let found = on_conn!(conn, |c| {
        sqlx::query_as::<_, Found>(
        "SELECT k.id AS key_id, k.name AS key_name, k.role AS key_role, k.key_prefix, k.created_at AS key_created_at, k.last_used_at AS key_last_used_at, \
         u.id, u.email, u.password_hash, u.role, u.full_name, u.company_name, u.phone, u.is_active, u.created_at, u.updated_at, \
         u.billing_address, u.billing_postal_code, u.billing_region, u.billing_country, u.tax_id, u.billing_currency \
         FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.is_active = TRUE"
    )
    .bind(key_hash)
    .fetch_optional(c)
    .await
    })?;
    Ok(found.map(|f| {
        let key = ApiKeyRow {
            id: f.key_id,
            user_id: f.user.id,
            name: f.key_name,
            role: f.key_role,
            key_prefix: f.key_prefix,
            revoked_at: None,
            created_at: f.key_created_at,
            last_used_at: f.key_last_used_at,
        };
        (key, f.user)
    }))
}

/// Records a use of the key, at most once a minute (a write per request would be waste).
pub async fn touch(conn: &mut impl AsConn, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    let stale = now - chrono::Duration::minutes(1);
    on_conn!(conn, |c| {
        sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)"
    )
    .bind(id)
    .bind(now)
    .bind(stale)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}
