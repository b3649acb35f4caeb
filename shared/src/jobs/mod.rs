//! The job engine's library: the job record in Postgres, dispatch through Redis, leases
//! with fencing tokens, retries, cancellation, progress and the maintenance that keeps
//! Redis consistent with Postgres. The API submits and reads through it; the worker
//! claims, heartbeats and completes through it.
//!
//! It is not the worker runtime (that is `fairlane-worker`) and knows nothing about
//! HTTP: the API maps [`JobError`] and the [`Job`] value to its JSON.
//!
//! Postgres is the authority on every job (ARCHITECTURE.md invariants 1, 2, 4): a Redis
//! delivery only proposes a job to a worker; the claim in Postgres decides.

pub mod cancel;
pub mod dispatch;
pub mod events;
pub mod kinds;
pub mod lease;
pub mod maintenance;
pub mod model;
pub mod query;
pub mod settings;
pub mod submit;

pub use cancel::{CancelOutcome, request_cancel};
pub use kinds::{KindSpec, ParamError};
pub use lease::ClaimedJob;
pub use model::{Job, JobFailure, JobOutput, JobState, OutputFile, Progress, WaitReason, Waiting};
pub use query::{get, list, waiting};
pub use settings::JobSettings;
pub use submit::{Inserted, JobRef, NewJob, insert, publish};

/// What a job operation can fail with, beyond infrastructure errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The submission would take the user past their queued-jobs quota.
    #[error("queued job quota exceeded: {queued} queued or retrying, limit {limit}")]
    QuotaExceeded {
        /// Jobs the user already has waiting.
        queued: i64,
        /// The user's limit.
        limit: i64,
    },
    /// The user id names no user.
    #[error("unknown user")]
    UnknownUser,
    /// A list cursor that this module did not produce.
    #[error("invalid cursor")]
    InvalidCursor,
    /// Postgres or Redis failed.
    #[error(transparent)]
    Infra(#[from] crate::Error),
}

impl From<tokio_postgres::Error> for JobError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Infra(e.into())
    }
}

impl From<redis::RedisError> for JobError {
    fn from(e: redis::RedisError) -> Self {
        Self::Infra(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for JobError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Infra(e.into())
    }
}
