//! Fairlane's scheduler process: fires maintenance tasks on their schedules, once per
//! tick across all replicas.
//!
//! It knows nothing about HTTP. It exits cleanly on SIGTERM/SIGINT.

pub mod settings;

use anyhow::Context;
use fairlane_shared::redis_conn::Redis;

use crate::settings::SchedulerSettings;

/// Runs the scheduler until a shutdown signal.
pub async fn run(settings: SchedulerSettings) -> anyhow::Result<()> {
    let instance = fairlane_shared::process::unique_name();
    let common = &settings.common;
    let db = fairlane_shared::db::pool(&common.database, "fairlane-scheduler")?;
    fairlane_shared::db::wait_until_reachable(&db, common.startup_timeout)
        .await
        .context("postgres is not reachable")?;
    let redis = Redis::connect(&common.redis, common.startup_timeout)
        .await
        .context("redis is not reachable")?;
    redis.ping().await.context("redis did not answer PING")?;
    let signals = fairlane_shared::shutdown::ShutdownSignals::install()?;
    tracing::info!(instance = %instance, "scheduler ready");
    let signal = signals.recv().await;
    tracing::info!(instance = %instance, signal, "scheduler stopping");
    db.close();
    tracing::info!(instance = %instance, "scheduler stopped");
    Ok(())
}
