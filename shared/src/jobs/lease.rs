//! Claims, leases and fencing in Postgres: the worker's side of a job's life.
//!
//! A claim (after Redis proposed the job) turns a `queued` row into `running` with a
//! fresh `lease_token` and `lease_expires_at = now() + ttl` (database time, so worker
//! clocks do not matter). Every later write by that worker (heartbeat, progress,
//! completion, failure, release) is `... WHERE id = $1 AND lease_token = $2`: once the
//! lease expired and the rescuer (or another worker) moved on, the old worker's writes
//! affect no row and it learns it lost the job (invariant 2, no zombie completion).
//!
//! **Running quota in Postgres (invariant 4).** The claim transaction locks the owner's
//! `users` row `FOR UPDATE`, then counts the owner's `running` jobs in a new statement
//! (so the count sees every claim committed before the lock was granted), and claims
//! only below `users.max_running_jobs` (else the deployment default). Claims for one
//! user are therefore serialised and the count is exact, whatever Redis says: after a
//! Redis flush the Redis quota may admit too many, and Postgres refuses the excess.
//! Running jobs with an expired lease still count until the rescuer moves them, so a
//! paused worker's job is never double-counted away.

use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::Value;
use uuid::Uuid;

use crate::jobs::dispatch::{self, JobRef};
use crate::jobs::model::{JobOutput, JobState, Progress, result_value};
use crate::jobs::{JobError, events};
use crate::redis_conn::Redis;

/// The retry delay for a job whose `attempt` just failed: exponential from 1 s (doubling
/// per attempt, capped at 5 min) with full-half jitter, computed by Postgres.
pub const BACKOFF_SQL: &str = "now() + make_interval(secs => least(300, power(2, greatest(attempt, 1) - 1)) * (0.5 + random() / 2))";

/// A job this worker holds a lease on.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Job id and owner.
    pub job: JobRef,
    /// Kind name.
    pub kind: String,
    /// Validated params.
    pub params: Value,
    /// This claim's attempt number (1-based).
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// How long this attempt may run.
    pub timeout: Duration,
    /// The fencing token of this claim.
    pub lease_token: Uuid,
}

/// What a Postgres claim decided.
#[derive(Debug)]
pub enum ClaimOutcome {
    /// The job is ours.
    Claimed(ClaimedJob),
    /// The job is still queued but its owner is at the running quota: requeue it.
    QuotaFull,
    /// The job is not claimable (finished, running elsewhere, cancelled, owner
    /// inactive or gone): drop the delivery.
    NotClaimable,
}

/// Claims `job` for `worker_id` if Postgres agrees (see the module docs).
pub async fn claim(
    db: &Pool,
    redis: &Redis,
    job: JobRef,
    worker_id: &str,
    ttl: Duration,
    default_running_limit: i64,
) -> Result<ClaimOutcome, JobError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(owner) = tx
        .query_opt(
            "SELECT COALESCE(max_running_jobs::bigint, $2) FROM users WHERE id = $1 AND active FOR UPDATE",
            &[&job.user_id, &default_running_limit],
        )
        .await?
    else {
        return Ok(ClaimOutcome::NotClaimable);
    };
    let limit: i64 = owner.get(0);
    let running: i64 = tx
        .query_one(
            "SELECT count(*) FROM jobs WHERE user_id = $1 AND state = 'running'",
            &[&job.user_id],
        )
        .await?
        .get(0);
    if running >= limit {
        let still_queued = tx
            .query_opt(
                "SELECT 1 FROM jobs WHERE id = $1 AND user_id = $2 AND state = 'queued' \
                 AND cancel_requested_at IS NULL",
                &[&job.id, &job.user_id],
            )
            .await?
            .is_some();
        return Ok(if still_queued {
            ClaimOutcome::QuotaFull
        } else {
            ClaimOutcome::NotClaimable
        });
    }
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let row = tx
        .query_opt(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
                 lease_token = gen_random_uuid(), \
                 lease_expires_at = now() + $3::bigint * interval '1 millisecond', worker_id = $4, \
                 started_at = COALESCE(started_at, now()), progress = NULL, updated_at = now() \
             WHERE id = $1 AND user_id = $2 AND state = 'queued' AND run_at <= now() \
                 AND cancel_requested_at IS NULL \
             RETURNING kind, params, attempt, max_attempts, timeout_ms, lease_token",
            &[&job.id, &job.user_id, &ttl_ms, &worker_id],
        )
        .await?;
    tx.commit().await?;
    if row.is_some() {
        events::notify(redis, job.id, job.user_id, JobState::Running).await;
    }
    Ok(match row {
        Some(row) => ClaimOutcome::Claimed(ClaimedJob {
            job,
            kind: row.get("kind"),
            params: row.get("params"),
            attempt: row.get("attempt"),
            max_attempts: row.get("max_attempts"),
            timeout: Duration::from_millis(
                u64::try_from(row.get::<_, i64>("timeout_ms")).unwrap_or(0),
            ),
            lease_token: row.get("lease_token"),
        }),
        None => ClaimOutcome::NotClaimable,
    })
}

/// A heartbeat's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The lease was extended; `cancel_requested` tells whether the owner cancelled.
    Renewed {
        /// The owner asked to cancel the job.
        cancel_requested: bool,
    },
    /// The lease is gone: stop the job, it is not ours any more.
    Lost,
}

/// Extends the lease in Postgres (and the Redis running slot).
pub async fn heartbeat(
    db: &Pool,
    redis: &Redis,
    claimed: &ClaimedJob,
    ttl: Duration,
) -> Result<Heartbeat, JobError> {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let row = db
        .get()
        .await?
        .query_opt(
            "UPDATE jobs SET lease_expires_at = now() + $3::bigint * interval '1 millisecond', updated_at = now() \
             WHERE id = $1 AND lease_token = $2 AND state = 'running' \
             RETURNING cancel_requested_at IS NOT NULL",
            &[&claimed.job.id, &claimed.lease_token, &ttl_ms],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Heartbeat::Lost);
    };
    if let Err(e) = dispatch::renew(redis, claimed.job, u64::try_from(ttl_ms).unwrap_or(0)).await {
        tracing::warn!(error = %e, job_id = %claimed.job.id, "cannot renew the redis lease");
    }
    Ok(Heartbeat::Renewed {
        cancel_requested: row.get(0),
    })
}

/// Stores a progress report; false when the lease is gone.
pub async fn report_progress(
    db: &Pool,
    redis: &Redis,
    claimed: &ClaimedJob,
    progress: &Progress,
) -> Result<bool, JobError> {
    let value = serde_json::to_value(progress).unwrap_or(Value::Null);
    let updated = db
        .get()
        .await?
        .execute(
            "UPDATE jobs SET progress = $3, updated_at = now() \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            &[&claimed.job.id, &claimed.lease_token, &value],
        )
        .await?;
    if updated == 1 {
        events::notify(
            redis,
            claimed.job.id,
            claimed.job.user_id,
            JobState::Running,
        )
        .await;
    }
    Ok(updated == 1)
}

/// How an attempt ended, as the runtime reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished with this output.
    Succeeded(JobOutput),
    /// Failed; retried (with backoff) while attempts remain if `retryable`.
    Failed {
        /// Machine-readable code.
        code: String,
        /// Human-readable message.
        message: String,
        /// Whether another attempt may help.
        retryable: bool,
    },
    /// Stopped because the owner cancelled it.
    Cancelled,
    /// Stopped by a graceful shutdown: back to `queued`, the attempt not counted.
    Released,
}

async fn register_files(
    tx: &tokio_postgres::Transaction<'_>,
    claimed: &ClaimedJob,
    output: &JobOutput,
    created_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), JobError> {
    let user_id = claimed.job.user_id;
    for file in &output.files {
        tx.execute(
            "INSERT INTO files (id, user_id, kind, area, name, size_bytes, sha256, content_type, job_id, created_at) \
             VALUES ($1, $2, 'result', $3, $4, $5, $6, $7, $8, $9)",
            &[
                &file.id,
                &user_id,
                &file.area,
                &file.name,
                &file.size_bytes,
                &file.sha256,
                &file.content_type,
                &claimed.job.id,
                &created_at,
            ],
        )
        .await?;
    }
    let total: i64 = output.files.iter().map(|f| f.size_bytes).sum();
    tx.execute(
        "UPDATE users SET storage_bytes = storage_bytes + $2 WHERE id = $1",
        &[&user_id, &total],
    )
    .await?;
    Ok(())
}

/// Records the end of an attempt, fenced by the lease token. Returns the job's new
/// state, or `None` when the lease was lost (a zombie: nothing was written).
pub async fn finish(
    db: &Pool,
    redis: &Redis,
    claimed: &ClaimedJob,
    outcome: &Outcome,
) -> Result<Option<JobState>, JobError> {
    let mut client = db.get().await?;
    let id = &claimed.job.id;
    let token = &claimed.lease_token;
    const RELEASED: &str = "lease_token = NULL, lease_expires_at = NULL, updated_at = now()";
    const FENCE: &str = "WHERE id = $1 AND lease_token = $2 AND state = 'running' RETURNING state";
    let row = match outcome {
        Outcome::Succeeded(output) => {
            // The result files are registered and charged in the completing
            // transaction: a zombie (lost lease) writes neither.
            let tx = client.transaction().await?;
            let now = chrono::Utc::now();
            let result = result_value(output.summary.clone(), &output.files, *id, now);
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE jobs SET state = 'succeeded', result = $3, error_code = NULL, \
                         error_message = NULL, finished_at = now(), {RELEASED} {FENCE}"
                    ),
                    &[id, token, &result],
                )
                .await?;
            if row.is_some() && !output.files.is_empty() {
                register_files(&tx, claimed, output, now).await?;
            }
            tx.commit().await?;
            row
        }
        Outcome::Failed {
            code,
            message,
            retryable,
        } => {
            client
                .query_opt(
                    &format!(
                        "UPDATE jobs SET \
                           state = CASE WHEN $5 AND attempt < max_attempts THEN 'retrying' ELSE 'failed' END, \
                           run_at = CASE WHEN $5 AND attempt < max_attempts THEN {BACKOFF_SQL} ELSE run_at END, \
                           finished_at = CASE WHEN $5 AND attempt < max_attempts THEN NULL ELSE now() END, \
                           error_code = $3, error_message = $4, {RELEASED} {FENCE}"
                    ),
                    &[id, token, code, message, retryable],
                )
                .await?
        }
        Outcome::Cancelled => {
            client
                .query_opt(
                    &format!("UPDATE jobs SET state = 'cancelled', finished_at = now(), {RELEASED} {FENCE}"),
                    &[id, token],
                )
                .await?
        }
        Outcome::Released => {
            client
                .query_opt(
                    &format!(
                        "UPDATE jobs SET \
                           state = CASE WHEN cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END, \
                           finished_at = CASE WHEN cancel_requested_at IS NULL THEN NULL ELSE now() END, \
                           attempt = greatest(attempt - 1, 0), run_at = now(), {RELEASED} {FENCE}"
                    ),
                    &[id, token],
                )
                .await?
        }
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let state = JobState::parse(row.get(0)).unwrap_or(JobState::Failed);
    let redis_result = if state == JobState::Queued {
        dispatch::release(redis, claimed.job, true).await
    } else {
        dispatch::retire(redis, claimed.job).await
    };
    if let Err(e) = redis_result {
        // The reconciler and lease expiry repair Redis; Postgres already has the truth.
        tracing::warn!(error = %e, job_id = %id, "cannot update dispatch after finishing a job");
    }
    events::notify(redis, claimed.job.id, claimed.job.user_id, state).await;
    Ok(Some(state))
}
