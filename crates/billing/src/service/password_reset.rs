//! Password reset for billing users: a single-use code with an expiry, stored hashed,
//! sent by email. The request answers the same whether or not the address exists.

use chrono::Duration;
use serde::Deserialize;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{notifications, passwords, random_bytes, tokens, Actor, ServiceError};
use crate::domain::customer::{Email, NewPassword};
use crate::store::{self, Db};
use crate::vault::Vault;

use super::rate_limit::RateLimiter;

/// How long a reset code works.
pub const VALID_MINUTES: i64 = 60;

/// Reset messages one address gets per [`VALID_MINUTES`] at most, so the form cannot
/// be used to flood someone's mailbox.
pub const MAX_PER_WINDOW: i64 = 3;

/// Body of `POST /api/v1/auth/password-reset`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The account's email.
    pub email: String,
}

/// Body of `POST /api/v1/auth/password-reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The code from the email.
    pub token: String,
    /// The new password (10 to 128 characters).
    pub new_password: String,
}

/// Where a reset request comes from, and how many one address may make.
pub struct Requester<'a> {
    /// The client's address.
    pub client: &'a str,
    /// This process's limits.
    pub limits: &'a RateLimiter,
    /// Requests one address may make per hour; past it, 429.
    pub per_hour: u32,
}

/// Queues a reset message (with `reset_url`, `{token}` replaced) when the email belongs
/// to an active user; silent otherwise. One client address may ask `per_hour` times an
/// hour, whatever the addresses it names (the per-recipient limit stops floods of one
/// mailbox, this one a sweep over many).
pub async fn request(
    db: &Db,
    vault: &Vault,
    reset_url: &str,
    from: &Requester<'_>,
    body: ResetRequest,
) -> Result<(), ServiceError> {
    let email = Email::parse(&body.email)?;
    from.limits.check(
        &format!("password-reset:{}", from.client),
        from.per_hour,
        std::time::Duration::from_secs(3_600),
        "password-reset requests from this address",
    )?;
    let mut tx = db.begin().await?;
    let Some(user) = store::users::find_by_email(&mut tx, email.as_str())
        .await?
        .filter(|u| u.is_active)
    else {
        return Ok(());
    };
    let now = store::now();
    let recent = store::password_resets::issued_since(
        &mut tx,
        user.id,
        now - Duration::minutes(VALID_MINUTES),
    )
    .await?;
    if recent >= MAX_PER_WINDOW {
        // Same answer as for an unknown address: the caller learns nothing.
        tracing::warn!(
            user = user.id,
            "password reset requested too often; no message sent"
        );
        return Ok(());
    }
    let token = hex::encode(random_bytes::<24>()?);
    store::password_resets::insert(
        &mut tx,
        user.id,
        &tokens::digest(&token),
        now + Duration::minutes(VALID_MINUTES),
        now,
    )
    .await?;
    let data = serde_json::json!({
        "name": user.full_name,
        "valid_minutes": VALID_MINUTES,
        "reset_url": reset_url.replace("{token}", &token),
    });
    let key = format!("password_reset:{}:{}", user.id, now.timestamp_micros());
    notifications::queue(
        &mut tx,
        vault,
        &key,
        &user.email,
        "password_reset",
        data,
        Some(("token", &token)),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a live code; the code is used up and every session ends.
pub async fn confirm(db: &Db, body: ResetConfirm) -> Result<(), ServiceError> {
    let password = NewPassword::parse("new_password", &body.new_password)?;
    let hash = passwords::hash(password.expose().to_owned()).await?;
    let mut tx = db.begin().await?;
    let now = store::now();
    let user_id = store::password_resets::take(&mut tx, &tokens::digest(body.token.trim()), now)
        .await?
        .ok_or_else(|| {
            crate::domain::Invalid::new(
                "token",
                "the reset code is invalid, expired or already used",
            )
        })?;
    let before = store::users::find(&mut tx, user_id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let mut after = before.clone();
    after.password_hash = Some(hash);
    after.updated_at = now;
    store::users::update(&mut tx, &after).await?;
    store::sessions::revoke_all_for_user(&mut tx, user_id, now).await?;
    let actor = Actor {
        user_id: Some(user_id),
        label: before.email.clone(),
        ..Actor::system()
    };
    audit::record(
        &mut tx,
        &actor,
        Change::<(), _> {
            action: "user.password_reset",
            entity_type: "user",
            entity_id: Some(user_id),
            before: None,
            after: Some(&serde_json::json!({"email": before.email})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
