//! The scheduler's settings (for now, the common ones).

use fairlane_shared::config::{CommonSettings, ConfigError, Env};

/// Everything `fairlane-scheduler` reads from the environment.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Postgres, Redis, logging, data directory.
    pub common: CommonSettings,
}

impl SchedulerSettings {
    /// Reads the scheduler's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonSettings::from_env(env)?,
        })
    }
}
