//! What every part of a worker process shares: connections, identity, settings,
//! metrics, the signals that drive shutdown, the cancellation switches of running
//! jobs (fed by the Redis cancel channel), the dispatcher's wake-up and the completer.
//!
//! `Runtime::new` starts the completer task, so it must be called inside Tokio.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use fairlane_shared::jobs;
use fairlane_shared::redis_conn::Redis;
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::claim_ahead::ClaimAhead;
use crate::completer::Completer;
use crate::contexts::UserContexts;
use crate::metrics::Metrics;
use crate::services::{Services, TableCores};
use crate::settings::WorkerSettings;

/// One claimed job counted by [`Runtime::hold`]; dropping it wakes the dispatcher
/// when the process holds nothing any more (a draining dispatcher waits for that).
#[derive(Debug)]
pub struct HeldJob {
    held: Arc<AtomicUsize>,
    wake: Arc<Notify>,
}

impl Drop for HeldJob {
    fn drop(&mut self) {
        if self.held.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.wake.notify_one();
        }
    }
}

/// Shared state of one worker process.
#[derive(Debug)]
pub struct Runtime {
    /// Postgres.
    pub db: Pool,
    /// Redis.
    pub redis: Redis,
    /// Unique to this process start; recorded on every claim.
    pub worker_id: String,
    /// Settings.
    pub settings: WorkerSettings,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// What job code may use.
    pub services: Arc<Services>,
    /// Turns true when the shutdown grace period is over: running jobs are released.
    pub grace_expired: watch::Receiver<bool>,
    /// Tells the dispatcher to claim now: work was published or slots were freed.
    pub wake: Arc<Notify>,
    /// Records successes in batches.
    pub completer: Completer,
    /// The run slots, and how many jobs to hold beyond them.
    pub claim_ahead: ClaimAhead,
    /// Jobs this process claimed whose outcome is not written yet (running or
    /// completing): the dispatcher claims a suspect only when it is zero.
    held: Arc<AtomicUsize>,
    cancellations: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
}

impl Runtime {
    /// Counts a freshly claimed job until the returned guard is dropped (after its
    /// outcome is written, or its claim given up).
    pub fn hold(&self) -> HeldJob {
        self.held.fetch_add(1, Ordering::SeqCst);
        HeldJob {
            held: self.held.clone(),
            wake: self.wake.clone(),
        }
    }

    /// How many claimed jobs are running or completing in this process.
    pub fn held_jobs(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Assembles the runtime.
    pub fn new(
        db: Pool,
        redis: Redis,
        worker_id: String,
        settings: WorkerSettings,
        grace_expired: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let services = Arc::new(Services {
            db: db.clone(),
            redis: redis.clone(),
            data_dir: settings.common.data_dir.clone(),
            keyring: settings.keyring.clone(),
            broker: settings.broker.clone(),
            contexts: Arc::new(UserContexts::new(settings.context_idle)),
            table_cores: TableCores::of_this_machine(),
            forecast: settings.forecast.clone(),
        });
        let wake = Arc::new(Notify::new());
        let completer = Completer::start(db.clone(), redis.clone(), wake.clone());
        let claim_ahead = ClaimAhead::new(settings.concurrency, settings.claim_ahead);
        Arc::new(Self {
            db,
            redis,
            worker_id,
            settings,
            metrics: Metrics::new(),
            services,
            grace_expired,
            wake,
            completer,
            claim_ahead,
            held: Arc::new(AtomicUsize::new(0)),
            cancellations: Mutex::new(HashMap::new()),
        })
    }

    /// Registers a running job; the receiver turns true when its owner cancels it.
    pub fn watch_cancel(&self, job_id: Uuid) -> (watch::Sender<bool>, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        self.lock_cancellations().insert(job_id, tx.clone());
        (tx, rx)
    }

    /// Forgets a job that stopped running.
    pub fn unwatch_cancel(&self, job_id: Uuid) {
        self.lock_cancellations().remove(&job_id);
    }

    fn lock_cancellations(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<bool>>> {
        self.cancellations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Listens on the cancel channel for as long as the process lives, resubscribing
    /// after Redis failures, and flips the switch of any job running here.
    pub async fn listen_for_cancellations(self: Arc<Self>) {
        loop {
            match jobs::cancel::subscribe(&self.redis).await {
                Ok(stream) => {
                    let mut stream = std::pin::pin!(stream);
                    while let Some(job_id) = stream.next().await {
                        if let Some(switch) = self.lock_cancellations().get(&job_id) {
                            switch.send_replace(true);
                        }
                    }
                    tracing::warn!("cancel subscription ended, resubscribing");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to cancellations"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// A pool connection kept by a loop that queries back to back (the dispatcher, the
/// completer): a checkout costs a round trip of its own (the pool verifies the
/// connection). [`KeptConnection::discard`] it after an error, and the next
/// [`KeptConnection::get`] checks out a fresh one.
#[derive(Debug)]
pub struct KeptConnection {
    pool: Pool,
    client: Option<deadpool_postgres::Client>,
}

impl KeptConnection {
    /// Keeps connections of `pool`; checks out none yet.
    pub fn new(pool: Pool) -> Self {
        Self { pool, client: None }
    }

    /// The kept connection, checked out first if there is none.
    pub async fn get(
        &mut self,
    ) -> Result<&deadpool_postgres::Client, deadpool_postgres::PoolError> {
        let client = match self.client.take() {
            Some(client) => client,
            None => self.pool.get().await?,
        };
        Ok(self.client.insert(client))
    }

    /// Gives the connection back (after an error: it may be broken).
    pub fn discard(&mut self) {
        self.client = None;
    }
}

/// Resolves once `rx` holds `true`; never, if its sender is gone first.
pub async fn turned_on(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|on| *on).await.is_err() {
        std::future::pending::<()>().await;
    }
}
