//! The `reconciliations` table: one stored report per comparison of a server's
//! accounts with ours. Rows are written once and never changed.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Page, StoreError, Tx};

/// A row of `reconciliations`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReconciliationRow {
    /// Primary key.
    pub id: i64,
    /// The server compared (`None` once it was removed).
    pub server_id: Option<i64>,
    /// The server's name at the time, so the report stays readable after a removal.
    pub server_name: String,
    /// When the comparison started.
    pub started_at: DateTime<Utc>,
    /// When it ended (fixes included).
    pub finished_at: DateTime<Utc>,
    /// `ok`, `drift` or `error`.
    pub status: String,
    /// Panel accounts unknown to us.
    pub orphans: i64,
    /// Our accounts absent on the panel.
    pub missing: i64,
    /// Accounts suspended on one side only.
    pub mismatches: i64,
    /// Mismatches fixed on the panel.
    pub fixed: i64,
    /// The full report as JSON.
    pub report: String,
    /// Why the comparison could not be made, in words for admins.
    pub error: Option<String>,
    /// Who asked: an admin's label or `system`.
    pub actor: String,
}

const COLUMNS: &str =
    "id, server_id, server_name, started_at, finished_at, status, orphans, missing, mismatches, \
    fixed, report, error, actor";

/// Inserts a report (the row's `id` is ignored) and returns it.
pub async fn insert(tx: &mut Tx, r: &ReconciliationRow) -> Result<ReconciliationRow, StoreError> {
    let sql = format!(
        "INSERT INTO reconciliations (server_id, server_name, started_at, finished_at, status, orphans, missing, \
         mismatches, fixed, report, error, actor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, ReconciliationRow>(&sql)
        .bind(r.server_id)
        .bind(&r.server_name)
        .bind(r.started_at)
        .bind(r.finished_at)
        .bind(&r.status)
        .bind(r.orphans)
        .bind(r.missing)
        .bind(r.mismatches)
        .bind(r.fixed)
        .bind(&r.report)
        .bind(&r.error)
        .bind(&r.actor)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Finds a report by id.
pub async fn find(
    conn: &mut impl AsConn,
    id: i64,
) -> Result<Option<ReconciliationRow>, StoreError> {
    super::find_row(conn, "reconciliations", COLUMNS, id, None).await
}

/// Lists reports newest first, optionally of one server.
pub async fn list(
    conn: &mut impl AsConn,
    server_id: Option<i64>,
    page: Page,
) -> Result<super::Listed<ReconciliationRow>, StoreError> {
    let filters = super::Filters::new().eq("server_id", server_id);
    super::list_page(conn, "reconciliations", COLUMNS, filters, page).await
}

/// When the newest report of a server started, if there is one.
pub async fn last_started(
    conn: &mut impl AsConn,
    server_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at: Option<DateTime<Utc>> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT started_at FROM reconciliations WHERE server_id = $1 ORDER BY id DESC LIMIT 1"
    )
    .bind(server_id)
    .fetch_optional(c)
    .await)?;
    Ok(at)
}
