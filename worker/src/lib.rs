//! Fairlane's worker process: connects to Postgres and Redis, takes jobs from the
//! dispatch backend and runs them.
//!
//! It knows nothing about HTTP. It exits cleanly on SIGTERM/SIGINT.

pub mod forecast;
pub mod settings;

use anyhow::Context;
use fairlane_shared::redis_conn::Redis;

use crate::settings::WorkerSettings;

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
    tracing::info!(worker_id = %worker_id, concurrency = settings.concurrency, "worker ready");
    let signal = signals.recv().await;
    tracing::info!(worker_id = %worker_id, signal, "worker stopping");
    db.close();
    tracing::info!(worker_id = %worker_id, "worker stopped");
    Ok(())
}
