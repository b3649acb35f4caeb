//! The broker settings every worker reads: where Kite is and how patient to be with it.
//!
//! Defaults suit the real Kite (`https://api.kite.trade`); `ops/up` and the tests point
//! `FAIRLANE_BROKER_URL` at the sandbox broker. Credentials are not settings: they are
//! per user, stored encrypted, and handed to [`crate::kite::KiteClient::new`].

use std::time::Duration;

use crate::config::{ConfigError, Env};

/// Broker client settings: `FAIRLANE_BROKER_*`.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// Root URL without a trailing slash: `FAIRLANE_BROKER_URL`.
    pub base_url: String,
    /// Whole-request timeout: `FAIRLANE_BROKER_TIMEOUT_MS` (default 7000, as pykiteconnect).
    pub timeout: Duration,
    /// Tries per call for 429 and 502/503/504: `FAIRLANE_BROKER_MAX_ATTEMPTS` (default 4).
    pub max_attempts: u32,
    /// First retry delay, doubled each try, with jitter: `FAIRLANE_BROKER_BACKOFF_MS`
    /// (default 250).
    pub backoff_base: Duration,
    /// Consecutive 5xx or network failures that open the breaker:
    /// `FAIRLANE_BROKER_BREAKER_FAILURES` (default 5).
    pub breaker_failures: u32,
    /// How long an open breaker rejects calls before letting a probe through:
    /// `FAIRLANE_BROKER_BREAKER_COOLDOWN_MS` (default 30000).
    pub breaker_cooldown: Duration,
    /// How long a fetched CMP (last price of an underlying) is reused:
    /// `FAIRLANE_BROKER_CMP_TTL_MS` (default 5000).
    pub cmp_ttl: Duration,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.kite.trade".to_owned(),
            timeout: Duration::from_millis(7_000),
            max_attempts: 4,
            backoff_base: Duration::from_millis(250),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_millis(30_000),
            cmp_ttl: Duration::from_millis(5_000),
        }
    }
}

impl BrokerSettings {
    /// Reads the broker variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let base_url = env
            .string_or("FAIRLANE_BROKER_URL", &defaults.base_url)
            .trim_end_matches('/')
            .to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| ConfigError::new("FAIRLANE_BROKER_URL", format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ConfigError::new(
                "FAIRLANE_BROKER_URL",
                "must be an http:// or https:// URL with a host",
            ));
        }
        let max_attempts = env.parsed_or("FAIRLANE_BROKER_MAX_ATTEMPTS", defaults.max_attempts)?;
        if max_attempts == 0 {
            return Err(ConfigError::new(
                "FAIRLANE_BROKER_MAX_ATTEMPTS",
                "must be at least 1",
            ));
        }
        let breaker_failures = env.parsed_or(
            "FAIRLANE_BROKER_BREAKER_FAILURES",
            defaults.breaker_failures,
        )?;
        if breaker_failures == 0 {
            return Err(ConfigError::new(
                "FAIRLANE_BROKER_BREAKER_FAILURES",
                "must be at least 1",
            ));
        }
        Ok(Self {
            base_url,
            timeout: env.millis_or("FAIRLANE_BROKER_TIMEOUT_MS", 7_000)?,
            max_attempts,
            backoff_base: env.millis_or("FAIRLANE_BROKER_BACKOFF_MS", 250)?,
            breaker_failures,
            breaker_cooldown: env.millis_or("FAIRLANE_BROKER_BREAKER_COOLDOWN_MS", 30_000)?,
            cmp_ttl: env.millis_or("FAIRLANE_BROKER_CMP_TTL_MS", 5_000)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_kite_and_overrides_are_validated() {
        let settings = BrokerSettings::from_env(&Env::default()).unwrap();
        assert_eq!(settings.base_url, "https://api.kite.trade");
        assert_eq!(settings.max_attempts, 4);

        let env = Env::from_pairs([("FAIRLANE_BROKER_URL", "http://127.0.0.1:9000/")]);
        assert_eq!(
            BrokerSettings::from_env(&env).unwrap().base_url,
            "http://127.0.0.1:9000"
        );
        for (name, value) in [
            ("FAIRLANE_BROKER_URL", "ftp://example.com"),
            ("FAIRLANE_BROKER_URL", "not a url"),
            ("FAIRLANE_BROKER_MAX_ATTEMPTS", "0"),
            ("FAIRLANE_BROKER_BREAKER_FAILURES", "0"),
            ("FAIRLANE_BROKER_CMP_TTL_MS", "soon"),
        ] {
            let err = BrokerSettings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert_eq!(err.variable, name);
        }
    }
}
