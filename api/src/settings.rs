//! The API's settings: the common ones plus the HTTP listener and browser-facing policy.

use std::net::IpAddr;

use fairlane_shared::config::{CommonSettings, ConfigError, Env};

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
        })
    }
}
