//! Per-user quotas: deployment defaults from `FAIRLANE_MAX_*`, overridable per user in
//! the `users` row (a null column means the default).

use crate::config::{ConfigError, Env};

/// The limits that apply to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Quotas {
    /// Jobs running at once, across all workers.
    pub max_running_jobs: i64,
    /// Jobs waiting (queued or retrying).
    pub max_queued_jobs: i64,
    /// Size of one upload in bytes.
    pub max_upload_bytes: i64,
    /// Total stored bytes.
    pub max_storage_bytes: i64,
    /// Symbols in one `options.process` job.
    pub max_symbols_per_job: i64,
}

impl Quotas {
    /// The deployment defaults.
    pub fn defaults_from_env(env: &Env) -> Result<Self, ConfigError> {
        let quotas = Self {
            max_running_jobs: env.parsed_or("FAIRLANE_MAX_RUNNING_JOBS", 2)?,
            max_queued_jobs: env.parsed_or("FAIRLANE_MAX_QUEUED_JOBS", 10_000)?,
            max_upload_bytes: env.parsed_or("FAIRLANE_MAX_UPLOAD_BYTES", 100 * 1024 * 1024)?,
            max_storage_bytes: env.parsed_or("FAIRLANE_MAX_STORAGE_BYTES", 1024 * 1024 * 1024)?,
            max_symbols_per_job: env.parsed_or("FAIRLANE_MAX_SYMBOLS_PER_JOB", 50)?,
        };
        for (name, value) in [
            ("FAIRLANE_MAX_RUNNING_JOBS", quotas.max_running_jobs),
            ("FAIRLANE_MAX_QUEUED_JOBS", quotas.max_queued_jobs),
            ("FAIRLANE_MAX_UPLOAD_BYTES", quotas.max_upload_bytes),
            ("FAIRLANE_MAX_STORAGE_BYTES", quotas.max_storage_bytes),
            ("FAIRLANE_MAX_SYMBOLS_PER_JOB", quotas.max_symbols_per_job),
        ] {
            if value < 1 {
                return Err(ConfigError::new(name, "must be at least 1"));
            }
        }
        Ok(quotas)
    }

    /// These defaults with a user's overrides applied.
    pub fn with_overrides(
        self,
        running: Option<i32>,
        queued: Option<i32>,
        storage: Option<i64>,
    ) -> Self {
        Self {
            max_running_jobs: running.map_or(self.max_running_jobs, i64::from),
            max_queued_jobs: queued.map_or(self.max_queued_jobs, i64::from),
            max_storage_bytes: storage.unwrap_or(self.max_storage_bytes),
            ..self
        }
    }
}
