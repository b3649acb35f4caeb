//! The API's settings: the common ones plus the HTTP listener and browser-facing policy.

use std::net::IpAddr;
use std::path::PathBuf;

use std::time::Duration;

use fairlane_shared::config::{CommonSettings, ConfigError, Env};
use fairlane_shared::crypto::Keyring;
use fairlane_shared::jobs::JobSettings;
use fairlane_shared::kite::BrokerSettings;
use fairlane_shared::maintenance::Schedules;
use fairlane_shared::quotas::Quotas;

/// Everything `fairlane-api` reads from the environment.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Postgres, Redis, logging, data directory.
    pub common: CommonSettings,
    /// Listen address: `FAIRLANE_HTTP_HOST` (default 127.0.0.1).
    pub http_host: IpAddr,
    /// Listen port: `FAIRLANE_HTTP_PORT` (default 8080; 0 picks a free port).
    pub http_port: u16,
    /// Origins allowed by CORS: `FAIRLANE_ALLOWED_ORIGINS` (comma-separated; none by default).
    pub allowed_origins: Vec<String>,
    /// Whether cookies are `Secure` and HSTS is sent: `FAIRLANE_COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// Largest JSON body accepted: `FAIRLANE_MAX_JSON_BYTES` (default 1 MiB).
    pub max_json_bytes: usize,
    /// Keys sealing broker credentials and TOTP seeds.
    pub keyring: Keyring,
    /// Default per-user quotas.
    pub quotas: Quotas,
    /// Session lifetimes and limits.
    pub sessions: SessionSettings,
    /// Request and login limits.
    pub limits: LimitSettings,
    /// The job engine's settings (quotas, diagnostic kinds).
    pub jobs: JobSettings,
    /// The broker (for a cold instruments cache).
    pub broker: BrokerSettings,
    /// The maintenance schedules (`FAIRLANE_SCHEDULE_<TASK>`), shown in admin stats.
    pub schedules: Schedules,
    /// The web dashboard's static files: `FAIRLANE_DASHBOARD_DIR` (default: the
    /// checkout's `dashboard/`, found from the working directory or the binary).
    pub dashboard_dir: PathBuf,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Absolute lifetime: `FAIRLANE_SESSION_TTL_SECS` (default 24 h).
    pub absolute: Duration,
    /// Idle timeout: `FAIRLANE_SESSION_IDLE_SECS` (default 2 h).
    pub idle: Duration,
    /// Sessions one user may hold; the oldest is revoked beyond it:
    /// `FAIRLANE_MAX_SESSIONS_PER_USER` (default 20).
    pub max_per_user: usize,
}

/// Rate limits (held in Redis, so they apply across API replicas).
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Requests per minute per user: `FAIRLANE_RATE_LIMIT_PER_MINUTE` (default 100).
    pub requests_per_minute: u32,
    /// Failed logins per account per window: `FAIRLANE_LOGIN_FAILURES_PER_ACCOUNT` (default 10).
    pub login_failures_per_account: u32,
    /// Failed logins per client IP per window: `FAIRLANE_LOGIN_FAILURES_PER_IP` (default 50).
    pub login_failures_per_ip: u32,
    /// The failure-counting window: `FAIRLANE_LOGIN_FAILURE_WINDOW_SECS` (default 900).
    pub login_failure_window: Duration,
}

impl ApiSettings {
    /// Reads the API's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let allowed_origins = env.list("FAIRLANE_ALLOWED_ORIGINS");
        for origin in &allowed_origins {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && origin.parse::<http::HeaderValue>().is_ok()
                && !origin.ends_with('/');
            if !ok {
                return Err(ConfigError::new(
                    "FAIRLANE_ALLOWED_ORIGINS",
                    format!("{origin:?} is not an origin like https://app.example.com"),
                ));
            }
        }
        Ok(Self {
            common: CommonSettings::from_env(env)?,
            http_host: env.parsed_or("FAIRLANE_HTTP_HOST", IpAddr::from([127, 0, 0, 1]))?,
            http_port: env.parsed_or("FAIRLANE_HTTP_PORT", 8080)?,
            allowed_origins,
            cookie_secure: env.flag_or("FAIRLANE_COOKIE_SECURE", false)?,
            max_json_bytes: env.parsed_or("FAIRLANE_MAX_JSON_BYTES", 1024 * 1024)?,
            keyring: Keyring::from_env(env)?,
            quotas: Quotas::defaults_from_env(env)?,
            sessions: SessionSettings {
                absolute: env.seconds_or("FAIRLANE_SESSION_TTL_SECS", 24 * 3600)?,
                idle: env.seconds_or("FAIRLANE_SESSION_IDLE_SECS", 2 * 3600)?,
                max_per_user: env.parsed_or("FAIRLANE_MAX_SESSIONS_PER_USER", 20)?,
            },
            limits: LimitSettings {
                requests_per_minute: env.parsed_or("FAIRLANE_RATE_LIMIT_PER_MINUTE", 100)?,
                login_failures_per_account: env
                    .parsed_or("FAIRLANE_LOGIN_FAILURES_PER_ACCOUNT", 10)?,
                login_failures_per_ip: env.parsed_or("FAIRLANE_LOGIN_FAILURES_PER_IP", 50)?,
                login_failure_window: env.seconds_or("FAIRLANE_LOGIN_FAILURE_WINDOW_SECS", 900)?,
            },
            jobs: JobSettings::from_env(env)?,
            broker: BrokerSettings::from_env(env)?,
            schedules: Schedules::from_env(env)?,
            dashboard_dir: env
                .get("FAIRLANE_DASHBOARD_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(crate::routes::dashboard::default_dir),
        })
    }
}
