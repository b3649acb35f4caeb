//! The job engine's settings, shared by the API (quotas, which kinds exist) and the
//! worker (leases).

use std::time::Duration;

use crate::config::{ConfigError, Env};

/// `FAIRLANE_MAX_RUNNING_JOBS`, `FAIRLANE_MAX_QUEUED_JOBS`, `FAIRLANE_LEASE_TTL_MS`,
/// `FAIRLANE_DIAGNOSTIC_JOBS`.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Running jobs per user unless `users.max_running_jobs` says otherwise (default 2).
    pub max_running_jobs: i64,
    /// Queued plus retrying jobs per user unless `users.max_queued_jobs` says otherwise
    /// (default 10 000).
    pub max_queued_jobs: i64,
    /// How long a claim stays valid without a heartbeat (default 10 s).
    pub lease_ttl: Duration,
    /// Whether the diagnostic kinds `echo`, `sleep`, `crash` exist (default off).
    pub diagnostic_jobs: bool,
}

impl JobSettings {
    /// Reads the variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let quotas = crate::quotas::Quotas::defaults_from_env(env)?;
        let lease_ttl = env.millis_or("FAIRLANE_LEASE_TTL_MS", 10_000)?;
        if lease_ttl < Duration::from_millis(500) {
            return Err(ConfigError::new(
                "FAIRLANE_LEASE_TTL_MS",
                "must be at least 500",
            ));
        }
        Ok(Self {
            max_running_jobs: quotas.max_running_jobs,
            max_queued_jobs: quotas.max_queued_jobs,
            lease_ttl,
            diagnostic_jobs: env.flag_or("FAIRLANE_DIAGNOSTIC_JOBS", false)?,
        })
    }

    /// How often a running job renews its lease: a third of the TTL.
    pub fn heartbeat_interval(&self) -> Duration {
        self.lease_ttl / 3
    }
}
