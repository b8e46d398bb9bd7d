//! The `email_outbox` table: every message is a row first, written in the transaction
//! of the event that causes it, then claimed with a lease and sent.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Page, StoreError, Tx};

/// A row of `email_outbox`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    /// Primary key.
    pub id: i64,
    /// Unique key of the event, so one event queues one message.
    pub event_key: String,
    /// Recipient address.
    pub recipient: String,
    /// Template name.
    pub template: String,
    /// JSON template data (no secrets).
    pub data: String,
    /// A secret for the message (the temporary password), sealed; erased once sent.
    pub secret_sealed: Option<String>,
    /// `queued`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Send attempts so far.
    pub attempts: i64,
    /// Not before this time.
    pub next_attempt_at: DateTime<Utc>,
    /// Lease of the sending attempt.
    pub locked_until: Option<DateTime<Utc>>,
    /// Token of the attempt holding the lease.
    pub locked_by: Option<String>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the SMTP server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, event_key, recipient, template, data, secret_sealed, state, attempts, next_attempt_at, \
    locked_until, locked_by, last_error, created_at, sent_at";

/// Queues a message unless one for the same event exists; returns whether it was new.
pub async fn insert(
    tx: &mut Tx,
    event_key: &str,
    recipient: &str,
    template: &str,
    data: &str,
    secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let message = NewMessage {
        event_key: event_key.to_owned(),
        recipient: recipient.to_owned(),
        template: template.to_owned(),
        data: data.to_owned(),
        secret: secret.map(str::to_owned),
    };
    Ok(insert_many(tx, std::slice::from_ref(&message), now).await? == 1)
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Unique per event: a second message for the same event is not queued.
    pub event_key: String,
    /// Email address.
    pub recipient: String,
    /// Template name.
    pub template: String,
    /// Template data (JSON).
    pub data: String,
    /// A sealed secret sent with it, erased once sent.
    pub secret: Option<String>,
}

/// Queues messages in one statement, each unless its event was queued before; returns
/// how many were queued.
pub async fn insert_many(
    tx: &mut Tx,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let values = (0..messages.len())
        .map(|m| {
            let p = m * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, 'queued', 0, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 6
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO email_outbox (event_key, recipient, template, data, secret_sealed, state, attempts, next_attempt_at, created_at) \
         VALUES {values} ON CONFLICT (event_key) DO NOTHING"
    );
    let n = on_conn!(tx, |c| {
        let mut q = sqlx::query(&sql);
        for m in messages {
            q = q
                .bind(&m.event_key)
                .bind(&m.recipient)
                .bind(&m.template)
                .bind(&m.data)
                .bind(&m.secret)
                .bind(now);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(n)
}

/// Claims the next due message (or one whose sender died) under `token` until `lease_until`.
pub async fn claim(
    conn: &mut impl AsConn,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: &str,
) -> Result<Option<OutboxRow>, StoreError> {
    let pick = "SELECT id FROM email_outbox WHERE (state = 'queued' AND next_attempt_at <= $1) \
                OR (state = 'sending' AND locked_until < $1) ORDER BY next_attempt_at, id LIMIT 1";
    let update = "UPDATE email_outbox SET state = 'sending', attempts = attempts + 1, locked_until = $2, locked_by = $3";
    super::claim_next(conn, update, pick, COLUMNS, now, lease_until, token).await
}

/// Marks a message sent and erases its secret.
pub async fn mark_sent(
    conn: &mut impl AsConn,
    id: i64,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| {
        sqlx::query(
        "UPDATE email_outbox SET state = 'sent', sent_at = $3, secret_sealed = NULL, locked_until = NULL, last_error = NULL \
         WHERE id = $1 AND locked_by = $2"
    )
    .bind(id)
    .bind(token)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Puts a message back in the queue for `at` (or `failed` when `give_up`), recording the error.
pub async fn retry(
    conn: &mut impl AsConn,
    id: i64,
    token: &str,
    at: DateTime<Utc>,
    error: &str,
    give_up: bool,
) -> Result<(), StoreError> {
    let state = if give_up { "failed" } else { "queued" };
    on_conn!(conn, |c| {
        sqlx::query(
        "UPDATE email_outbox SET state = $3, next_attempt_at = $4, last_error = $5, locked_until = NULL, locked_by = NULL \
         WHERE id = $1 AND locked_by = $2"
    )
    .bind(id)
    .bind(token)
    .bind(state)
    .bind(at)
    .bind(error)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Queues a failed or sent message again (admin resend).
pub async fn requeue(
    conn: &mut impl AsConn,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(conn, |c| {
        sqlx::query(
        "UPDATE email_outbox SET state = 'queued', attempts = 0, next_attempt_at = $2, locked_until = NULL, locked_by = NULL \
         WHERE id = $1 AND state IN ('failed', 'sent')"
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Finds a message.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<OutboxRow>, StoreError> {
    super::find_row(conn, "email_outbox", COLUMNS, id, None).await
}

/// Lists messages newest first, optionally in one state.
pub async fn list(
    conn: &mut impl AsConn,
    state: Option<&str>,
    page: Page,
) -> Result<super::Listed<OutboxRow>, StoreError> {
    let filters = super::Filters::new().eq("state", state);
    super::list_page(conn, "email_outbox", COLUMNS, filters, page).await
}

/// Messages waiting to be sent (for `/ready`).
pub async fn queued_count(conn: &mut impl AsConn) -> Result<i64, StoreError> {
    let n: i64 = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM email_outbox WHERE state IN ('queued', 'sending')"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}
