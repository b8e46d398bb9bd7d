//! API keys for automation: created by admins, shown once, stored hashed, revocable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{tokens, Actor, ServiceError};
use crate::domain::role::Role;
use crate::domain::{text, Invalid};
use crate::store::api_keys::ApiKeyRow;
use crate::store::{self, Db};

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    /// Key id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// `admin` or `staff`.
    pub role: Role,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    /// The admin who created it.
    pub created_by: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When a request last used it (to the minute); never used when absent.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiKeyRow> for ApiKey {
    fn from(r: &ApiKeyRow) -> Self {
        ApiKey {
            id: r.id,
            name: r.name.clone(),
            role: Role::parse(&r.role).unwrap_or(Role::Staff),
            prefix: r.key_prefix.clone(),
            created_by: r.user_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A newly created key: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key's metadata.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret: send as `Authorization: Bearer <api_key>`. Shown once.
    pub api_key: String,
}

/// Body of `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// Label, e.g. `provisioning script`.
    pub name: String,
    /// `admin` (default) or `staff` (read-only).
    pub role: Option<Role>,
}

/// Creates a key (admin only, and only through a login session or another admin key).
pub async fn create(
    db: &Db,
    actor: &Actor,
    body: NewApiKey,
) -> Result<CreatedApiKey, ServiceError> {
    actor.require_admin()?;
    let name = text::bounded("name", &body.name, 1, 100)?;
    let role = body.role.unwrap_or(Role::Admin);
    if role == Role::Customer {
        return Err(Invalid::new("role", "must be admin or staff").into());
    }
    let user_id = actor
        .user_id
        .ok_or(ServiceError::Forbidden("only a user can own an API key"))?;
    let secret = tokens::generate(tokens::API_KEY_PREFIX)?;
    let prefix: String = secret
        .chars()
        .take(tokens::API_KEY_PREFIX.len() + 6)
        .collect();
    let mut tx = db.begin().await?;
    let row = store::api_keys::insert(
        &mut tx,
        user_id,
        &name,
        role.as_str(),
        &prefix,
        &tokens::digest(&secret),
        store::now(),
    )
    .await?;
    let view = ApiKey::from(&row);
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "api_key.created",
            entity_type: "api_key",
            entity_id: Some(row.id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedApiKey {
        key: view,
        api_key: secret,
    })
}

/// Lists every key (admin only).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<ApiKey>, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    Ok(store::api_keys::list(&mut conn)
        .await?
        .iter()
        .map(ApiKey::from)
        .collect())
}

/// Revokes a key (admin only); revoking twice is a no-op.
pub async fn revoke(db: &Db, actor: &Actor, id: i64) -> Result<ApiKey, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = store::api_keys::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("API key"))?;
    let after = store::api_keys::revoke(&mut tx, id, store::now())
        .await?
        .ok_or(ServiceError::NotFound("API key"))?;
    let (b, a) = (ApiKey::from(&before), ApiKey::from(&after));
    if before.revoked_at.is_none() {
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "api_key.revoked",
                entity_type: "api_key",
                entity_id: Some(id),
                before: Some(&b),
                after: Some(&a),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(a)
}
