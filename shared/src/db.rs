//! Postgres access: the connection pool and the schema migrations.
//!
//! Pools come from deadpool-postgres over tokio-postgres with connect, checkout and
//! statement timeouts, so a Postgres outage turns into prompt errors instead of hung
//! requests. Migrations are the numbered SQL files in `migrations/`, embedded at build
//! time and applied by refinery under a Postgres advisory lock, so several API replicas
//! starting at once apply them exactly once. This module holds no queries of its own
//! beyond those.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::NoTls;

use crate::Result;
use crate::config::{ConfigError, DatabaseSettings};

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// The advisory-lock key that serialises migration runs (an arbitrary constant).
const MIGRATION_LOCK_KEY: i64 = 0x0046_4149_524c_414e; // "FAIRLAN"

/// Checks that a database URL parses, without printing it.
pub fn validate_url(url: &SecretString) -> Result<(), ConfigError> {
    url.expose_secret()
        .parse::<tokio_postgres::Config>()
        .map(|_| ())
        .map_err(|e| {
            ConfigError::new(
                "FAIRLANE_DATABASE_URL",
                format!("not a valid postgres URL ({e})"),
            )
        })
}

/// Builds a pool. It connects lazily: the first checkout opens the first connection.
pub fn pool(settings: &DatabaseSettings, application_name: &str) -> Result<Pool> {
    let mut pg_config: tokio_postgres::Config = settings
        .url
        .expose_secret()
        .parse()
        .map_err(crate::Error::Postgres)?;
    pg_config.application_name(application_name);
    pg_config.connect_timeout(settings.timeout);
    pg_config.keepalives(true);
    pg_config.keepalives_idle(Duration::from_secs(30));
    let statement_timeout_ms = settings.timeout.as_millis().max(1000) * 6;
    pg_config.options(format!("-c statement_timeout={statement_timeout_ms}"));
    let manager = Manager::from_config(
        pg_config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Verified,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .wait_timeout(Some(settings.timeout))
        .create_timeout(Some(settings.timeout))
        .recycle_timeout(Some(settings.timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| crate::Error::Other(anyhow::anyhow!("cannot build postgres pool: {e}")))
}

/// Checks out a connection and runs `SELECT 1`.
pub async fn ping(pool: &Pool) -> Result<()> {
    let client = pool.get().await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}

/// Retries [`ping`] until it succeeds or `within` has passed.
pub async fn wait_until_reachable(pool: &Pool, within: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match ping(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "postgres not reachable yet, retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Applies every pending migration from `migrations/`. Returns the names applied.
pub async fn migrate(pool: &Pool) -> Result<Vec<String>> {
    let mut client = pool.get().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let client_ref: &mut tokio_postgres::Client = &mut client;
    let outcome = embedded::migrations::runner()
        .set_grouped(false)
        .run_async(client_ref)
        .await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let report = outcome?;
    let applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect();
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    Ok(applied)
}

/// The names of every migration compiled into this binary, in order.
pub fn known_migrations() -> Vec<String> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect()
}
