//! Claims, leases and fencing in Postgres: the worker's side of a job's life.
//!
//! A claim (after Redis proposed the job) turns a `queued` row into `running` with a
//! fresh `lease_token` and `lease_expires_at = now() + ttl` (database time, so worker
//! clocks do not matter). Every later write by that worker (heartbeat, progress,
//! completion, failure, release) is `... WHERE id = $1 AND lease_token = $2`: once the
//! lease expired and the rescuer (or another worker) moved on, the old worker's writes
//! affect no row and it learns it lost the job (invariant 2, no zombie completion).
//!
//! **Running quota in Postgres (invariant 4).** The claim transaction locks the owners'
//! `users` rows `FOR UPDATE` (in id order), then reads their `running` counts in a new
//! statement (so it sees every claim committed before the locks were granted), and
//! claims only below `users.max_running_jobs` (else the deployment default). The counts
//! live in `user_job_counts`, kept exact by statement triggers on `jobs` (`migrations/V8`:
//! every statement that moves jobs into or out of `running` adds its difference in its
//! own transaction), so the claim reads one row per owner instead of counting jobs, and
//! no index of `jobs` mentions `state`: claims and completions are HOT updates. Claims
//! for one user are therefore serialised and the count is exact, whatever Redis says:
//! after a Redis flush the Redis quota may admit too many, and Postgres refuses the
//! excess. Running jobs with an expired lease still count until the rescuer moves them,
//! so a paused worker's job is never double-counted away.
//!
//! A worker confirms all the proposals of one Redis claim in one transaction
//! ([`claim_batch`]: the lock and one claiming statement, pipelined with `BEGIN` and
//! `COMMIT`, so one round trip) and records successes without files in batches
//! ([`succeed_many`]); both keep the per-row rules above. Both take a connection the
//! caller may keep between batches (a pool checkout is a round trip of its own). Their
//! statements find rows only through the primary key, joining `unnest($ids)`, and test the state inside a `CASE`, which no
//! index matches: with `id = ANY($ids)` beside the join, or a plain `state = 'queued'`,
//! the planner may scan the partial index of every unfinished job instead,
//! a scan that grows with the queue; statistics a burst of submissions made stale
//! invite exactly that (measured: claims 4x slower at 50 000 queued jobs, and 40x
//! slower at 16 a batch right after a burst).

use std::collections::HashSet;
use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::types::ToSql;
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
    /// The job is ours, and it is a suspect (see [`claim_batch`]): the worker runs
    /// nothing else until it is over.
    ClaimedAlone(ClaimedJob),
    /// The job is still queued but its owner is at the running quota: requeue it.
    QuotaFull,
    /// The job is still queued but must wait for a worker with nothing else in hand
    /// (it is a suspect, or another suspect was claimed alone): requeue it.
    Deferred,
    /// The job is not claimable (finished, running elsewhere, cancelled, owner
    /// inactive or gone): drop the delivery.
    NotClaimable,
}

/// Locks the proposals' owners (the first statement of a claim's transaction).
const LOCK_OWNERS: &str =
    "SELECT id FROM users WHERE id = ANY($1) AND active ORDER BY id FOR UPDATE";

/// The rest of a claim's transaction, one statement that Postgres starts once the
/// owners are locked (so its snapshot sees every claim committed before): the claims
/// made (`claimed`, with the proposal's 1-based position `ord`) and the facts the
/// verdict of every other proposal rests on (`$1` ids, `$2` owners, in order; a
/// proposal with neither row is dropped), turned into verdicts by [`verdicts`]. `$3`
/// lease ms, `$4` worker id, `$5` default running limit, `$6` exclusive. Owners are read
/// once (`MATERIALIZED`), jobs only through the primary key. The two kinds of row are
/// matched up by the caller, not joined: the planner, expecting one row per CTE, joins
/// CTEs with a nested loop, which rescans one for every row of the other (measured:
/// a quarter of a 64-job claim).
const CLAIM: &str = "
WITH p AS (
    SELECT p.id, p.user_id, p.ord
    FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS p(id, user_id, ord)
),
owner AS MATERIALIZED (
    SELECT u.id, COALESCE(u.max_running_jobs::bigint, $5) - COALESCE(c.running, 0) AS free
    FROM users u LEFT JOIN user_job_counts c ON c.user_id = u.id
    WHERE u.id = ANY($2) AND u.active
),
firsts AS (
    SELECT p.id, p.user_id, p.ord, o.free,
        row_number() OVER (PARTITION BY p.id ORDER BY p.ord) AS copy
    FROM p JOIN owner o ON o.id = p.user_id
),
fit AS (
    SELECT f.id, f.user_id, f.ord,
        row_number() OVER (PARTITION BY f.user_id ORDER BY f.ord) <= f.free AS fits
    FROM firsts f WHERE f.copy = 1
),
job AS (
    SELECT f.id, f.user_id, f.ord, f.fits,
        j.state = 'queued' AND j.cancel_requested_at IS NULL AS waiting,
        COALESCE(j.state = 'queued' AND j.error_code IS NOT DISTINCT FROM 'interrupted', false)
            AS suspect
    FROM fit f LEFT JOIN jobs j ON j.id = f.id AND j.user_id = f.user_id
),
alone AS (
    SELECT id FROM job WHERE $6 AND fits AND suspect ORDER BY ord LIMIT 1
),
verdict AS (
    SELECT job.*, job.fits AND CASE WHEN EXISTS (SELECT 1 FROM alone)
        THEN job.id IS DISTINCT FROM (SELECT id FROM alone) ELSE job.suspect END AS deferred
    FROM job
),
claimed AS (
    UPDATE jobs SET state = 'running', attempt = attempt + 1,
        lease_token = gen_random_uuid(),
        lease_expires_at = now() + $3::bigint * interval '1 millisecond', worker_id = $4,
        started_at = COALESCE(started_at, now()), progress = NULL, updated_at = now()
    FROM verdict v
    WHERE v.fits AND NOT v.deferred AND jobs.id = v.id AND jobs.user_id = v.user_id
        AND CASE WHEN jobs.state = 'queued'
            THEN jobs.run_at <= now() AND jobs.cancel_requested_at IS NULL END
    RETURNING v.ord, jobs.id = (SELECT id FROM alone) AS alone, jobs.kind, jobs.params,
        jobs.attempt, jobs.max_attempts, jobs.timeout_ms, jobs.lease_token
)
SELECT true AS claimed, c.ord, c.alone, NULL::boolean AS waiting, NULL::boolean AS fits,
    NULL::boolean AS deferred, c.kind, c.params, c.attempt, c.max_attempts, c.timeout_ms,
    c.lease_token
FROM claimed c
UNION ALL
SELECT false, v.ord, NULL, v.waiting, v.fits, v.deferred, NULL, NULL, NULL, NULL, NULL, NULL
FROM verdict v";

/// Confirms a batch of Redis proposals in one transaction; returns one verdict per
/// proposal, in order. [`claim_batch_on`] on a connection from the pool.
pub async fn claim_batch(
    db: &Pool,
    redis: &Redis,
    proposals: &[JobRef],
    worker_id: &str,
    ttl: Duration,
    default_running_limit: i64,
    exclusive: bool,
) -> Result<Vec<ClaimOutcome>, JobError> {
    let client = db.get().await?;
    claim_batch_on(
        &client,
        redis,
        proposals,
        worker_id,
        ttl,
        default_running_limit,
        exclusive,
    )
    .await
}

/// Confirms a batch of Redis proposals in one transaction on `client` (one round
/// trip); returns one verdict per proposal, in order.
///
/// The owners' `users` rows are locked `FOR UPDATE` in id order (so concurrent batches
/// cannot deadlock); the next statement, which Postgres starts only once the locks are
/// granted, reads each owner's `running` count (`user_job_counts`), so it sees every
/// claim committed before. Each owner's proposals, in order, are candidates while `running + candidates
/// < limit`; the rest are refused (requeued if still queued, dropped otherwise). The
/// same statement claims the candidates that are still `queued`, due and not
/// cancelled; a candidate it skips is stale and dropped. A skipped candidate never
/// lets an over-quota proposal through in the same batch, so the quota can only be
/// under-used for one round, never exceeded.
///
/// A *suspect* is a queued job whose last attempt was interrupted (its worker died or
/// hung past its lease): it may be what killed the worker, so it runs alone, and no
/// bystander shares its fate twice. Only an `exclusive` claim (the worker has nothing
/// else running or completing) takes one, and then only that one
/// ([`ClaimOutcome::ClaimedAlone`]; the batch's other candidates are deferred); other
/// claims defer suspects ([`ClaimOutcome::Deferred`]), and the worker drains.
///
/// `BEGIN`, the lock, the claim and `COMMIT` go out pipelined; on an error the
/// transaction is rolled back, so `client` is clean again either way.
pub async fn claim_batch_on(
    client: &deadpool_postgres::Client,
    redis: &Redis,
    proposals: &[JobRef],
    worker_id: &str,
    ttl: Duration,
    default_running_limit: i64,
    exclusive: bool,
) -> Result<Vec<ClaimOutcome>, JobError> {
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    let mut owners: Vec<Uuid> = proposals.iter().map(|p| p.user_id).collect();
    owners.sort_unstable();
    owners.dedup();
    let ids: Vec<Uuid> = proposals.iter().map(|p| p.id).collect();
    let users: Vec<Uuid> = proposals.iter().map(|p| p.user_id).collect();
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let lock = client.prepare_cached(LOCK_OWNERS).await?;
    let claim = client.prepare_cached(CLAIM).await?;
    let lock_params: [&(dyn ToSql + Sync); 1] = [&owners];
    let claim_params: [&(dyn ToSql + Sync); 6] = [
        &ids,
        &users,
        &ttl_ms,
        &worker_id,
        &default_running_limit,
        &exclusive,
    ];
    // tokio-postgres sends each request when first polled, and `try_join!` polls them
    // in order: the four go out back to back and Postgres runs them in order.
    let sent = tokio::try_join!(
        client.batch_execute("BEGIN"),
        client.query(&lock, &lock_params),
        client.query(&claim, &claim_params),
        client.batch_execute("COMMIT"),
    );
    let rows = match sent {
        Ok((_, _, rows, _)) => rows,
        Err(e) => {
            // A no-op (with a warning) when the COMMIT already ended the transaction.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e.into());
        }
    };

    let outcomes = verdicts(proposals, &rows);
    let changes: Vec<_> = proposals
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| {
            matches!(
                outcome,
                ClaimOutcome::Claimed(_) | ClaimOutcome::ClaimedAlone(_)
            )
        })
        .map(|(p, _)| (p.id, p.user_id, JobState::Running))
        .collect();
    if !changes.is_empty() {
        // Events are hints (subscribers re-read the job), so the jobs need not wait for
        // them to be sent before they start.
        let redis = redis.clone();
        tokio::spawn(async move { events::notify_all(&redis, &changes).await });
    }
    Ok(outcomes)
}

/// One verdict per proposal, in order, from the rows of [`CLAIM`]: claimed (alone when
/// it is the suspect claimed alone); else, for a job still waiting, deferred or over its
/// owner's quota (both requeued); else dropped (stale, duplicate, cancelled, owner
/// inactive or gone).
fn verdicts(proposals: &[JobRef], rows: &[tokio_postgres::Row]) -> Vec<ClaimOutcome> {
    let mut outcomes: Vec<ClaimOutcome> = proposals
        .iter()
        .map(|_| ClaimOutcome::NotClaimable)
        .collect();
    let position = |row: &tokio_postgres::Row| {
        usize::try_from(row.get::<_, i64>("ord") - 1)
            .ok()
            .filter(|i| *i < proposals.len())
    };
    let flag = |row: &tokio_postgres::Row, name| row.get::<_, Option<bool>>(name) == Some(true);
    // Facts first, claims last: a claim's row always wins.
    for row in rows.iter().filter(|row| !row.get::<_, bool>("claimed")) {
        let Some(i) = position(row) else { continue };
        if flag(row, "waiting") {
            if flag(row, "deferred") {
                outcomes[i] = ClaimOutcome::Deferred;
            } else if !flag(row, "fits") {
                outcomes[i] = ClaimOutcome::QuotaFull;
            }
        }
    }
    for row in rows.iter().filter(|row| row.get::<_, bool>("claimed")) {
        let Some(i) = position(row) else { continue };
        let claimed = claimed_job(proposals[i], row);
        outcomes[i] = if flag(row, "alone") {
            ClaimOutcome::ClaimedAlone(claimed)
        } else {
            ClaimOutcome::Claimed(claimed)
        };
    }
    outcomes
}

fn claimed_job(job: JobRef, row: &tokio_postgres::Row) -> ClaimedJob {
    ClaimedJob {
        job,
        kind: row.get("kind"),
        params: row.get("params"),
        attempt: row.get("attempt"),
        max_attempts: row.get("max_attempts"),
        timeout: Duration::from_millis(u64::try_from(row.get::<_, i64>("timeout_ms")).unwrap_or(0)),
        lease_token: row.get("lease_token"),
    }
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
    let client = db.get().await?;
    let renew = client
        .prepare_cached(
            "UPDATE jobs SET lease_expires_at = now() + $3::bigint * interval '1 millisecond', updated_at = now() \
             WHERE id = $1 AND lease_token = $2 AND state = 'running' \
             RETURNING cancel_requested_at IS NOT NULL",
        )
        .await?;
    let row = client
        .query_opt(&renew, &[&claimed.job.id, &claimed.lease_token, &ttl_ms])
        .await?;
    drop(client);
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
    let client = db.get().await?;
    let update = client
        .prepare_cached(
            "UPDATE jobs SET progress = $3, updated_at = now() \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .await?;
    let updated = client
        .execute(&update, &[&claimed.job.id, &claimed.lease_token, &value])
        .await?;
    drop(client);
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

fn progress_value(progress: &Progress) -> Value {
    serde_json::to_value(progress).unwrap_or(Value::Null)
}

/// A successful attempt without result files, for [`succeed_many`].
#[derive(Debug)]
pub struct Success {
    /// The job.
    pub job: JobRef,
    /// The fencing token of the claim it ran under.
    pub lease_token: Uuid,
    /// The result summary.
    pub summary: Value,
    /// The job's last progress report.
    pub progress: Option<Progress>,
}

/// Records many successful attempts without result files with one statement, each row
/// fenced by its own lease token exactly as [`finish`] does; then frees their Redis
/// slots and announces them (one script call). Returns, per success in order, whether
/// it was recorded (`false`: the lease was lost, a zombie, nothing written for it).
pub async fn succeed_many(
    client: &deadpool_postgres::Client,
    redis: &Redis,
    successes: Vec<Success>,
) -> Result<Vec<bool>, JobError> {
    if successes.is_empty() {
        return Ok(Vec::new());
    }
    let now = chrono::Utc::now();
    let jobs: Vec<JobRef> = successes.iter().map(|s| s.job).collect();
    let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
    let tokens: Vec<Uuid> = successes.iter().map(|s| s.lease_token).collect();
    let progress: Vec<Option<Value>> = successes
        .iter()
        .map(|s| s.progress.as_ref().map(progress_value))
        .collect();
    let results: Vec<Value> = successes
        .into_iter()
        .map(|s| result_value(s.summary, &[], s.job.id, now))
        .collect();
    let statement = client
        .prepare_cached(
            "UPDATE jobs SET state = 'succeeded', result = s.result, error_code = NULL, \
                 error_message = NULL, progress = COALESCE(s.progress, jobs.progress), \
                 finished_at = now(), lease_token = NULL, lease_expires_at = NULL, updated_at = now() \
             FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[], $4::jsonb[]) AS s(id, token, result, progress) \
             WHERE jobs.id = s.id AND CASE WHEN jobs.state = 'running' \
                 THEN jobs.lease_token = s.token END \
             RETURNING jobs.id",
        )
        .await?;
    let recorded: HashSet<Uuid> = client
        .query(&statement, &[&ids, &tokens, &results, &progress])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let done: Vec<JobRef> = jobs
        .into_iter()
        .filter(|job| recorded.contains(&job.id))
        .collect();
    let announced: Vec<String> = done
        .iter()
        .map(|job| events::payload(job.id, job.user_id, JobState::Succeeded))
        .collect();
    // One script call frees the slots and sends the events (hints, see `claim_batch`).
    if let Err(e) = dispatch::retire_many(redis, &done, &announced).await {
        // The reconciler and lease expiry repair Redis; Postgres already has the truth.
        tracing::warn!(error = %e, jobs = done.len(), "cannot update dispatch after finishing jobs");
    }
    Ok(ids.iter().map(|id| recorded.contains(id)).collect())
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
///
/// `progress` is the job's last report: on success it is stored in the same fenced
/// write (the throttled progress writer may not have flushed it), so a finished job
/// never shows a stale progress.
pub async fn finish(
    db: &Pool,
    redis: &Redis,
    claimed: &ClaimedJob,
    outcome: &Outcome,
    progress: Option<&Progress>,
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
            let progress = progress.map(progress_value);
            let succeed = tx
                .prepare_cached(&format!(
                    "UPDATE jobs SET state = 'succeeded', result = $3, error_code = NULL, \
                     error_message = NULL, progress = COALESCE($4, progress), \
                     finished_at = now(), {RELEASED} {FENCE}"
                ))
                .await?;
            let row = tx
                .query_opt(&succeed, &[id, token, &result, &progress])
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
            let fail = client
                .prepare_cached(&format!(
                    "UPDATE jobs SET \
                       state = CASE WHEN $5 AND attempt < max_attempts THEN 'retrying' ELSE 'failed' END, \
                       run_at = CASE WHEN $5 AND attempt < max_attempts THEN {BACKOFF_SQL} ELSE run_at END, \
                       finished_at = CASE WHEN $5 AND attempt < max_attempts THEN NULL ELSE now() END, \
                       error_code = $3, error_message = $4, {RELEASED} {FENCE}"
                ))
                .await?;
            client
                .query_opt(&fail, &[id, token, code, message, retryable])
                .await?
        }
        Outcome::Cancelled => {
            let cancel = client
                .prepare_cached(&format!(
                    "UPDATE jobs SET state = 'cancelled', finished_at = now(), {RELEASED} {FENCE}"
                ))
                .await?;
            client.query_opt(&cancel, &[id, token]).await?
        }
        Outcome::Released => {
            let release = client
                .prepare_cached(&format!(
                    "UPDATE jobs SET \
                       state = CASE WHEN cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END, \
                       finished_at = CASE WHEN cancel_requested_at IS NULL THEN NULL ELSE now() END, \
                       attempt = greatest(attempt - 1, 0), run_at = now(), {RELEASED} {FENCE}"
                ))
                .await?;
            client.query_opt(&release, &[id, token]).await?
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
