//! Fairlane's worker process: claims jobs from our dispatch (Redis proposals confirmed
//! by Postgres claims) and runs them on the apalis runtime, one module per job kind.
//!
//! The pieces: [`dispatcher`] claims while there is a free slot and feeds the apalis
//! [`backend`]; the apalis worker runs each job through tracing, concurrency, the
//! [`supervisor`] (lease, progress, timeout, cancellation, fenced outcome) and panic
//! catching, down to the kind's code in [`kinds`]. Every worker also takes part in the
//! election for job maintenance (`fairlane_shared::jobs::maintenance`).
//!
//! It knows nothing about HTTP. On SIGTERM/SIGINT it stops claiming, lets running jobs
//! finish within the grace period, releases the leases of those that do not (back to
//! `queued`, attempt not counted) and exits 0.

pub mod backend;
pub mod claim_ahead;
pub mod completer;
pub mod contexts;
pub mod dispatcher;
pub mod error;
pub mod forecast;
pub mod kinds;
pub mod memory;
pub mod metrics;
pub mod options_table;
pub mod outputs;
pub mod runtime;
pub mod services;
pub mod settings;
pub mod supervisor;
pub mod task;

use std::sync::Arc;

use anyhow::Context;
use apalis::layers::WorkerBuilderExt;
use apalis_core::error::WorkerError;
use apalis_core::task::Task;
use apalis_core::worker::builder::WorkerBuilder;
use fairlane_shared::jobs::maintenance;
use fairlane_shared::redis_conn::Redis;
use tokio::sync::watch;

use crate::backend::ClaimedJobs;
use crate::error::KindError;
use crate::kinds::Registry;
use crate::runtime::Runtime;
use crate::settings::WorkerSettings;
use crate::supervisor::SupervisorLayer;
use crate::task::JobTask;

/// Runs the worker until a shutdown signal.
pub async fn run(settings: WorkerSettings) -> anyhow::Result<()> {
    let worker_id = fairlane_shared::process::unique_name();
    let common = &settings.common;
    let db = fairlane_shared::db::pool(&common.database, "fairlane-worker")?;
    fairlane_shared::db::wait_until_reachable(&db, common.startup_timeout)
        .await
        .context("postgres is not reachable")?;
    let redis = Redis::connect(&common.redis, common.startup_timeout)
        .await
        .context("redis is not reachable")?;
    redis.ping().await.context("redis did not answer PING")?;
    let signals = fairlane_shared::shutdown::ShutdownSignals::install()?;

    let (grace_tx, grace_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let concurrency = settings.concurrency;
    let grace = settings.shutdown_grace;
    let registry = Arc::new(Registry::new(settings.jobs.diagnostic_jobs));
    let rt = Runtime::new(
        db.clone(),
        redis.clone(),
        worker_id.clone(),
        settings,
        grace_rx,
    );

    let max_in_hand = rt.claim_ahead.max_in_hand();
    let (claimed_tx, claimed_jobs, drained) = ClaimedJobs::channel(max_in_hand);
    let run_kind = tower::service_fn(move |task: Task<JobTask>| {
        let registry = registry.clone();
        async move {
            let context = task.args.context;
            let kind = task.args.claimed.kind;
            match registry.get(&kind) {
                Some(code) => code(context).await,
                None => Err(KindError::permanent(
                    "unknown_kind",
                    format!("this worker cannot run jobs of kind {kind:?}"),
                )),
            }
        }
    });
    let worker = WorkerBuilder::new(worker_id.as_str())
        .backend(claimed_jobs)
        .enable_tracing()
        // The dispatcher bounds the jobs in hand (running or claimed ahead, waiting for
        // a run slot in their supervisor); a job leaves the hand before its outcome is
        // written, so apalis may hold up to twice as many supervisors.
        .concurrency(max_in_hand * 2)
        .layer(SupervisorLayer::new(rt.clone()))
        .catch_panic()
        .build(run_kind);
    let apalis = tokio::spawn(worker.run_until(async move {
        // Whether it fired or its sender was dropped, no claimed job is left to hand over.
        let _ = drained.await;
        Ok::<(), WorkerError>(())
    }));
    let cancellations = tokio::spawn(rt.clone().listen_for_cancellations());
    let contexts = tokio::spawn(rt.services.contexts.clone().maintain(redis.clone()));
    let presence = tokio::spawn(announce_presence(rt.clone(), concurrency));
    let maintenance = tokio::spawn(maintenance::run(
        db.clone(),
        redis.clone(),
        worker_id.clone(),
        rt.settings.jobs.max_running_jobs,
        stop_rx.clone(),
    ));
    let metrics_server = rt.settings.metrics_port.map(|port| {
        let metrics = rt.metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(metrics, port).await {
                tracing::error!(error = %e, "worker metrics endpoint failed");
            }
        })
    });
    let dispatcher = tokio::spawn(dispatcher::run(rt.clone(), claimed_tx, stop_rx));

    tracing::info!(worker_id = %worker_id, concurrency, "worker ready");
    let signal = signals.recv().await;
    tracing::info!(worker_id = %worker_id, signal, grace_secs = grace.as_secs(), "worker stopping");
    stop_tx.send_replace(true);
    let grace_timer = tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        grace_tx.send_replace(true);
    });
    let _ = dispatcher.await;
    match apalis.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "job runtime ended with an error"),
        Err(e) => tracing::error!(error = %e, "job runtime task failed"),
    }
    grace_timer.abort();
    let _ = maintenance.await;
    cancellations.abort();
    contexts.abort();
    presence.abort();
    if let Err(e) = fairlane_shared::workers::retire(&redis, &worker_id).await {
        tracing::warn!(error = %e, "cannot remove this worker from the presence list");
    }
    if let Some(server) = metrics_server {
        server.abort();
    }
    db.close();
    tracing::info!(worker_id = %worker_id, "worker stopped");
    Ok(())
}

/// Tells the API this worker is alive, every few seconds.
async fn announce_presence(rt: Arc<Runtime>, concurrency: usize) {
    let started_at = chrono::Utc::now().to_rfc3339();
    let mut ticker = tokio::time::interval(fairlane_shared::workers::ANNOUNCE_EVERY);
    loop {
        ticker.tick().await;
        let info = fairlane_shared::workers::WorkerInfo {
            worker_id: rt.worker_id.clone(),
            concurrency,
            running: rt.metrics.running.get(),
            started_at: started_at.clone(),
            last_seen: chrono::Utc::now().to_rfc3339(),
        };
        if let Err(e) = fairlane_shared::workers::announce(&rt.redis, &info).await {
            tracing::warn!(error = %e, "cannot announce this worker");
        }
    }
}
