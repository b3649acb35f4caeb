//! Cancellation by the owner. A waiting job (`queued`, `retrying`) is cancelled at once
//! and leaves dispatch; a running job is flagged (`cancel_requested_at`) and its worker
//! is signalled over Redis pub/sub (`<prefix>jobs:cancel`, payload the job id), so it
//! stops within a second; the worker's heartbeat also sees the flag, should the signal
//! be lost. The worker then records `cancelled` under its lease.

use deadpool_postgres::Pool;
use futures::{Stream, StreamExt};
use uuid::Uuid;

use crate::jobs::dispatch::{self, CANCEL_CHANNEL, JobRef};
use crate::jobs::model::{JOB_COLUMNS, Job, JobState};
use crate::jobs::{JobError, events};
use crate::redis_conn::Redis;

/// What a cancel request did.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// It was waiting and is now `cancelled`.
    Cancelled(Job),
    /// It is running; its worker was asked to stop (it ends `cancelled` shortly).
    Requested(Job),
    /// It had finished already (the API answers 409).
    AlreadyFinished(Job),
    /// No such job for this user (another user's job included).
    NotFound,
}

/// Cancels `job_id` on behalf of `user_id`.
pub async fn request_cancel(
    db: &Pool,
    redis: &Redis,
    user_id: Uuid,
    job_id: Uuid,
) -> Result<CancelOutcome, JobError> {
    let client = db.get().await?;
    let row = client
        .query_opt(
            &format!(
                "UPDATE jobs SET \
                   state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END, \
                   finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END, \
                   cancel_requested_at = COALESCE(cancel_requested_at, now()), updated_at = now() \
                 WHERE id = $1 AND user_id = $2 AND state IN ('queued', 'retrying', 'running') \
                 RETURNING {JOB_COLUMNS}"
            ),
            &[&job_id, &user_id],
        )
        .await?;
    let Some(row) = row else {
        let existing = client
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2"),
                &[&job_id, &user_id],
            )
            .await?;
        return Ok(match existing {
            Some(row) => CancelOutcome::AlreadyFinished(Job::from_row(&row)),
            None => CancelOutcome::NotFound,
        });
    };
    let job = Job::from_row(&row);
    let job_ref = JobRef {
        id: job.id,
        user_id,
    };
    // Redis failures below are logged, not returned: the cancellation is committed, the
    // worker's heartbeat sees the flag within a third of the lease TTL, and a stale lane
    // entry is dropped when its claim finds the job cancelled.
    if job.state == JobState::Running {
        let signalled: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(redis.key(CANCEL_CHANNEL))
            .arg(job.id.to_string())
            .query_async(&mut redis.conn())
            .await;
        if let Err(e) = signalled {
            tracing::warn!(error = %e, job_id = %job.id, "cannot signal a cancellation");
        }
        Ok(CancelOutcome::Requested(job))
    } else {
        if let Err(e) = dispatch::remove(redis, job_ref).await {
            tracing::warn!(error = %e, job_id = %job.id, "cannot remove a cancelled job from dispatch");
        }
        events::notify(redis, job.id, user_id, job.state).await;
        Ok(CancelOutcome::Cancelled(job))
    }
}

/// The ids of jobs whose cancellation was requested from now on (for workers).
pub async fn subscribe(redis: &Redis) -> crate::Result<impl Stream<Item = Uuid> + Send + use<>> {
    let payloads = events::subscribe_channel(redis, redis.key(CANCEL_CHANNEL)).await?;
    Ok(payloads.filter_map(|p| async move { p.parse().ok() }))
}
