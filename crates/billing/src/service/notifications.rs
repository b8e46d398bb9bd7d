//! Notifications: every message is first an outbox row written in the transaction of
//! the event that causes it, then sent by the mailer. A down SMTP server delays mail
//! (retries with backoff), never loses it; a message is marked sent only after the
//! SMTP server accepted it. Secrets (the temporary hosting password, a reset code)
//! are sealed in the row until it is sent, then erased.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{random_bytes, Actor, Paginated, ServiceError};
use crate::domain::hosting::backoff_ms;
use crate::domain::Invalid;
use crate::mail::smtp::{Attachment, SmtpSender};
use crate::mail::templates::Templates;
use crate::store::outbox::OutboxRow;
use crate::store::{self, Db, Page, Tx};
use crate::vault::Vault;

/// Queues `template` to `recipient` for the event `event_key` (one message per event),
/// in the caller's transaction. `secret` is sealed and shown to the template as `secret_field`.
pub async fn queue(
    tx: &mut Tx,
    vault: &Vault,
    event_key: &str,
    recipient: &str,
    template: &str,
    mut data: Value,
    secret: Option<(&str, &str)>,
) -> Result<(), ServiceError> {
    let sealed = match secret {
        Some((field, plain)) => {
            if let Some(obj) = data.as_object_mut() {
                obj.insert("secret_field".into(), Value::String(field.to_owned()));
            }
            Some(
                vault
                    .seal(plain)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            )
        }
        None => None,
    };
    store::outbox::insert(
        tx,
        event_key,
        recipient,
        template,
        &data.to_string(),
        sealed.as_deref(),
        store::now(),
    )
    .await?;
    Ok(())
}

/// Queues a message whose secret is already sealed by the vault (the provision job's password).
pub async fn queue_sealed(
    tx: &mut Tx,
    event_key: &str,
    recipient: &str,
    template: &str,
    mut data: Value,
    field: &str,
    sealed: Option<&str>,
) -> Result<(), ServiceError> {
    if sealed.is_some() {
        if let Some(obj) = data.as_object_mut() {
            obj.insert("secret_field".into(), Value::String(field.to_owned()));
        }
    }
    store::outbox::insert(
        tx,
        event_key,
        recipient,
        template,
        &data.to_string(),
        sealed,
        store::now(),
    )
    .await?;
    Ok(())
}

/// Queues a message to every active admin (server alerts).
pub async fn queue_to_admins(
    tx: &mut Tx,
    event_key: &str,
    template: &str,
    data: Value,
) -> Result<(), ServiceError> {
    let filter = store::users::UserFilter {
        roles: &["admin"],
        search: None,
        include_inactive: false,
    };
    let admins = store::users::list(tx, &filter, Page::first(200)).await?;
    for admin in admins.rows {
        store::outbox::insert(
            tx,
            &format!("{event_key}:{}", admin.id),
            &admin.email,
            template,
            &data.to_string(),
            None,
            store::now(),
        )
        .await?;
    }
    Ok(())
}

/// Sends queued messages.
#[derive(Clone, Debug)]
pub struct Mailer {
    /// The database.
    pub db: Db,
    /// Opens sealed secrets.
    pub vault: Vault,
    /// The SMTP sender.
    pub sender: SmtpSender,
    /// Message templates.
    pub templates: Templates,
    /// The configuration (the seller on attached invoices).
    pub settings: std::sync::Arc<crate::config::Settings>,
    /// Attempts before a message is marked failed.
    pub max_attempts: i64,
    /// First retry delay (doubles each attempt).
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_cap_ms: u64,
    /// Lease of a message being sent (renewed while it is).
    pub lease_secs: u64,
}

impl Mailer {
    /// Claims and sends one due message; false when none was due.
    pub async fn send_next(&self) -> Result<bool, ServiceError> {
        let token = hex::encode(random_bytes::<16>()?);
        let now = store::now();
        let mut conn = self.db.conn().await?;
        // A short lease renewed while sending: a live sender is never overtaken, and a
        // dead one's message goes out again within one lease.
        let lease = std::time::Duration::from_secs(self.lease_secs);
        let until = now + ChronoDuration::from_std(lease).unwrap_or(ChronoDuration::seconds(15));
        let Some(row) = store::outbox::claim(&mut conn, now, until, &token).await? else {
            return Ok(false);
        };
        let _heartbeat = super::leases::Heartbeat::start(
            self.db.clone(),
            store::LeasedTable::Outbox,
            row.id,
            token.clone(),
            lease,
        );
        match self.deliver(&row).await {
            Ok(()) => {
                store::outbox::mark_sent(&mut conn, row.id, &token, store::now()).await?;
                tracing::info!(message = row.id, template = %row.template, "email sent");
            }
            Err(error) => {
                let give_up = row.attempts >= self.max_attempts;
                let jitter = f64::from(random_bytes::<1>()?[0]) / 256.0;
                let delay = backoff_ms(
                    row.attempts,
                    self.backoff_base_ms,
                    self.backoff_cap_ms,
                    jitter,
                );
                let at = store::now()
                    + ChronoDuration::milliseconds(i64::try_from(delay).unwrap_or(i64::MAX / 2));
                tracing::warn!(message = row.id, attempt = row.attempts, give_up, %error, "email not sent");
                store::outbox::retry(&mut conn, row.id, &token, at, &error, give_up).await?;
            }
        }
        Ok(true)
    }

    async fn deliver(&self, row: &OutboxRow) -> Result<(), String> {
        let mut data: Value =
            serde_json::from_str(&row.data).map_err(|e| format!("unreadable message data: {e}"))?;
        if let (Some(sealed), Some(field)) = (
            &row.secret_sealed,
            data.get("secret_field")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ) {
            let secret = self.vault.open(sealed).map_err(|e| e.to_string())?;
            if let Some(obj) = data.as_object_mut() {
                obj.insert(field, Value::String(secret));
            }
        }
        let rendered = self
            .templates
            .render(&row.template, &data)
            .map_err(|e| e.to_string())?;
        let domain = row
            .recipient
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d);
        let message_id = format!(
            "<nextpanel-bill.{}.{}@{}>",
            row.id,
            row.created_at.timestamp(),
            domain
        );
        let attachments = self.attachments(&data).await?;
        self.sender
            .send(&row.recipient, &rendered, &message_id, &attachments)
            .await
            .map_err(|e| e.to_string())
    }

    /// The files a message carries: `attach_invoice` is an invoice id whose PDF goes
    /// with it, rendered now (so it shows the invoice as it is when sent).
    async fn attachments(&self, data: &Value) -> Result<Vec<Attachment>, String> {
        let Some(id) = data.get("attach_invoice").and_then(Value::as_i64) else {
            return Ok(Vec::new());
        };
        let mut conn = self.db.conn().await.map_err(|e| e.to_string())?;
        let Some(row) = store::invoices::find(&mut conn, id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(Vec::new());
        };
        let doc = super::documents::invoice_document(&mut conn, &self.settings, &row)
            .await
            .map_err(|e| e.to_string())?;
        let pdf = super::documents::pdf(&doc);
        Ok(vec![Attachment {
            filename: format!("{}.pdf", pdf.number),
            content_type: "application/pdf".to_owned(),
            bytes: pdf.body,
        }])
    }

    /// Sends messages until the process ends, idling briefly when there is nothing to send.
    pub async fn run(self) {
        loop {
            match self.send_next().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(e) => {
                    tracing::error!(error = %e, "mailer could not claim a message");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// A message as admins see it (never the sealed secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailView {
    /// Message id.
    pub id: i64,
    /// The event that caused it.
    pub event_key: String,
    /// Recipient.
    pub recipient: String,
    /// Template.
    pub template: String,
    /// `queued`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Last error.
    pub last_error: Option<String>,
    /// Whether a secret is still waiting to be sent.
    pub holds_secret: bool,
    /// Queued at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Next attempt.
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    /// Sent at.
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&OutboxRow> for EmailView {
    fn from(r: &OutboxRow) -> Self {
        EmailView {
            id: r.id,
            event_key: r.event_key.clone(),
            recipient: r.recipient.clone(),
            template: r.template.clone(),
            state: r.state.clone(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            holds_secret: r.secret_sealed.is_some(),
            created_at: r.created_at,
            next_attempt_at: r.next_attempt_at,
            sent_at: r.sent_at,
        }
    }
}

/// Lists messages (admin and staff).
pub async fn list(
    db: &Db,
    actor: &Actor,
    state: Option<&str>,
    page: Page,
) -> Result<Paginated<EmailView>, ServiceError> {
    actor.require_staff()?;
    if let Some(s) = state {
        if !["queued", "sending", "sent", "failed"].contains(&s) {
            return Err(Invalid::new("state", "must be queued, sending, sent or failed").into());
        }
    }
    let mut conn = db.read().await?;
    let listed = store::outbox::list(&mut conn, state, page).await?;
    Ok(Paginated::of(page, listed, |r| EmailView::from(&r)))
}

/// Queues a failed (or sent) message again (admin). A welcome message whose password was
/// already erased is sent without it; the template then says to ask support.
pub async fn resend(db: &Db, actor: &Actor, id: i64) -> Result<EmailView, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    let row = store::outbox::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("email"))?;
    if !store::outbox::requeue(&mut conn, id, store::now()).await? {
        return Err(ServiceError::Conflict {
            field: Some("state".into()),
            message: format!("a {} message is already on its way", row.state),
        });
    }
    let after = store::outbox::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("email"))?;
    Ok(EmailView::from(&after))
}

/// The data of a welcome message (the password is added from the sealed secret at send time).
pub fn welcome_data(name: &str, username: &str, panel_url: &str, license_key: &str) -> Value {
    json!({"name": name, "username": username, "panel_url": panel_url, "license_key": license_key})
}
