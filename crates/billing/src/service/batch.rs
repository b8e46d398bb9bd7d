//! Gathers requests that arrive together into batches for one call each: a busy
//! server then pays one statement (one round trip, one executor start-up) per batch
//! instead of one per request, and an idle one waits for nobody, since a lane takes
//! whatever is queued the moment it is free.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::ServiceError;

/// Requests that may wait for a lane; past it, callers wait for room (backpressure).
const QUEUE: usize = 10_000;

/// One request and where its result goes.
struct Waiting<I, O> {
    item: I,
    reply: oneshot::Sender<Result<O, String>>,
}

/// A handle on the lanes that run batches of `I` into an `O` each (cheap to clone).
pub struct Batcher<I, O> {
    queue: mpsc::Sender<Waiting<I, O>>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Batcher {
            queue: self.queue.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    /// Starts `lanes` tasks, each running `run` on up to `max_batch` queued requests at a
    /// time; `run` answers one result per request, in order, or an error for them all.
    /// The lanes stop when the last handle is dropped.
    pub fn start<F, Fut>(lanes: usize, max_batch: usize, run: F) -> Batcher<I, O>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, String>> + Send + 'static,
    {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        let run = Arc::new(run);
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(waiting.clone(), run.clone(), max_batch.max(1)));
        }
        Batcher { queue }
    }

    /// Queues `item` for the next free lane and waits for its result.
    pub async fn call(&self, item: I) -> Result<O, ServiceError> {
        let (reply, result) = oneshot::channel();
        let gone = || ServiceError::Internal("the batch lanes have stopped".into());
        self.queue
            .send(Waiting { item, reply })
            .await
            .map_err(|_| gone())?;
        result
            .await
            .map_err(|_| gone())?
            .map_err(ServiceError::Internal)
    }
}

async fn lane<I, O, F, Fut>(
    waiting: Arc<Mutex<mpsc::Receiver<Waiting<I, O>>>>,
    run: Arc<F>,
    max_batch: usize,
) where
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<Vec<O>, String>>,
{
    loop {
        let mut batch = Vec::new();
        {
            // One lane gathers at a time; the others are running their batches.
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < max_batch {
                match waiting.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
        }
        let (items, replies): (Vec<I>, Vec<_>) =
            batch.into_iter().map(|w| (w.item, w.reply)).unzip();
        let asked = items.len();
        match run(items).await {
            Ok(results) if results.len() == asked => {
                for (reply, result) in replies.into_iter().zip(results) {
                    // The caller may have gone (its client hung up); nothing to tell then.
                    let _ = reply.send(Ok(result));
                }
            }
            outcome => {
                let error = match outcome {
                    Err(e) => e,
                    Ok(results) => format!(
                        "a batch of {asked} requests answered {} results",
                        results.len()
                    ),
                };
                tracing::error!(error = %error, requests = asked, "a batch failed");
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_caller_gets_its_own_result_and_errors_reach_every_caller() {
        let doubled = Batcher::start(2, 4, |items: Vec<i64>| async move {
            Ok(items.into_iter().map(|i| i * 2).collect())
        });
        let calls = (0..50).map(|i| {
            let b = doubled.clone();
            tokio::spawn(async move { (i, b.call(i).await) })
        });
        for call in calls {
            let (i, result) = call.await.expect("task");
            assert_eq!(result.expect("doubled"), i * 2);
        }
        let failing = Batcher::start(1, 8, |_: Vec<i64>| async move {
            Err::<Vec<i64>, _>("no database".to_owned())
        });
        let err = failing.call(1).await.expect_err("fails");
        assert!(err.to_string().contains("no database"), "{err}");
        let short = Batcher::start(1, 8, |_: Vec<i64>| async move { Ok(Vec::<i64>::new()) });
        assert!(short.call(1).await.is_err());
    }
}
