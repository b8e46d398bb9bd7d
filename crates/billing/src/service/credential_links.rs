//! Welcome credentials by link (`welcome_credentials = "link"`): instead of the hosting
//! password, the welcome email carries a single-use link that expires
//! (`credential_link_hours`, default 72). The customer opens it signed in to the portal
//! and sees the password once; then it is erased. The link's code travels in the URL
//! fragment, so it reaches no server log, and only its digest is stored.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{random_bytes, tokens, Actor, ServiceError};
use crate::config::Settings;
use crate::domain::Invalid;
use crate::store::credential_links::CredentialLinkRow;
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// Body of `POST /api/v1/me/credentials/reveal`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    /// The code from the welcome email's link.
    pub token: String,
}

/// A hosting account's credentials, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct Credentials {
    /// The hosting account.
    pub account_id: i64,
    /// Its username.
    pub username: String,
    /// The temporary password: change it after the first login.
    pub password: String,
    /// Where to log in.
    pub panel_url: Option<String>,
}

/// Makes the link for an account whose password is `sealed`; returns the URL for the
/// welcome email.
pub(crate) async fn create(
    tx: &mut Tx,
    settings: &Settings,
    account_id: i64,
    customer_id: i64,
    sealed: &str,
) -> Result<String, ServiceError> {
    let token = hex::encode(random_bytes::<24>()?);
    let now = store::now();
    store::credential_links::insert(
        tx,
        &CredentialLinkRow {
            token_digest: tokens::digest(&token),
            account_id,
            customer_id,
            sealed_password: Some(sealed.to_owned()),
            expires_at: now + Duration::hours(settings.credential_link_hours),
            revealed_at: None,
            created_at: now,
        },
    )
    .await?;
    Ok(format!(
        "{}/ui/#/my/credentials/{token}",
        settings.public_url
    ))
}

/// Shows the password behind a link to its customer, once.
pub async fn reveal(
    db: &Db,
    vault: &Vault,
    actor: &Actor,
    body: RevealRequest,
) -> Result<Credentials, ServiceError> {
    let me = actor.user_id.ok_or(ServiceError::NotFound("link"))?;
    let digest = tokens::digest(body.token.trim());
    let mut tx = db.begin().await?;
    // Someone else's link is "not found", like a made-up one.
    let link = store::credential_links::find(&mut tx, &digest)
        .await?
        .filter(|l| l.customer_id == me)
        .ok_or(ServiceError::NotFound("link"))?;
    if link.revealed_at.is_some() {
        return Err(ServiceError::Conflict {
            field: Some("token".into()),
            message: "this link was used already: the password is shown only once; reset it in the panel \
                      or ask support"
                .into(),
        });
    }
    let now = store::now();
    let sealed = match (&link.sealed_password, link.expires_at > now) {
        (Some(sealed), true) => sealed.clone(),
        _ => {
            return Err(Invalid::new(
                "token",
                "the link has expired; ask support to set a new password",
            )
            .into())
        }
    };
    if !store::credential_links::use_up(&mut tx, &digest, now).await? {
        return Err(ServiceError::Conflict {
            field: Some("token".into()),
            message: "this link was used already".into(),
        });
    }
    let account = store::hosting_accounts::find(&mut tx, link.account_id)
        .await?
        .ok_or(ServiceError::NotFound("hosting account"))?;
    let panel_url = super::accounts::panel_url(&mut tx, account.server_id).await?;
    let password = vault
        .open(&sealed)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    super::audit::record(
        &mut tx,
        actor,
        super::audit::Change::<(), _> {
            action: "account.credentials_revealed",
            entity_type: "hosting_account",
            entity_id: Some(account.id),
            before: None,
            after: Some(&serde_json::json!({"via": "link"})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Credentials {
        account_id: account.id,
        username: account.username,
        password,
        panel_url,
    })
}
