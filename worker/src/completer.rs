//! The completer: one task per worker process that records successful attempts without
//! result files in batches. Supervisors hand it their job's success and wait for the
//! verdict; it takes whatever is waiting (up to [`MAX_BATCH`]) and writes it with one
//! fenced statement on a connection it keeps (`lease::succeed_many`: every row still
//! checked against its own lease token, so a zombie's success is rejected and its
//! supervisor learns it lost the lease), then one Redis script call frees the slots
//! and sends the events. While a batch is written the next one accumulates, so the
//! cost per job falls as the load rises.
//!
//! It is not the only way outcomes are recorded: failures, cancellations, releases and
//! successes with result files (which are registered and charged in their completing
//! transaction) go through `lease::finish` as before. Nothing is buffered beyond the
//! waiting supervisors: a crash loses no acknowledged completion, only unwritten ones,
//! whose leases expire and whose jobs run again (at-least-once).

use std::sync::Arc;

use deadpool_postgres::Pool;
use fairlane_shared::jobs::lease::{self, Success};
use fairlane_shared::jobs::{ClaimedJob, JobError, JobState, Progress};
use fairlane_shared::redis_conn::Redis;
use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::runtime::KeptConnection;

/// Most successes written by one statement.
pub const MAX_BATCH: usize = 256;

struct Pending {
    success: Success,
    reply: oneshot::Sender<Result<Option<JobState>, String>>,
}

/// The handle supervisors use; cheap to clone.
#[derive(Debug, Clone)]
pub struct Completer {
    tx: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("job", &self.success.job)
            .finish_non_exhaustive()
    }
}

impl Completer {
    /// Starts the completer task; `written` is notified after every batch (slots of
    /// the jobs' owners are free again in Redis: the dispatcher may claim).
    pub fn start(db: Pool, redis: Redis, written: Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, redis, rx, written));
        Self { tx }
    }

    /// Records a successful attempt without result files; `Ok(None)` when the lease was
    /// lost (nothing was written), like `lease::finish`.
    pub async fn succeeded(
        &self,
        claimed: &ClaimedJob,
        summary: Value,
        progress: Option<Progress>,
    ) -> Result<Option<JobState>, JobError> {
        let (reply, verdict) = oneshot::channel();
        let pending = Pending {
            success: Success {
                job: claimed.job,
                lease_token: claimed.lease_token,
                summary,
                progress,
            },
            reply,
        };
        let gone = || JobError::Infra(anyhow::anyhow!("the completer stopped").into());
        self.tx.send(pending).map_err(|_| gone())?;
        verdict
            .await
            .map_err(|_| gone())?
            .map_err(|e| JobError::Infra(anyhow::anyhow!(e).into()))
    }
}

async fn run(
    db: Pool,
    redis: Redis,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    written: Arc<Notify>,
) {
    let mut db = KeptConnection::new(db);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (successes, replies): (Vec<Success>, Vec<_>) =
            batch.drain(..).map(|p| (p.success, p.reply)).unzip();
        let recorded = match db.get().await {
            Ok(client) => lease::succeed_many(client, &redis, successes).await,
            Err(e) => Err(e.into()),
        };
        if recorded.is_err() {
            db.discard();
        }
        match recorded {
            Ok(recorded) => {
                for (reply, recorded) in replies.into_iter().zip(recorded) {
                    let _ = reply.send(Ok(recorded.then_some(JobState::Succeeded)));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
        written.notify_one();
    }
}
