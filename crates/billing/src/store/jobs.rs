//! The `jobs` table: a durable queue. Jobs are inserted in the transaction of the
//! change that needs them, claimed with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`;
//! SQLite: one writer at a time), and finished only by the holder of the lease.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Page, StoreError, Tx};

/// A row of `jobs`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    /// Primary key.
    pub id: i64,
    /// What to do, e.g. `provision`.
    pub kind: String,
    /// JSON arguments (secrets in it are sealed by the vault).
    pub payload: String,
    /// Unique: the same key never makes a second job.
    pub idempotency_key: String,
    /// `queued`, `running`, `done`, `failed` or `dead`.
    pub state: String,
    /// Attempts started so far.
    pub attempts: i64,
    /// Attempts allowed before `dead`.
    pub max_attempts: i64,
    /// Not before this time.
    pub run_at: DateTime<Utc>,
    /// The lease of the running attempt.
    pub locked_until: Option<DateTime<Utc>>,
    /// Token of the attempt holding the lease.
    pub locked_by: Option<String>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// The hosting account it concerns.
    pub hosting_account_id: Option<i64>,
    /// What the job reports on success (e.g. "the panel was not changed").
    pub result: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, payload, idempotency_key, state, attempts, max_attempts, run_at, locked_until, locked_by, \
    last_error, hosting_account_id, result, created_at, updated_at, finished_at";

/// A job to enqueue.
pub struct NewJob<'a> {
    /// Kind.
    pub kind: &'a str,
    /// JSON payload.
    pub payload: &'a str,
    /// Unique key.
    pub idempotency_key: &'a str,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Hosting account concerned.
    pub hosting_account_id: Option<i64>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Enqueues a job unless one with the same key exists; returns the job either way.
pub async fn enqueue(tx: &mut Tx, j: &NewJob<'_>) -> Result<JobRow, StoreError> {
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_at, hosting_account_id, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $5, $5) ON CONFLICT (idempotency_key) DO NOTHING"
    )
    .bind(j.kind)
    .bind(j.payload)
    .bind(j.idempotency_key)
    .bind(j.max_attempts)
    .bind(j.now)
    .bind(j.hosting_account_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE idempotency_key = $1");
    let row = on_conn!(tx, |c| sqlx::query_as::<_, JobRow>(&sql)
        .bind(j.idempotency_key)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Whether some job is due (or its lease expired): a read, for idle workers to look
/// before they take a turn among the writers (SQLite).
pub async fn any_due(conn: &mut impl AsConn, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let any: bool = on_conn!(conn, |c| sqlx::query_scalar(&format!(
        "SELECT EXISTS ({PICK})"
    ))
    .bind(now)
    .fetch_one(c)
    .await)?;
    Ok(any)
}

/// The next due job (binding `$1` now): the oldest queued one, or one whose lease expired.
const PICK: &str = "SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $1) OR (state = 'running' AND locked_until < $1) \
                    ORDER BY run_at, id LIMIT 1";

/// Claims the next due job (or one whose lease expired) for `lease_until`, marking it
/// running under `token` and counting the attempt.
pub async fn claim(
    conn: &mut impl AsConn,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: &str,
) -> Result<Option<JobRow>, StoreError> {
    let update = "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $2, locked_by = $3, updated_at = $1";
    super::claim_next(conn, update, PICK, COLUMNS, now, lease_until, token).await
}

/// How a job ended.
pub struct Finish<'a> {
    /// `done`, `failed` or `dead`.
    pub state: &'a str,
    /// The error, for `failed` and `dead`.
    pub error: Option<&'a str>,
    /// The report, for `done`.
    pub result: Option<&'a str>,
}

/// Moves a job the caller still holds to a final state; returns false when the lease
/// was lost to another worker.
pub async fn finish(
    tx: &mut Tx,
    id: i64,
    token: &str,
    end: &Finish<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE jobs SET state = $3, last_error = COALESCE($4, last_error), result = $5, locked_until = NULL, \
         finished_at = $6, updated_at = $6 WHERE id = $1 AND locked_by = $2 AND state = 'running'"
    )
    .bind(id)
    .bind(token)
    .bind(end.state)
    .bind(end.error)
    .bind(end.result)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Whether a job put back in the queue keeps the attempt it just used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// It failed: the attempt counts towards `max_attempts`.
    Used,
    /// It only waited (for an account still being created, for a server): the attempt
    /// is given back, so waiting never kills the job.
    Returned,
}

/// Puts a job the caller holds back in the queue for `run_at`, recording why.
pub async fn retry_at(
    tx: &mut Tx,
    id: i64,
    token: &str,
    run_at: DateTime<Utc>,
    note: &str,
    attempt: Attempt,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let attempts = match attempt {
        Attempt::Used => "attempts",
        Attempt::Returned => "CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'queued', run_at = $3, last_error = $4, locked_until = NULL, locked_by = NULL, \
         attempts = {attempts}, updated_at = $5 WHERE id = $1 AND locked_by = $2 AND state = 'running'"
    );
    let n = on_conn!(tx, |c| sqlx::query(&sql)
        .bind(id)
        .bind(token)
        .bind(run_at)
        .bind(note)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Replaces a job's payload (to erase a sealed password once it is no longer needed).
pub async fn set_payload(tx: &mut Tx, id: i64, payload: &str) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE jobs SET payload = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(payload)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Requeues a `dead` or `failed` job for a fresh set of attempts (admin retry).
pub async fn requeue(tx: &mut Tx, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, locked_until = NULL, locked_by = NULL, finished_at = NULL, updated_at = $2 \
         WHERE id = $1 AND state IN ('dead', 'failed')"
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Finds a job.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<JobRow>, StoreError> {
    super::find_row(conn, "jobs", COLUMNS, id, None).await
}

/// The newest job of a kind for an account.
pub async fn latest_for_account(
    conn: &mut impl AsConn,
    account_id: i64,
    kind: &str,
) -> Result<Option<JobRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE hosting_account_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, JobRow>(&sql)
        .bind(account_id)
        .bind(kind)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Lists jobs newest first, optionally in one state.
pub async fn list(
    conn: &mut impl AsConn,
    state: Option<&str>,
    page: Page,
) -> Result<super::Listed<JobRow>, StoreError> {
    let filters = super::Filters::new().eq("state", state);
    super::list_page(conn, "jobs", COLUMNS, filters, page).await
}
