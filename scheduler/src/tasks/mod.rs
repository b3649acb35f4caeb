//! The maintenance tasks, one module each, and what they share ([`TaskContext`]).
//! Each returns a JSON summary of counts for `maintenance_runs.summary`. Recording the
//! run, heartbeats and exactly-once claiming are not here (see `runner`, `ticks`).

pub mod backup;
pub mod context_eviction;
pub mod job_retention;
pub mod session_purge;
pub mod workspace_cleanup;

use deadpool_postgres::Pool;
use fairlane_shared::config::DatabaseSettings;
use fairlane_shared::maintenance::Task;
use fairlane_shared::redis_conn::Redis;
use serde_json::Value;

use crate::error::TaskError;
use crate::settings::TaskSettings;

/// What every task may use.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// Postgres.
    pub db: Pool,
    /// Redis.
    pub redis: Redis,
    /// The database settings (the backup hands them to `pg_dump`).
    pub database: DatabaseSettings,
    /// Retention periods and paths.
    pub settings: TaskSettings,
}

/// Runs `task` once; `run_id` names its output where it writes any (backups).
pub async fn run(ctx: &TaskContext, task: Task, run_id: &str) -> Result<Value, TaskError> {
    match task {
        Task::WorkspaceCleanup => workspace_cleanup::run(ctx).await,
        Task::ContextEviction => context_eviction::run(ctx).await,
        Task::SessionPurge => session_purge::run(ctx).await,
        Task::JobRetention => job_retention::run(ctx).await,
        Task::Backup => backup::run(ctx, run_id).await,
    }
}
