//! Configuration read from `FAIRLANE_*` environment variables.
//!
//! Every variable is documented in `.env.example` with its default. Readers here name
//! the variable in every error, so a missing or malformed setting fails at start with a
//! message an operator can act on. Secrets are held as [`SecretString`] and never print.
//! This module does not read files or `.env`; `ops/up` exports the variables.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

/// A missing or malformed configuration variable.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {variable}: {reason}")]
pub struct ConfigError {
    /// The variable's name, e.g. `FAIRLANE_DATABASE_URL`.
    pub variable: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: &str, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A snapshot of the environment that settings are read from.
///
/// Tests build one from pairs; binaries take the process environment.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: only the names are shown.
        f.debug_struct("Env")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Env {
    /// The process environment, restricted to `FAIRLANE_*` and `RUST_LOG`.
    pub fn from_process() -> Self {
        let vars = std::env::vars()
            .filter(|(name, _)| name.starts_with("FAIRLANE_") || name == "RUST_LOG")
            .collect();
        Self { vars }
    }

    /// An environment made of the given pairs (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// The raw value, treating an empty string as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A required string variable.
    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.get(name)
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::new(name, "is required but not set"))
    }

    /// A required secret (never printed).
    pub fn required_secret(&self, name: &str) -> Result<SecretString, ConfigError> {
        self.required(name).map(SecretString::from)
    }

    /// A string with a default.
    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_owned()
    }

    /// A parsed value with a default; a present but malformed value is an error.
    pub fn parsed_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| ConfigError::new(name, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    /// A duration given in whole seconds, with a default.
    pub fn seconds_or(&self, name: &str, default_seconds: u64) -> Result<Duration, ConfigError> {
        self.parsed_or(name, default_seconds)
            .map(Duration::from_secs)
    }

    /// A duration given in milliseconds, with a default.
    pub fn millis_or(&self, name: &str, default_millis: u64) -> Result<Duration, ConfigError> {
        self.parsed_or(name, default_millis)
            .map(Duration::from_millis)
    }

    /// A boolean: `1/true/yes/on` or `0/false/no/off`.
    pub fn flag_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::new(
                name,
                format!("expected 1/0/true/false, got {v:?}"),
            )),
        }
    }

    /// A comma-separated list (empty entries dropped).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, one event per line.
    Human,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "human" | "text" | "pretty" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!("expected `human` or `json`, got {other:?}")),
        }
    }
}

/// Logging settings: `FAIRLANE_LOG_FORMAT`, `FAIRLANE_LOG` (or `RUST_LOG`).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info,fairlane_api=debug`.
    pub filter: String,
}

impl LogSettings {
    /// Reads the logging variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let format = env.parsed_or("FAIRLANE_LOG_FORMAT", LogFormat::Human)?;
        let filter = env
            .get("FAIRLANE_LOG")
            .or_else(|| env.get("RUST_LOG"))
            .unwrap_or("info,tokio_postgres=warn,refinery_core=warn")
            .to_owned();
        Ok(Self { format, filter })
    }
}

/// Postgres settings: `FAIRLANE_DATABASE_URL`, `FAIRLANE_DATABASE_POOL_SIZE`,
/// `FAIRLANE_DATABASE_TIMEOUT_MS`.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/db`; a secret because it may hold a password.
    pub url: SecretString,
    /// Maximum connections held by this process.
    pub pool_size: usize,
    /// Connect, checkout and statement timeout.
    pub timeout: Duration,
}

impl DatabaseSettings {
    /// Reads the Postgres variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.required_secret("FAIRLANE_DATABASE_URL")?;
        crate::db::validate_url(&url)?;
        Ok(Self {
            url,
            pool_size: env.parsed_or("FAIRLANE_DATABASE_POOL_SIZE", 16)?,
            timeout: env.millis_or("FAIRLANE_DATABASE_TIMEOUT_MS", 5_000)?,
        })
    }
}

/// Redis settings: `FAIRLANE_REDIS_URL`, `FAIRLANE_REDIS_PREFIX`,
/// `FAIRLANE_REDIS_TIMEOUT_MS`.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port[/db]`; a secret because it may hold a password.
    pub url: SecretString,
    /// Prefix of every key this deployment writes, so several deployments (or tests)
    /// can share one Redis.
    pub prefix: String,
    /// Connect and response timeout.
    pub timeout: Duration,
}

impl RedisSettings {
    /// Reads the Redis variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.required_secret("FAIRLANE_REDIS_URL")?;
        crate::redis_conn::validate_url(&url)?;
        let prefix = env.string_or("FAIRLANE_REDIS_PREFIX", "fairlane:");
        if prefix
            .chars()
            .any(|c| c.is_whitespace() || c == '*' || c == '?')
        {
            return Err(ConfigError::new(
                "FAIRLANE_REDIS_PREFIX",
                "must not contain spaces or glob characters",
            ));
        }
        Ok(Self {
            url,
            prefix,
            timeout: env.millis_or("FAIRLANE_REDIS_TIMEOUT_MS", 2_000)?,
        })
    }
}

/// Settings every Fairlane process needs.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    /// Postgres.
    pub database: DatabaseSettings,
    /// Redis.
    pub redis: RedisSettings,
    /// Logging.
    pub log: LogSettings,
    /// Root of per-user workspaces and backups: `FAIRLANE_DATA_DIR`.
    pub data_dir: PathBuf,
    /// How long to keep retrying Postgres and Redis at start: `FAIRLANE_STARTUP_TIMEOUT_SECS`.
    pub startup_timeout: Duration,
}

impl CommonSettings {
    /// Reads the common variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseSettings::from_env(env)?,
            redis: RedisSettings::from_env(env)?,
            log: LogSettings::from_env(env)?,
            data_dir: PathBuf::from(env.string_or("FAIRLANE_DATA_DIR", "./.fairlane/data")),
            startup_timeout: env.seconds_or("FAIRLANE_STARTUP_TIMEOUT_SECS", 30)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "FAIRLANE_DATABASE_URL",
                "postgres://u:hunter2@127.0.0.1:5432/db",
            ),
            ("FAIRLANE_REDIS_URL", "redis://127.0.0.1:6379"),
        ]
    }

    #[test]
    fn defaults_apply_when_only_required_variables_are_set() {
        let settings = CommonSettings::from_env(&Env::from_pairs(base())).unwrap();
        assert_eq!(settings.database.pool_size, 16);
        assert_eq!(settings.redis.prefix, "fairlane:");
        assert_eq!(settings.log.format, LogFormat::Human);
        assert_eq!(
            settings.database.url.expose_secret(),
            "postgres://u:hunter2@127.0.0.1:5432/db"
        );
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let err = CommonSettings::from_env(&Env::from_pairs([("FAIRLANE_REDIS_URL", "redis://x")]))
            .unwrap_err();
        assert_eq!(err.variable, "FAIRLANE_DATABASE_URL");
        assert!(err.to_string().contains("FAIRLANE_DATABASE_URL"), "{err}");
    }

    #[test]
    fn a_malformed_variable_is_named_in_the_error() {
        let mut pairs = base();
        pairs.push(("FAIRLANE_DATABASE_POOL_SIZE", "lots"));
        let err = CommonSettings::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert_eq!(err.variable, "FAIRLANE_DATABASE_POOL_SIZE");

        let mut pairs = base();
        pairs.push(("FAIRLANE_LOG_FORMAT", "xml"));
        assert_eq!(
            CommonSettings::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .variable,
            "FAIRLANE_LOG_FORMAT"
        );

        let err = CommonSettings::from_env(&Env::from_pairs([
            ("FAIRLANE_DATABASE_URL", "mysql://nope"),
            ("FAIRLANE_REDIS_URL", "redis://127.0.0.1"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "FAIRLANE_DATABASE_URL");
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = CommonSettings::from_env(&Env::from_pairs(base())).unwrap();
        let printed = format!("{settings:?} {:?}", Env::from_pairs(base()));
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn flags_and_lists_parse() {
        let env = Env::from_pairs([("A", "yes"), ("B", "0"), ("C", "maybe"), ("L", " a, ,b ")]);
        assert!(env.flag_or("A", false).unwrap());
        assert!(!env.flag_or("B", true).unwrap());
        assert!(env.flag_or("C", true).is_err());
        assert!(env.flag_or("D", true).unwrap());
        assert_eq!(env.list("L"), vec!["a", "b"]);
    }
}
