//! The worker's settings: the common ones, the job engine's, and how this process runs
//! jobs (concurrency, shutdown grace, metrics port, the forecast child binary).

use std::time::Duration;

use fairlane_shared::config::{CommonSettings, ConfigError, Env};
use fairlane_shared::crypto::Keyring;
use fairlane_shared::jobs::JobSettings;
use fairlane_shared::kite::BrokerSettings;

use crate::forecast::ForecastBinary;

/// Everything `fairlane-worker` reads from the environment.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Postgres, Redis, logging, data directory.
    pub common: CommonSettings,
    /// Quotas, lease TTL, diagnostic kinds.
    pub jobs: JobSettings,
    /// Jobs run at once by this process: `FAIRLANE_WORKER_CONCURRENCY` (default 8).
    pub concurrency: usize,
    /// Jobs this process may claim beyond its free run slots when jobs are short (see
    /// `claim_ahead`): `FAIRLANE_WORKER_CLAIM_AHEAD` (default 120; 0 turns it off).
    pub claim_ahead: usize,
    /// How long running jobs may take to finish after SIGTERM before their leases are
    /// released: `FAIRLANE_SHUTDOWN_GRACE_SECS` (default 20).
    pub shutdown_grace: Duration,
    /// How long an idle worker waits between claim attempts:
    /// `FAIRLANE_WORKER_POLL_MS` (default 100).
    pub poll_interval: Duration,
    /// Serve Prometheus metrics on this loopback port: `FAIRLANE_WORKER_METRICS_PORT`
    /// (unset: no metrics endpoint).
    pub metrics_port: Option<u16>,
    /// Opens broker credentials: `FAIRLANE_ENCRYPTION_KEYS` / `FAIRLANE_ENCRYPTION_KEY_FILE`.
    pub keyring: Keyring,
    /// The broker: `FAIRLANE_BROKER_*`.
    pub broker: BrokerSettings,
    /// A user's runtime context is dropped after this long unused:
    /// `FAIRLANE_CONTEXT_IDLE_SECS` (default 1800).
    pub context_idle: Duration,
    /// The `fairlane-forecast` child: `FAIRLANE_FORECAST_BIN` (default: next to this
    /// executable), with `FAIRLANE_DIAGNOSTIC_JOBS` passed on.
    pub forecast: ForecastBinary,
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
        let metrics_port = match env.get("FAIRLANE_WORKER_METRICS_PORT") {
            None => None,
            Some(_) => Some(env.parsed_or("FAIRLANE_WORKER_METRICS_PORT", 0u16)?),
        };
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            jobs: JobSettings::from_env(env)?,
            concurrency,
            claim_ahead: env.parsed_or("FAIRLANE_WORKER_CLAIM_AHEAD", 120usize)?,
            shutdown_grace: env.seconds_or("FAIRLANE_SHUTDOWN_GRACE_SECS", 20)?,
            poll_interval: env.millis_or("FAIRLANE_WORKER_POLL_MS", 100)?,
            metrics_port,
            keyring: Keyring::from_env(env)?,
            broker: BrokerSettings::from_env(env)?,
            context_idle: env.seconds_or("FAIRLANE_CONTEXT_IDLE_SECS", 1800)?,
            forecast: ForecastBinary::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("FAIRLANE_DATABASE_URL", "postgres://u@127.0.0.1:5432/db"),
            ("FAIRLANE_REDIS_URL", "redis://127.0.0.1:6379"),
            (
                "FAIRLANE_ENCRYPTION_KEYS",
                "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_match_env_example() {
        let settings = WorkerSettings::from_env(&env(&[])).unwrap();
        assert_eq!(settings.concurrency, 8);
        assert_eq!(settings.shutdown_grace, Duration::from_secs(20));
        assert_eq!(settings.metrics_port, None);
        assert_eq!(settings.jobs.max_running_jobs, 2);
        assert_eq!(settings.jobs.max_queued_jobs, 10_000);
        assert_eq!(settings.jobs.lease_ttl, Duration::from_secs(10));
        assert!(!settings.jobs.diagnostic_jobs);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("FAIRLANE_WORKER_CONCURRENCY", "0"),
            ("FAIRLANE_LEASE_TTL_MS", "100"),
            ("FAIRLANE_MAX_RUNNING_JOBS", "0"),
            ("FAIRLANE_WORKER_METRICS_PORT", "http"),
            ("FAIRLANE_DIAGNOSTIC_JOBS", "sometimes"),
        ] {
            let err = WorkerSettings::from_env(&env(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name);
        }
    }
}
