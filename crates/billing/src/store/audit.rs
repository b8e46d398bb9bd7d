//! The `audit_log` table: who changed what, when, with the state before and after.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Filters, Listed, Page, StoreError, Tx};

/// A row of `audit_log`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    /// Primary key.
    pub id: i64,
    /// `user`, `api_key` or `system`.
    pub actor_kind: String,
    /// The user id behind the actor, if any.
    pub actor_id: Option<i64>,
    /// Human-readable actor (email, key name, `system`).
    pub actor_label: String,
    /// What was done, e.g. `license.cancelled`.
    pub action: String,
    /// Kind of record changed, e.g. `license`.
    pub entity_type: String,
    /// Id of the record changed.
    pub entity_id: Option<i64>,
    /// JSON of the record before the change.
    pub before_state: Option<String>,
    /// JSON of the record after the change.
    pub after_state: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, actor_kind, actor_id, actor_label, action, entity_type, entity_id, before_state, after_state, created_at";

/// Appends an entry (the row's `id` is ignored).
pub async fn insert(tx: &mut Tx, e: &AuditRow) -> Result<(), StoreError> {
    insert_many(tx, std::slice::from_ref(e)).await
}

/// Appends entries in one statement.
pub async fn insert_many(tx: &mut Tx, entries: &[AuditRow]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO audit_log (actor_kind, actor_id, actor_label, action, entity_type, entity_id, before_state, after_state, created_at) \
         VALUES {}",
        super::values_lists(entries.len(), 9)
    );
    on_conn!(tx, |c| {
        let mut q = sqlx::query(&sql);
        for e in entries {
            q = q
                .bind(&e.actor_kind)
                .bind(e.actor_id)
                .bind(&e.actor_label)
                .bind(&e.action)
                .bind(&e.entity_type)
                .bind(e.entity_id)
                .bind(&e.before_state)
                .bind(&e.after_state)
                .bind(e.created_at);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Lists entries newest first, optionally of one entity type and id.
pub async fn list(
    conn: &mut impl AsConn,
    entity_type: Option<&str>,
    entity_id: Option<i64>,
    page: Page,
) -> Result<Listed<AuditRow>, StoreError> {
    let filters = Filters::new()
        .eq("entity_type", entity_type)
        .eq("entity_id", entity_id);
    super::list_page(conn, "audit_log", COLUMNS, filters, page).await
}
