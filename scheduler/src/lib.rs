//! Fairlane's scheduler process: fires maintenance tasks on their schedules, once per
//! tick across all replicas, runs the tasks admins request, and runs one task on demand
//! from the command line (`fairlane-scheduler run <task>`).
//!
//! Exactly once: every replica tries to claim every tick by inserting the run's
//! deterministic id into `maintenance_runs` (see `fairlane_shared::maintenance::runs`);
//! the one insert that lands runs it. A run's claimant heartbeats it; any replica marks
//! failed a run whose heartbeat is older than the lease. It knows nothing about HTTP.
//! It exits cleanly on SIGTERM/SIGINT, abandoning a run in progress (recorded as failed;
//! a backup's `.partial` directory is never listed as a backup).

pub mod error;
pub mod metrics;
pub mod requests;
pub mod runner;
pub mod settings;
pub mod tasks;
pub mod ticks;

use anyhow::Context;
use fairlane_shared::maintenance::runs::{self, Trigger};
use fairlane_shared::maintenance::{Schedules, Task};
use fairlane_shared::redis_conn::Redis;
use serde_json::Value;
use tokio::sync::watch;

use crate::runner::{Runner, stopped};
use crate::settings::SchedulerSettings;
use crate::tasks::TaskContext;

/// Connects to Postgres and Redis and builds the runner.
async fn connect(settings: &SchedulerSettings) -> anyhow::Result<Runner> {
    let common = &settings.common;
    let db = fairlane_shared::db::pool(&common.database, "fairlane-scheduler")?;
    fairlane_shared::db::wait_until_reachable(&db, common.startup_timeout)
        .await
        .context("postgres is not reachable")?;
    let redis = Redis::connect(&common.redis, common.startup_timeout)
        .await
        .context("redis is not reachable")?;
    redis.ping().await.context("redis did not answer PING")?;
    Ok(Runner {
        ctx: TaskContext {
            db,
            redis,
            database: common.database.clone(),
            settings: settings.tasks.clone(),
        },
        instance: fairlane_shared::process::unique_name(),
        lease: settings.lease,
        metrics: metrics::Metrics::new(),
    })
}

/// Runs the scheduler until a shutdown signal.
pub async fn run(settings: SchedulerSettings) -> anyhow::Result<()> {
    let runner = connect(&settings).await?;
    let instance = runner.instance.clone();
    let signals = fairlane_shared::shutdown::ShutdownSignals::install()?;
    let (stop_tx, stop) = watch::channel(false);
    let mut loops = tokio::task::JoinSet::new();
    spawn_loops(&mut loops, &runner, &settings.schedules, &stop);
    let metrics_server = settings.metrics_port.map(|port| {
        let metrics = runner.metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(metrics, port).await {
                tracing::error!(error = %e, "the metrics endpoint stopped");
            }
        })
    });
    tracing::info!(instance = %instance, "scheduler ready");
    let signal = signals.recv().await;
    tracing::info!(instance = %instance, signal, "scheduler stopping");
    let _ = stop_tx.send(true);
    while loops.join_next().await.is_some() {}
    if let Some(server) = metrics_server {
        server.abort();
    }
    runner.ctx.db.close();
    tracing::info!(instance = %instance, "scheduler stopped");
    Ok(())
}

/// One tick loop per scheduled task, the request poller and the abandoned-run reaper.
fn spawn_loops(
    loops: &mut tokio::task::JoinSet<()>,
    runner: &Runner,
    schedules: &Schedules,
    stop: &watch::Receiver<bool>,
) {
    for task in Task::ALL {
        let schedule = schedules.of(task).clone();
        if schedule.cron.is_some() {
            tracing::info!(task = %task, schedule = %schedule.source, "task scheduled");
        }
        loops.spawn(ticks::run(runner.clone(), task, schedule, stop.clone()));
    }
    loops.spawn(requests::run(runner.clone(), stop.clone()));
    loops.spawn(reap_abandoned(runner.clone(), stop.clone()));
}

/// Marks failed the runs whose scheduler died (heartbeat older than the lease).
async fn reap_abandoned(runner: Runner, mut stop: watch::Receiver<bool>) {
    let mut passes = tokio::time::interval(runner.lease / 3);
    loop {
        tokio::select! {
            _ = passes.tick() => {}
            _ = stopped(&mut stop) => return,
        }
        let reaped = match runner.ctx.db.get().await {
            Ok(client) => runs::fail_abandoned(&**client, runner.lease.as_secs_f64()).await,
            Err(e) => Err(e.into()),
        };
        match reaped {
            Ok(ids) => {
                for id in ids {
                    tracing::warn!(run = %id, "marked an abandoned maintenance run failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot check for abandoned maintenance runs"),
        }
    }
}

/// Runs `task` once now (recorded as a `cli` run); SIGTERM/SIGINT abandon it.
pub async fn run_once(
    settings: SchedulerSettings,
    task: Task,
) -> anyhow::Result<Result<Value, String>> {
    let runner = connect(&settings).await?;
    let signals = fairlane_shared::shutdown::ShutdownSignals::install()?;
    let (stop_tx, mut stop) = watch::channel(false);
    let id = format!("{task}:cli:{}", uuid::Uuid::now_v7());
    let client = runner.ctx.db.get().await?;
    let claimed = runs::claim(
        &**client,
        &id,
        task,
        chrono::Utc::now(),
        Trigger::Cli,
        &runner.instance,
    )
    .await?
    .context("the run id is already taken")?;
    drop(client);
    tokio::spawn(async move {
        let signal = signals.recv().await;
        tracing::info!(signal, "abandoning the run");
        let _ = stop_tx.send(true);
    });
    let outcome = runner.execute(&claimed, &mut stop).await;
    runner.ctx.db.close();
    Ok(outcome)
}
