//! The scheduler's settings: the common ones, the task schedules, and what the tasks
//! need (retention periods, where backups go, where `pg_dump` is).

use std::path::PathBuf;
use std::time::Duration;

use fairlane_shared::config::{CommonSettings, ConfigError, Env};
use fairlane_shared::maintenance::Schedules;

/// Everything `fairlane-scheduler` reads from the environment.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Postgres, Redis, logging, data directory.
    pub common: CommonSettings,
    /// When each task fires: `FAIRLANE_SCHEDULE_<TASK>`.
    pub schedules: Schedules,
    /// What the tasks keep and where they write.
    pub tasks: TaskSettings,
    /// How long a run may go without a heartbeat before it counts as abandoned:
    /// `FAIRLANE_MAINTENANCE_LEASE_SECS` (default 30; heartbeats every third of it).
    pub lease: Duration,
    /// Serve Prometheus metrics on this loopback port: `FAIRLANE_SCHEDULER_METRICS_PORT`
    /// (unset: no metrics endpoint; 0 picks a free port and logs it).
    pub metrics_port: Option<u16>,
}

/// Settings of the tasks themselves.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// Root of the workspaces (`<data>/users/...`).
    pub data_dir: PathBuf,
    /// Exports and job results older than this are removed unless pinned:
    /// `FAIRLANE_RESULT_RETENTION_DAYS` (default 7).
    pub result_retention_days: u32,
    /// Finished jobs older than this are deleted: `FAIRLANE_JOB_RETENTION_DAYS` (default 30).
    pub job_retention_days: u32,
    /// Where backups are written: `FAIRLANE_BACKUP_DIR` (default `<data dir>/../backups`).
    pub backup_dir: PathBuf,
    /// Complete backups kept: `FAIRLANE_BACKUP_KEEP` (default 14).
    pub backup_keep: usize,
    /// Directory holding `pg_dump`: `FAIRLANE_PG_BIN_DIR` (default: found on `PATH`).
    pub pg_bin_dir: Option<PathBuf>,
    /// A pause between the database dump and the workspace archive, for tests that kill
    /// the scheduler mid-backup: `FAIRLANE_BACKUP_DELAY_MS`, honoured only with
    /// `FAIRLANE_DIAGNOSTIC_JOBS=1`.
    pub backup_delay: Duration,
}

impl SchedulerSettings {
    /// Reads the scheduler's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonSettings::from_env(env)?;
        let data_dir = common.data_dir.clone();
        let backup_dir = env.get("FAIRLANE_BACKUP_DIR").map_or_else(
            || data_dir.join("..").join("backups"),
            |dir| PathBuf::from(dir.trim()),
        );
        let diagnostic = env.flag_or("FAIRLANE_DIAGNOSTIC_JOBS", false)?;
        let backup_delay = if diagnostic {
            env.millis_or("FAIRLANE_BACKUP_DELAY_MS", 0)?
        } else {
            Duration::ZERO
        };
        let backup_keep: usize = env.parsed_or("FAIRLANE_BACKUP_KEEP", 14)?;
        if backup_keep == 0 {
            return Err(ConfigError::new(
                "FAIRLANE_BACKUP_KEEP",
                "must be at least 1",
            ));
        }
        let lease = env.seconds_or("FAIRLANE_MAINTENANCE_LEASE_SECS", 30)?;
        if lease < Duration::from_secs(3) {
            return Err(ConfigError::new(
                "FAIRLANE_MAINTENANCE_LEASE_SECS",
                "must be at least 3",
            ));
        }
        let metrics_port = match env.get("FAIRLANE_SCHEDULER_METRICS_PORT") {
            None => None,
            Some(_) => Some(env.parsed_or("FAIRLANE_SCHEDULER_METRICS_PORT", 0u16)?),
        };
        Ok(Self {
            metrics_port,
            schedules: Schedules::from_env(env)?,
            tasks: TaskSettings {
                data_dir,
                result_retention_days: env.parsed_or("FAIRLANE_RESULT_RETENTION_DAYS", 7)?,
                job_retention_days: env.parsed_or("FAIRLANE_JOB_RETENTION_DAYS", 30)?,
                backup_dir,
                backup_keep,
                pg_bin_dir: env
                    .get("FAIRLANE_PG_BIN_DIR")
                    .map(|d| PathBuf::from(d.trim())),
                backup_delay,
            },
            lease,
            common,
        })
    }
}
