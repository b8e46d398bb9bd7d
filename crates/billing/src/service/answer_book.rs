//! The validation answers of version-2 license callbacks, remembered per (server,
//! request id) in batches ([`super::batch`]): every validation arriving while the last
//! batches are being written goes into the next one, so a busy fleet costs one write
//! (one commit, one turn of SQLite's write lock) per batch instead of one per
//! validation, and an idle one waits for nobody.
//!
//! A validation changes nothing, so its answer may be written after it was decided;
//! a usage report's answer is written in the transaction of its change instead
//! (`license_check`), as the two must stand or fall together. For the same reason the
//! answers are written through a pool whose commits do not wait for the disk
//! (`Db::relaxed_pool`): a commit is visible to every process at once, and what a crash
//! of the database server could lose is the last moments' validation answers, whose
//! repeats would then be decided afresh and still apply nothing. Validations no longer
//! wait a disk flush each (the p99 at a steady rate was the disk's).

use std::collections::HashSet;

use super::batch::Batcher;
use super::ServiceError;
use crate::store::{self, license_callbacks, Db};

/// Answers written in one statement at most.
const MAX_BATCH: usize = 500;

/// Batches written at once: while one waits for its commit to reach the disk, the next
/// is written, so a slow flush does not hold every validation behind it.
const LANES: usize = 2;

/// One answer to remember.
struct Entry {
    server_id: i64,
    request_id: String,
    kind: &'static str,
    outcome: String,
}

/// A handle on the writer of this process's answers (cheap to clone).
#[derive(Clone)]
pub struct AnswerBook {
    batches: Batcher<Entry, bool>,
}

impl AnswerBook {
    /// Starts the writer on `db`; it stops when the last handle is dropped.
    pub fn start(db: Db) -> AnswerBook {
        AnswerBook {
            batches: Batcher::start(LANES, MAX_BATCH, move |batch: Vec<Entry>| {
                let db = db.clone();
                async move { write(&db, batch).await.map_err(|e| e.to_string()) }
            }),
        }
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
        self.batches
            .call(Entry {
                server_id,
                request_id: request_id.to_owned(),
                kind,
                outcome,
            })
            .await
            // The batch's failure is logged once by its lane.
            .map_err(|_| ServiceError::Internal("the answer could not be remembered".into()))
    }
}

/// Writes a batch; answers, per entry, whether its (server, request id) was new.
async fn write(db: &Db, batch: Vec<Entry>) -> Result<Vec<bool>, ServiceError> {
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
    let new: HashSet<(i64, String)> =
        license_callbacks::remember_many(&mut conn, &rows, store::now())
            .await?
            .into_iter()
            .collect();
    // Twins in one batch: the first is the one written, the rest are repeats.
    let mut taken = HashSet::new();
    Ok(batch
        .into_iter()
        .map(|e| {
            let key = (e.server_id, e.request_id);
            new.contains(&key) && taken.insert(key)
        })
        .collect())
}
