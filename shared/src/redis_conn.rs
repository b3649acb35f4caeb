//! Redis access: one auto-reconnecting connection per process, and key naming.
//!
//! Every key goes through [`Redis::key`], which adds the deployment's prefix
//! (`FAIRLANE_REDIS_PREFIX`), so several deployments or test cases can share a server.
//! Redis holds dispatch state, sessions, rate-limit counters and caches only; nothing
//! here is the record of anything (Postgres is).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::Result;
use crate::config::{ConfigError, RedisSettings};

/// Checks that a Redis URL parses, without printing it.
pub fn validate_url(url: &SecretString) -> Result<(), ConfigError> {
    redis::Client::open(url.expose_secret())
        .map(|_| ())
        .map_err(|e| ConfigError::new("FAIRLANE_REDIS_URL", format!("not a valid redis URL ({e})")))
}

/// A cheap-to-clone handle on Redis: a multiplexed connection that reconnects by itself
/// after a failure, plus the key prefix.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    client: redis::Client,
    prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects, retrying until `within` has passed.
    pub async fn connect(settings: &RedisSettings, within: Duration) -> Result<Self> {
        let client = redis::Client::open(settings.url.expose_secret())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let deadline = tokio::time::Instant::now() + within;
        let conn = loop {
            match client
                .get_connection_manager_with_config(config.clone())
                .await
            {
                Ok(conn) => break conn,
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "redis not reachable yet, retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        Ok(Self {
            conn,
            client,
            prefix: settings.prefix.clone(),
            timeout: settings.timeout,
        })
    }

    /// The shared multiplexed connection (clone it per use; clones are cheap).
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The underlying client, for dedicated connections (pub/sub, blocking reads).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The configured response timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The deployment's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A namespaced key: `key("sessions:abc")` → `fairlane:sessions:abc`.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Sends `PING`, bounded by the response timeout.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn();
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(crate::Error::Other(anyhow::anyhow!(
                "unexpected PING reply {pong:?}"
            )))
        }
    }
}
