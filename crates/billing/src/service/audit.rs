//! Writing and reading the audit log.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Actor, ActorKind, Paginated, ServiceError};
use crate::store::audit::AuditRow;
use crate::store::{self, Db, Page, Tx};

/// One change to record: what happened to which record, before and after.
pub struct Change<'a, B: Serialize, A: Serialize> {
    /// Dotted action name, e.g. `license.cancelled`.
    pub action: &'a str,
    /// Record type, e.g. `license`.
    pub entity_type: &'a str,
    /// Record id.
    pub entity_id: Option<i64>,
    /// Snapshot before, if the record existed.
    pub before: Option<&'a B>,
    /// Snapshot after, if the record still exists.
    pub after: Option<&'a A>,
}

/// Appends one entry in the caller's transaction, so it commits or rolls back with the change.
pub async fn record<B: Serialize, A: Serialize>(
    tx: &mut Tx,
    actor: &Actor,
    change: Change<'_, B, A>,
) -> Result<(), ServiceError> {
    store::audit::insert(tx, &entry(actor, change)?).await?;
    Ok(())
}

/// The entry [`record`] appends, for callers that append many in one step.
pub(crate) fn entry<B: Serialize, A: Serialize>(
    actor: &Actor,
    change: Change<'_, B, A>,
) -> Result<AuditRow, ServiceError> {
    Ok(AuditRow {
        id: 0,
        actor_kind: match actor.kind {
            ActorKind::Session(_) => "user",
            ActorKind::ApiKey(_) => "api_key",
            ActorKind::System => "system",
        }
        .to_owned(),
        actor_id: actor.user_id,
        actor_label: actor.label.clone(),
        action: change.action.to_owned(),
        entity_type: change.entity_type.to_owned(),
        entity_id: change.entity_id,
        before_state: change.before.map(to_json).transpose()?,
        after_state: change.after.map(to_json).transpose()?,
        created_at: store::now(),
    })
}

/// Serialises a snapshot for the audit table.
fn to_json<T: Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|e| ServiceError::Internal(format!("audit snapshot: {e}")))
}

/// An audit log entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Entry id.
    pub id: i64,
    /// `user`, `api_key` or `system`.
    pub actor_kind: String,
    /// User id behind the actor.
    pub actor_id: Option<i64>,
    /// Email, key name or `system`.
    pub actor_label: String,
    /// What was done.
    pub action: String,
    /// Record type.
    pub entity_type: String,
    /// Record id.
    pub entity_id: Option<i64>,
    /// Record before the change.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// Record after the change.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
        AuditEntry {
            id: row.id,
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            actor_label: row.actor_label,
            action: row.action,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            before: parse(row.before_state),
            after: parse(row.after_state),
            created_at: row.created_at,
        }
    }
}

/// Lists audit entries (admin and staff).
pub async fn list(
    db: &Db,
    actor: &Actor,
    entity_type: Option<&str>,
    entity_id: Option<i64>,
    page: Page,
) -> Result<Paginated<AuditEntry>, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.read().await?;
    let listed = store::audit::list(&mut conn, entity_type, entity_id, page).await?;
    Ok(Paginated::of(page, listed, AuditEntry::from))
}
