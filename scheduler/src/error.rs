//! Why a maintenance task failed. The message is stored in `maintenance_runs.error`, so
//! it never contains a secret (no database URL, no session token).

/// A task's failure.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Postgres or Redis, through the shared helpers.
    #[error(transparent)]
    Shared(#[from] fairlane_shared::Error),
    /// A Postgres statement failed.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The Postgres pool had no connection in time.
    #[error("postgres pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A Redis command failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// On which path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// An external program (`pg_dump`, `tar`) failed.
    #[error("{program} failed: {detail}")]
    Command {
        /// The program.
        program: &'static str,
        /// Its exit status and the tail of its stderr.
        detail: String,
    },
}

impl TaskError {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}
