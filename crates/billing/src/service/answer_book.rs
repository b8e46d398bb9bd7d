//! The validation answers of version-2 license callbacks, remembered per (server,
//! request id) in batches: every validation arriving while the last batch is being
//! written goes into the next one, so a busy fleet costs one write (one commit, one turn
//! of SQLite's write lock) per batch instead of one per validation, and an idle one
//! waits for nobody.
//!
//! A validation changes nothing, so its answer may be written after it was decided;
//! a usage report's answer is written in the transaction of its change instead
//! (`license_check`), as the two must stand or fall together.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use super::ServiceError;
use crate::store::{self, license_callbacks, Db};

/// Answers written in one statement at most.
const MAX_BATCH: usize = 500;

/// Validations that may wait for a batch; past it, callers wait for room (backpressure).
const QUEUE: usize = 10_000;

/// One answer to remember, and where to say whether its id was new.
struct Entry {
    server_id: i64,
    request_id: String,
    kind: &'static str,
    outcome: String,
    first: oneshot::Sender<Result<bool, ()>>,
}

/// A handle on the writer of this process's answers (cheap to clone).
#[derive(Clone)]
pub struct AnswerBook {
    queue: mpsc::Sender<Entry>,
}

impl AnswerBook {
    /// Starts the writer on `db`; it stops when the last handle is dropped.
    pub fn start(db: Db) -> AnswerBook {
        let (queue, entries) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db, entries));
        AnswerBook { queue }
    }

    /// Remembers `outcome` as the answer to the server's `request_id` (of `kind`);
    /// `false` when the id was used before (by an earlier request, a concurrent twin,
    /// or another process), and then nothing is written.
    pub async fn remember(
        &self,
        server_id: i64,
        request_id: &str,
        kind: &'static str,
        outcome: String,
    ) -> Result<bool, ServiceError> {
        let (first, answer) = oneshot::channel();
        let entry = Entry {
            server_id,
            request_id: request_id.to_owned(),
            kind,
            outcome,
            first,
        };
        let gone = || ServiceError::Internal("the answer writer has stopped".into());
        self.queue.send(entry).await.map_err(|_| gone())?;
        match answer.await.map_err(|_| gone())? {
            Ok(first) => Ok(first),
            Err(()) => Err(ServiceError::Internal(
                "the answer could not be remembered".into(),
            )),
        }
    }
}

async fn write_batches(db: Db, mut entries: mpsc::Receiver<Entry>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(entry) = entries.recv().await {
        batch.push(entry);
        while batch.len() < MAX_BATCH {
            match entries.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        let written = write(&db, &batch).await;
        if let Err(e) = &written {
            tracing::error!(error = %e, answers = batch.len(), "cannot remember license callback answers");
        }
        let mut taken = HashSet::new();
        for entry in batch.drain(..) {
            let key = (entry.server_id, entry.request_id);
            let first = match &written {
                // Twins in one batch: the first is the one written, the rest are repeats.
                Ok(new) => Ok(new.contains(&key) && taken.insert(key)),
                Err(_) => Err(()),
            };
            // The caller may have gone (its client hung up); nothing to tell then.
            let _ = entry.first.send(first);
        }
    }
}

/// Writes a batch; returns the (server, request id) pairs that were new.
async fn write(db: &Db, batch: &[Entry]) -> Result<HashSet<(i64, String)>, ServiceError> {
    let rows: Vec<license_callbacks::NewAnswer<'_>> = batch
        .iter()
        .map(|e| license_callbacks::NewAnswer {
            server_id: e.server_id,
            request_id: &e.request_id,
            kind: e.kind,
            outcome: &e.outcome,
        })
        .collect();
    let mut conn = db.conn().await?;
    Ok(
        license_callbacks::remember_many(&mut conn, &rows, store::now())
            .await?
            .into_iter()
            .collect(),
    )
}
