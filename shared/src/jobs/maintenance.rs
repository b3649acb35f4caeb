//! Keeping dispatch honest: rescue expired leases, promote due retries, and reconcile
//! Redis with Postgres (re-publish queued jobs without a live delivery, e.g. after a
//! FLUSHALL or a lost publish) when a cheap comparison of the two says Redis may have
//! lost something, and once a minute regardless.
//!
//! Every statement here is conditional and idempotent (`WHERE state = ... AND
//! lease_expires_at < now()`, `FOR UPDATE SKIP LOCKED`, idempotent publish), so two
//! processes running a pass at once cannot corrupt anything; the [`MaintenanceLock`]
//! only keeps the work (and the log) to one process at a time. It is a Redis key with a
//! lease that its holder renews; if Redis loses it, at worst two passes overlap.

use deadpool_postgres::Pool;
use uuid::Uuid;

use crate::jobs::dispatch::{self, JobRef, Publication};
use crate::jobs::lease::BACKOFF_SQL;
use crate::jobs::model::JobState;
use crate::jobs::{JobError, events};
use crate::redis_conn::Redis;

/// Jobs handled per statement, so one pass never holds many row locks.
const BATCH: i64 = 1000;
/// Queued jobs read per reconcile query.
const RECONCILE_BATCH: i64 = 5_000;

/// Running jobs whose lease expired (the worker died, hung or lost its database): each
/// becomes `retrying` with backoff, or `failed` with code `interrupted` when it used
/// its last attempt (the interrupted run counts), or `cancelled` when its owner asked.
pub async fn rescue_expired(db: &Pool, redis: &Redis) -> Result<usize, JobError> {
    let rows = db
        .get()
        .await?
        .query(
            &format!(
                "UPDATE jobs SET \
                   state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' \
                                WHEN attempt >= max_attempts THEN 'failed' ELSE 'retrying' END, \
                   finished_at = CASE WHEN cancel_requested_at IS NOT NULL OR attempt >= max_attempts \
                                      THEN now() END, \
                   run_at = {BACKOFF_SQL}, \
                   error_code = CASE WHEN cancel_requested_at IS NULL THEN 'interrupted' END, \
                   error_message = CASE WHEN cancel_requested_at IS NULL \
                                   THEN 'the worker running this job stopped before finishing it' END, \
                   lease_token = NULL, lease_expires_at = NULL, updated_at = now() \
                 WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NULL AND state = 'running' \
                                AND lease_expires_at < now() \
                              LIMIT $1 FOR UPDATE SKIP LOCKED) \
                   AND state = 'running' AND lease_expires_at < now() \
                 RETURNING id, user_id, state"
            ),
            &[&BATCH],
        )
        .await?;
    for row in &rows {
        let job = JobRef {
            id: row.get(0),
            user_id: row.get(1),
        };
        let state = JobState::parse(row.get(2)).unwrap_or(JobState::Failed);
        tracing::warn!(job_id = %job.id, state = state.as_str(), "rescued a job whose lease expired");
        if let Err(e) = dispatch::retire(redis, job).await {
            // Its Redis lease expires by itself; Postgres already moved on.
            tracing::warn!(error = %e, job_id = %job.id, "cannot clear a rescued job from dispatch");
        }
        events::notify(redis, job.id, job.user_id, state).await;
    }
    Ok(rows.len())
}

/// `retrying` jobs whose backoff ended become `queued` and are published.
pub async fn promote_due(
    db: &Pool,
    redis: &Redis,
    default_running_limit: i64,
) -> Result<usize, JobError> {
    let rows = db
        .get()
        .await?
        .query(
            "WITH due AS ( \
                 UPDATE jobs SET state = 'queued', updated_at = now() \
                 WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NULL AND state = 'retrying' \
                                AND run_at <= now() \
                              LIMIT $1 FOR UPDATE SKIP LOCKED) \
                   AND state = 'retrying' \
                 RETURNING id, user_id) \
             SELECT due.id, due.user_id, COALESCE(u.max_running_jobs::bigint, $2) \
             FROM due JOIN users u ON u.id = due.user_id",
            &[&BATCH, &default_running_limit],
        )
        .await?;
    let publications = publications(&rows);
    // Should this fail, the jobs are queued in Postgres and the reconciler publishes them.
    dispatch::publish(redis, &publications).await?;
    let changes: Vec<_> = publications
        .iter()
        .map(|p| (p.job.id, p.job.user_id, JobState::Queued))
        .collect();
    events::notify_all(redis, &changes).await;
    Ok(publications.len())
}

/// Re-publishes every queued job (each owner's oldest first, in batches); live
/// deliveries are skipped by the publish script, so only jobs Redis lost (flush, failed
/// publish, worker died between its Redis and Postgres claims) go back into their
/// lanes. Returns how many did.
///
/// Pages follow `jobs_unfinished` (owner, then id: ids are UUIDv7, so time order), so
/// each page is a range of that index and a pass reads every unfinished job once.
pub async fn reconcile(
    db: &Pool,
    redis: &Redis,
    default_running_limit: i64,
) -> Result<usize, JobError> {
    let client = db.get().await?;
    let page = client
        .prepare(
            "SELECT j.id, j.user_id, COALESCE(u.max_running_jobs::bigint, $2) \
             FROM jobs j JOIN users u ON u.id = j.user_id \
             WHERE j.finished_at IS NULL AND (j.user_id, j.id) > ($3, $4) \
               AND j.state = 'queued' AND j.run_at <= now() AND u.active \
             ORDER BY j.user_id, j.id LIMIT $1",
        )
        .await?;
    // Real job and user ids are never nil, so the first page starts at the beginning.
    let mut after = (Uuid::nil(), Uuid::nil());
    let mut republished = 0;
    loop {
        let rows = client
            .query(
                &page,
                &[&RECONCILE_BATCH, &default_running_limit, &after.0, &after.1],
            )
            .await?;
        republished += dispatch::publish(redis, &publications(&rows)).await?;
        match rows.last() {
            Some(last) if i64::try_from(rows.len()).unwrap_or(0) == RECONCILE_BATCH => {
                after = (last.get(1), last.get(0));
            }
            _ => break,
        }
    }
    if republished > 0 {
        tracing::info!(
            republished,
            "re-published queued jobs that had no live delivery"
        );
    }
    Ok(republished)
}

fn publications(rows: &[tokio_postgres::Row]) -> Vec<Publication> {
    rows.iter()
        .map(|row| Publication {
            job: JobRef {
                id: row.get::<_, Uuid>(0),
                user_id: row.get::<_, Uuid>(1),
            },
            running_limit: row.get(2),
        })
        .collect()
}

/// The lease that elects one maintenance runner: `<prefix>jobs:maintenance`.
#[derive(Debug, Clone)]
pub struct MaintenanceLock {
    key: String,
    holder: String,
}

impl MaintenanceLock {
    /// A lock handle for `holder` (a unique process name).
    pub fn new(redis: &Redis, holder: &str) -> Self {
        Self {
            key: redis.key("jobs:maintenance"),
            holder: holder.to_owned(),
        }
    }

    /// Takes the lock, or extends it when we hold it already; true when we hold it for
    /// `ttl_ms` from now.
    pub async fn acquire(&self, redis: &Redis, ttl_ms: u64) -> crate::Result<bool> {
        let script = redis::Script::new(
            r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
",
        );
        let held: i64 = script
            .key(&self.key)
            .arg(&self.holder)
            .arg(ttl_ms)
            .invoke_async(&mut redis.conn())
            .await?;
        Ok(held == 1)
    }

    /// Gives the lock up if we hold it (on shutdown), so another process takes over at once.
    pub async fn release(&self, redis: &Redis) -> crate::Result<()> {
        let script = redis::Script::new(
            r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        );
        let _: i64 = script
            .key(&self.key)
            .arg(&self.holder)
            .invoke_async(&mut redis.conn())
            .await?;
        Ok(())
    }
}

/// Whether Redis may be missing jobs it should hold: it holds fewer live deliveries
/// than Postgres has queued and running jobs, or some admission's Redis lease ran out.
/// Cheap next to [`reconcile`] (a count and one script call), so it runs every few
/// seconds and a full pass only when it says so. It can miss a lost job only while a
/// stale live entry makes up for it, which the periodic full pass
/// ([`FULL_RECONCILE_EVERY`]) repairs.
pub async fn dispatch_may_miss_jobs(db: &Pool, redis: &Redis) -> Result<bool, JobError> {
    // Redis first: jobs that finish in between then leave Postgres's count after
    // Redis's, never the other way round (a submission in between may still make it a
    // false alarm, which costs one full pass).
    let (live, expired) = dispatch::live_counts(redis).await?;
    let queued_or_running: i64 = db
        .get()
        .await?
        .query_one(
            "SELECT count(*) FROM jobs \
             WHERE finished_at IS NULL AND state IN ('queued', 'running')",
            &[],
        )
        .await?
        .get(0);
    Ok(expired > 0 || u64::try_from(queued_or_running).unwrap_or(0) > live)
}

/// How often a maintenance pass runs (rescue and promote; reconcile every
/// [`RECONCILE_EVERY`] passes).
pub const PASS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// Check on the first pass and every this many after, and reconcile when
/// [`dispatch_may_miss_jobs`] says so.
pub const RECONCILE_EVERY: u64 = 5;
/// Reconcile on every this many passes whatever the counts say.
pub const FULL_RECONCILE_EVERY: u64 = 60;

async fn reconcile_logged(db: &Pool, redis: &Redis, default_running_limit: i64) {
    if let Err(e) = reconcile(db, redis, default_running_limit).await {
        tracing::warn!(error = %e, "reconciling dispatch failed");
    }
}

/// Runs maintenance passes whenever this process holds the [`MaintenanceLock`], until
/// `stop` turns true. Errors are logged and the next pass tries again.
pub async fn run(
    db: Pool,
    redis: Redis,
    holder: String,
    default_running_limit: i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let lock = MaintenanceLock::new(&redis, &holder);
    let lock_ttl_ms = u64::try_from(PASS_INTERVAL.as_millis() * 5).unwrap_or(5_000);
    let mut ticks = tokio::time::interval(PASS_INTERVAL);
    let mut passes = 0u64;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        match lock.acquire(&redis, lock_ttl_ms).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the maintenance lock");
                continue;
            }
        }
        if let Err(e) = rescue_expired(&db, &redis).await {
            tracing::warn!(error = %e, "rescuing expired leases failed");
        }
        if let Err(e) = promote_due(&db, &redis, default_running_limit).await {
            tracing::warn!(error = %e, "promoting due retries failed");
        }
        passes += 1;
        if passes.is_multiple_of(FULL_RECONCILE_EVERY) {
            reconcile_logged(&db, &redis, default_running_limit).await;
        } else if (passes - 1).is_multiple_of(RECONCILE_EVERY) {
            match dispatch_may_miss_jobs(&db, &redis).await {
                Ok(false) => {}
                Ok(true) => reconcile_logged(&db, &redis, default_running_limit).await,
                Err(e) => tracing::warn!(error = %e, "checking dispatch against postgres failed"),
            }
        }
    }
    if let Err(e) = lock.release(&redis).await {
        tracing::warn!(error = %e, "cannot release the maintenance lock");
    }
}
