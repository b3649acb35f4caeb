//! The worker's settings: the common ones plus how many jobs one process runs at once.

use fairlane_shared::config::{CommonSettings, ConfigError, Env};

/// Everything `fairlane-worker` reads from the environment.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Postgres, Redis, logging, data directory.
    pub common: CommonSettings,
    /// Jobs run at once by this process: `FAIRLANE_WORKER_CONCURRENCY` (default 8).
    pub concurrency: usize,
}

impl WorkerSettings {
    /// Reads the worker's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let concurrency = env.parsed_or("FAIRLANE_WORKER_CONCURRENCY", 8usize)?;
        if concurrency == 0 {
            return Err(ConfigError::new(
                "FAIRLANE_WORKER_CONCURRENCY",
                "must be at least 1",
            ));
        }
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            concurrency,
        })
    }
}
