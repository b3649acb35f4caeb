//! Reading jobs for their owner: one job, a page of jobs (newest first, keyset
//! pagination with an opaque cursor), and why a waiting job waits. Every query is
//! scoped by `user_id`: another user's job is simply not found (invariant 6).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::jobs::JobError;
use crate::jobs::dispatch::{self, JobRef};
use crate::jobs::model::{JOB_COLUMNS, Job, JobState, WaitReason, Waiting};
use crate::redis_conn::Redis;

/// Largest page.
pub const MAX_PAGE: i64 = 200;

/// The user's job, if it exists and is theirs.
pub async fn get(db: &Pool, user_id: Uuid, job_id: Uuid) -> Result<Option<Job>, JobError> {
    let row = db
        .get()
        .await?
        .query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2"),
            &[&job_id, &user_id],
        )
        .await?;
    Ok(row.as_ref().map(Job::from_row))
}

/// A page of the user's jobs, newest first, optionally filtered by state and kind, and
/// the cursor of the next page (`None` on the last page). `limit` is clamped to
/// 1..=[`MAX_PAGE`]; a cursor not produced here is [`JobError::InvalidCursor`].
pub async fn list(
    db: &Pool,
    user_id: Uuid,
    state: Option<JobState>,
    kind: Option<&str>,
    limit: i64,
    cursor: Option<&str>,
) -> Result<(Vec<Job>, Option<String>), JobError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let after = cursor.map(decode_cursor).transpose()?;
    let (after_at, after_id) = after.unzip();
    let rows = db
        .get()
        .await?
        .query(
            &format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = $1 \
                   AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR kind = $3) \
                   AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
                 ORDER BY created_at DESC, id DESC LIMIT $6"
            ),
            &[
                &user_id,
                &state.map(JobState::as_str),
                &kind,
                &after_at,
                &after_id,
                &(limit + 1),
            ],
        )
        .await?;
    let mut jobs: Vec<Job> = rows.iter().map(Job::from_row).collect();
    let next = if jobs.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        jobs.pop();
        jobs.last().map(|j| encode_cursor(j.created_at, j.id))
    } else {
        None
    };
    Ok((jobs, next))
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}.{}", at.timestamp_micros(), id.simple())
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), JobError> {
    let (micros, id) = cursor.split_once('.').ok_or(JobError::InvalidCursor)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or(JobError::InvalidCursor)?;
    let id = Uuid::try_parse(id).map_err(|_| JobError::InvalidCursor)?;
    Ok((at, id))
}

/// Why `job` has not started: for a queued job, the owner's running count against their
/// limit and the job's place in the owner's lane; for a retrying job, its backoff.
/// `None` for jobs that are not waiting.
pub async fn waiting(
    redis: &Redis,
    job: &Job,
    default_running_limit: i64,
) -> Result<Option<Waiting>, JobError> {
    match job.state {
        JobState::Retrying => Ok(Some(Waiting {
            reason: WaitReason::RetryBackoff,
            position: None,
            running: None,
            limit: None,
        })),
        JobState::Queued => {
            let job_ref = JobRef {
                id: job.id,
                user_id: job.user_id,
            };
            let (running, limit, position) =
                dispatch::lane_status(redis, job_ref, default_running_limit).await?;
            let position = position.map(|p| p + 1);
            Ok(Some(if running >= limit {
                Waiting {
                    reason: WaitReason::UserConcurrencyLimit,
                    position,
                    running: Some(running),
                    limit: Some(limit),
                }
            } else {
                Waiting {
                    reason: WaitReason::NoFreeWorker,
                    position,
                    running: None,
                    limit: None,
                }
            }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        for bad in ["", "x", "1.2", "abc.def", ".", "1700000000.zz"] {
            assert!(
                matches!(decode_cursor(bad), Err(JobError::InvalidCursor)),
                "{bad}"
            );
        }
    }
}
