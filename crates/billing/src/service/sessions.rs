//! Sign-in sessions as their users and admins see them: where and when each was
//! opened and last used, and ending one or all of them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{Actor, ActorKind, ServiceError};
use crate::store::sessions::SessionRow;
use crate::store::{self, Db};

/// A live session.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Session id.
    pub id: i64,
    /// `cookie` (signed in to the web console) or `token` (bearer tokens: CLI, scripts).
    pub kind: String,
    /// The address it was opened from.
    pub client_ip: Option<String>,
    /// The browser or program that opened it.
    pub user_agent: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When it ends unless ended before.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

fn view(row: SessionRow, current: Option<i64>) -> Session {
    Session {
        current: current == Some(row.id),
        id: row.id,
        kind: row.kind,
        client_ip: row.client_ip,
        user_agent: row.user_agent,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        expires_at: row.expires_at,
    }
}

fn current(actor: &Actor) -> Option<i64> {
    match actor.kind {
        ActorKind::Session(id) => Some(id),
        _ => None,
    }
}

/// The caller's own live sessions.
pub async fn mine(db: &Db, actor: &Actor) -> Result<Vec<Session>, ServiceError> {
    let user_id = actor.user_id.ok_or(ServiceError::NotFound("user"))?;
    let mut conn = db.conn().await?;
    let rows = store::sessions::live_for_user(&mut conn, user_id, store::now()).await?;
    let current = current(actor);
    Ok(rows.into_iter().map(|r| view(r, current)).collect())
}

/// Ends one of the caller's own sessions (signing out elsewhere).
pub async fn end_mine(db: &Db, actor: &Actor, session_id: i64) -> Result<(), ServiceError> {
    let user_id = actor.user_id.ok_or(ServiceError::NotFound("session"))?;
    let mut tx = db.begin().await?;
    if !store::sessions::revoke_of_user(&mut tx, user_id, session_id, store::now()).await? {
        return Err(ServiceError::NotFound("session"));
    }
    tx.commit().await?;
    Ok(())
}

/// A user's live sessions (admins).
pub async fn of_user(db: &Db, actor: &Actor, user_id: i64) -> Result<Vec<Session>, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    store::users::find(&mut conn, user_id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let rows = store::sessions::live_for_user(&mut conn, user_id, store::now()).await?;
    let current = current(actor);
    Ok(rows.into_iter().map(|r| view(r, current)).collect())
}

/// Ends one session of a user, or all of them when `session_id` is `None` (admins; audited).
pub async fn end_for_user(
    db: &Db,
    actor: &Actor,
    user_id: i64,
    session_id: Option<i64>,
) -> Result<(), ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    store::users::find(&mut tx, user_id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let now = store::now();
    match session_id {
        Some(id) => {
            if !store::sessions::revoke_of_user(&mut tx, user_id, id, now).await? {
                return Err(ServiceError::NotFound("session"));
            }
        }
        None => store::sessions::revoke_all_for_user(&mut tx, user_id, now).await?,
    }
    #[derive(Serialize)]
    struct Ended {
        session_id: Option<i64>,
    }
    audit::record::<(), _>(
        &mut tx,
        actor,
        Change {
            action: "user.sessions_ended",
            entity_type: "user",
            entity_id: Some(user_id),
            before: None,
            after: Some(&Ended { session_id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
