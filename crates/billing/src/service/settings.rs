//! Yes/no settings admins change at run time (kept in the `settings` table), each change
//! audited with its value before and after.

use serde_json::json;

use super::audit::{self, Change};
use super::{Actor, ServiceError};
use crate::store::{self, AsConn, Db};

/// The setting `key`; `false` until it is first set.
pub(crate) async fn flag(conn: &mut impl AsConn, key: &str) -> Result<bool, ServiceError> {
    Ok(store::settings::get(conn, key)
        .await?
        .is_some_and(|v| v == "true"))
}

/// Sets `key` to `value` and audits the change as `action` (the caller checked the role).
pub(crate) async fn set_flag(
    db: &Db,
    actor: &Actor,
    key: &str,
    value: bool,
    action: &str,
) -> Result<(), ServiceError> {
    let mut tx = db.begin().await?;
    let before = flag(&mut tx, key).await?;
    let text = if value { "true" } else { "false" };
    store::settings::put(&mut tx, key, text, store::now()).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action,
            entity_type: "settings",
            entity_id: None,
            before: Some(&json!({ key: before })),
            after: Some(&json!({ key: value })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
