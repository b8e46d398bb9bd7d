//! The `license_callbacks` table: each (server, request_id) a version-2 license
//! callback used, with the answer it got, so that a repeat is answered the same and
//! applies nothing.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, StoreError};

/// What a request id was first used for, and the answer it got (JSON).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Remembered {
    /// `validate` or `usage`.
    pub kind: String,
    /// The answer, as the service serialised it.
    pub outcome: String,
}

/// Remembers the answer to a request id; `false` when the id was already taken
/// (by an earlier request, or a concurrent one that committed first), and then
/// nothing is written. Inside a transaction, a `false` means: roll back.
pub async fn remember(
    conn: &mut impl AsConn,
    server_id: i64,
    request_id: &str,
    kind: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = on_conn!(conn, |c| sqlx::query(
        "INSERT INTO license_callbacks (server_id, request_id, kind, outcome, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server_id, request_id) DO NOTHING"
    )
    .bind(server_id)
    .bind(request_id)
    .bind(kind)
    .bind(outcome)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// An answer to remember.
#[derive(Debug, Clone, Copy)]
pub struct NewAnswer<'a> {
    /// The calling server.
    pub server_id: i64,
    /// Its request id.
    pub request_id: &'a str,
    /// `validate` or `usage`.
    pub kind: &'a str,
    /// The answer (JSON).
    pub outcome: &'a str,
}

/// Remembers many answers in one statement; returns the (server, request id) pairs that
/// were new (an id taken before is left as it was). Twins within `answers` are written
/// once.
pub async fn remember_many(
    conn: &mut impl AsConn,
    answers: &[NewAnswer<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, String)>, StoreError> {
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let values = (0..answers.len())
        .map(|a| {
            let p = a * 4;
            format!("(${}, ${}, ${}, ${}, $1)", p + 2, p + 3, p + 4, p + 5)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO license_callbacks (server_id, request_id, kind, outcome, created_at) \
         VALUES {values} ON CONFLICT (server_id, request_id) DO NOTHING RETURNING server_id, request_id"
    );
    let rows = on_conn!(conn, |c| {
        let mut q = sqlx::query_as::<_, (i64, String)>(&sql).bind(now);
        for a in answers {
            q = q
                .bind(a.server_id)
                .bind(a.request_id)
                .bind(a.kind)
                .bind(a.outcome);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows)
}

/// The remembered answer to a server's request id, if it used that id before.
pub async fn find(
    conn: &mut impl AsConn,
    server_id: i64,
    request_id: &str,
) -> Result<Option<Remembered>, StoreError> {
    let row = on_conn!(conn, |c| sqlx::query_as::<_, Remembered>(
        "SELECT kind, outcome FROM license_callbacks WHERE server_id = $1 AND request_id = $2"
    )
    .bind(server_id)
    .bind(request_id)
    .fetch_optional(c)
    .await)?;
    Ok(row)
}
