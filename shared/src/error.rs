//! The error type of `fairlane-shared`.
//!
//! Binaries wrap these into `anyhow` (CLI, startup) or into their own error enums
//! (the API's `ApiError`). Messages are lower-case and never contain secrets.

use crate::config::ConfigError;

/// Errors raised by the shared infrastructure code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration variable is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Postgres refused, failed or timed out.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The Postgres pool could not hand out a connection in time.
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// Redis refused, failed or timed out.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Applying migrations failed.
    #[error("migrations: {0}")]
    Migration(#[from] refinery::Error),
    /// Something outside the categories above, with context.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
