//! The claim loop: while this process has room for jobs (free run slots, plus the jobs
//! it may claim ahead of them when jobs are short: see
//! [`claim_ahead`](crate::claim_ahead)), ask Redis for up to that many
//! (user, job) proposals (fair rounds, per-user quota), confirm them all in one
//! Postgres transaction (`lease::claim_batch_on`, one round trip on a connection the
//! loop keeps), and hand confirmed jobs to apalis. A
//! proposal Postgres refuses is released (one script call for the batch): requeued at
//! the head of its lane when the job is still queued (quota full in Postgres), dropped
//! otherwise (stale, duplicate or cancelled delivery).
//!
//! Claiming is pipelined: a spawned `confirm` writes batch N in Postgres while the
//! loop asks Redis for batch N+1; N's verdicts are collected before N+1 is confirmed,
//! N+1 is given back unconfirmed when N met a suspect, and confirmed before asking
//! again when N claimed nothing.
//!
//! A job whose last attempt was interrupted (a *suspect*: it may have killed its last
//! worker) runs alone: a claim made while this process holds other jobs defers it,
//! and the dispatcher then drains (claims nothing until every job it holds has its
//! outcome written) and claims exclusively; after claiming one alone it drains again.
//! So a job that kills its worker takes no bystander down after its first attempt.
//!
//! When there is nothing to claim it waits for a wake-up message (published with new
//! work on `<prefix>jobs:wake`) or, should one be lost, its poll interval.
//!
//! It does not run or complete jobs: the supervisor and the completer do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use fairlane_shared::jobs::JobError;
use fairlane_shared::jobs::dispatch::{self, JobRef};
use fairlane_shared::jobs::lease::{self, ClaimOutcome, Outcome};
use futures::StreamExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::runtime::{KeptConnection, Runtime, turned_on};
use crate::task::JobTask;

/// How long to wait before asking Redis again after it failed.
const REDIS_RETRY: Duration = Duration::from_secs(1);

/// Claims until `stop` turns true; dropping `jobs` then tells apalis no more work comes.
pub async fn run(
    rt: Arc<Runtime>,
    jobs: mpsc::Sender<Task<JobTask>>,
    mut stop: watch::Receiver<bool>,
) {
    // A permit per job in hand (claimed, code not over): running or claimed ahead.
    let max_in_hand = rt.claim_ahead.max_in_hand();
    let slots = Arc::new(Semaphore::new(max_in_hand));
    let ttl = rt.settings.jobs.lease_ttl;
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    let default_limit = rt.settings.jobs.max_running_jobs;
    let wake = rt.wake.clone();
    let listener = tokio::spawn(listen_for_wake_ups(rt.clone(), wake.clone()));
    // Set when a suspect was claimed alone or deferred: claim nothing until this process
    // holds no job, then claim exclusively (see `lease::claim_batch`).
    let mut draining = false;
    let mut db = KeptConnection::new(rt.db.clone());
    // The previous batch, confirmed in Postgres while Redis proposes the next one.
    let mut confirming: Option<JoinHandle<Confirmed>> = None;
    loop {
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = turned_on(&mut stop) => break,
        };
        // Jobs in hand besides the one this permit is for.
        let in_hand = max_in_hand - slots.available_permits() - 1;
        let room = rt.claim_ahead.in_hand_target().saturating_sub(in_hand);
        if room == 0 {
            // Every run slot is taken and jobs are too long to claim ahead of them.
            drop(first);
            // Some of those slots may be a batch still being confirmed: should Postgres
            // refuse it, no job code ends to free them, so its verdict comes first.
            if let Some(previous) = confirming.take() {
                let done = collect(&rt, previous).await;
                db = done.db;
                draining |= done.draining;
                continue;
            }
            tokio::select! {
                () = rt.claim_ahead.some_code_ended() => {}
                () = turned_on(&mut stop) => break,
            }
            continue;
        }
        // A batch still being confirmed holds jobs the process does not count yet.
        if draining && let Some(previous) = confirming.take() {
            let done = collect(&rt, previous).await;
            db = done.db;
            draining |= done.draining;
        }
        if draining && rt.held_jobs() != 0 {
            drop(first);
            tokio::select! {
                () = tokio::time::sleep(rt.settings.poll_interval) => {}
                () = wake.notified() => {}
                () = turned_on(&mut stop) => break,
            }
            continue;
        }
        draining = false;
        // Jobs handed over by the last claim may be about to free their slots: let them
        // run first, so one claim takes them all (a claim costs the same for 1 or 8).
        tokio::task::yield_now().await;
        let mut permits = vec![first];
        while permits.len() < room
            && let Ok(permit) = slots.clone().try_acquire_owned()
        {
            permits.push(permit);
        }
        let asked_at = Instant::now();
        let mut idle = rt.settings.poll_interval;
        let proposals = match dispatch::claim(&rt.redis, permits.len(), ttl_ms, default_limit).await
        {
            Ok(proposals) => proposals,
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask redis for work");
                idle = idle.max(REDIS_RETRY);
                Vec::new()
            }
        };
        // Redis was asked while the previous batch was confirmed; that one ends first.
        let mut previous_claimed = true;
        if let Some(previous) = confirming.take() {
            let done = collect(&rt, previous).await;
            db = done.db;
            draining |= done.draining;
            previous_claimed = done.claimed_any;
        }
        if proposals.is_empty() {
            drop(permits);
            if !draining {
                tokio::select! {
                    () = tokio::time::sleep(idle) => {}
                    () = wake.notified() => {}
                    () = turned_on(&mut stop) => break,
                }
            }
            continue;
        }
        if draining {
            // A suspect needs this process empty: give these back (requeued at the
            // head of their lanes); the loop's top waits for the jobs in hand.
            let releases: Vec<_> = proposals.iter().map(|job| (*job, true)).collect();
            if let Err(e) = dispatch::release_many(&rt.redis, &releases).await {
                tracing::warn!(error = %e, jobs = releases.len(), "cannot release proposals");
            }
            continue;
        }
        let exclusive = rt.held_jobs() == 0;
        let batch = tokio::spawn(confirm(
            rt.clone(),
            db,
            proposals,
            permits,
            exclusive,
            jobs.clone(),
            asked_at,
        ));
        db = KeptConnection::new(rt.db.clone());
        if previous_claimed {
            confirming = Some(batch);
            continue;
        }
        // Postgres refused the whole last batch (stale proposals, or a quota Redis
        // thinks has room): confirm this one before asking again, and should it claim
        // nothing either, wait rather than spin on the same refusals.
        let done = collect(&rt, batch).await;
        db = done.db;
        draining |= done.draining;
        if !done.claimed_any && !draining {
            tokio::select! {
                () = tokio::time::sleep(idle) => {}
                () = wake.notified() => {}
                () = turned_on(&mut stop) => break,
            }
        }
    }
    if let Some(previous) = confirming.take() {
        // Its jobs are handed over (or released) before the channel closes.
        collect(&rt, previous).await;
    }
    listener.abort();
    tracing::info!("dispatcher stopped claiming");
}

/// What confirming a batch left behind.
struct Confirmed {
    /// The kept connection, back for the next batch.
    db: KeptConnection,
    /// Some job was handed over to run.
    claimed_any: bool,
    /// A suspect was claimed alone or deferred: drain.
    draining: bool,
}

/// Waits for a batch's confirmation; a panicked one leaves a fresh connection.
async fn collect(rt: &Runtime, confirming: JoinHandle<Confirmed>) -> Confirmed {
    confirming.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "confirming a claim failed");
        Confirmed {
            db: KeptConnection::new(rt.db.clone()),
            claimed_any: false,
            draining: false,
        }
    })
}

/// Confirms Redis's proposals in Postgres and hands the claimed jobs to apalis (one
/// permit each); releases the rest.
async fn confirm(
    rt: Arc<Runtime>,
    mut db: KeptConnection,
    proposals: Vec<JobRef>,
    mut permits: Vec<OwnedSemaphorePermit>,
    exclusive: bool,
    jobs: mpsc::Sender<Task<JobTask>>,
    asked_at: Instant,
) -> Confirmed {
    let verdicts = match claim(&rt, &mut db, &proposals, exclusive).await {
        Ok(verdicts) => verdicts,
        Err(e) => {
            db.discard();
            tracing::warn!(error = %e, jobs = proposals.len(), "cannot claim in postgres");
            proposals.iter().map(|_| ClaimOutcome::QuotaFull).collect()
        }
    };
    let mut claimed_any = false;
    let mut draining = false;
    let mut releases = Vec::new();
    for (job, verdict) in proposals.iter().zip(verdicts) {
        let claimed = match verdict {
            ClaimOutcome::Claimed(claimed) => claimed,
            ClaimOutcome::ClaimedAlone(claimed) => {
                tracing::info!(job_id = %job.id, attempt = claimed.attempt,
                    "running a job whose last attempt was interrupted alone");
                draining = true;
                claimed
            }
            ClaimOutcome::Deferred => {
                draining = true;
                releases.push((*job, true));
                continue;
            }
            ClaimOutcome::QuotaFull => {
                releases.push((*job, true));
                continue;
            }
            ClaimOutcome::NotClaimable => {
                releases.push((*job, false));
                continue;
            }
        };
        rt.metrics
            .claim_latency
            .observe(asked_at.elapsed().as_secs_f64());
        let Some(permit) = permits.pop() else {
            // Redis never proposes more jobs than asked for.
            let _ = lease::finish(&rt.db, &rt.redis, &claimed, &Outcome::Released, None).await;
            continue;
        };
        claimed_any = true;
        let task = TaskBuilder::new(JobTask::new(
            claimed.clone(),
            permit,
            rt.hold(),
            rt.services.clone(),
        ))
        .task_id(TaskId::from_string(job.id.to_string()))
        .build();
        if jobs.send(task).await.is_err() {
            tracing::error!(job_id = %job.id, "job runtime is gone; releasing the claim");
            let _ = lease::finish(&rt.db, &rt.redis, &claimed, &Outcome::Released, None).await;
        }
    }
    if !releases.is_empty()
        && let Err(e) = dispatch::release_many(&rt.redis, &releases).await
    {
        // The Redis leases expire by themselves and the reconciler re-publishes.
        tracing::warn!(error = %e, jobs = releases.len(), "cannot release proposals");
    }
    Confirmed {
        db,
        claimed_any,
        draining,
    }
}

/// Confirms Redis's proposals in Postgres on the dispatcher's kept connection.
async fn claim(
    rt: &Runtime,
    db: &mut KeptConnection,
    proposals: &[JobRef],
    exclusive: bool,
) -> Result<Vec<ClaimOutcome>, JobError> {
    lease::claim_batch_on(
        db.get().await?,
        &rt.redis,
        proposals,
        &rt.worker_id,
        rt.settings.jobs.lease_ttl,
        rt.settings.jobs.max_running_jobs,
        exclusive,
    )
    .await
}

/// Turns wake-up messages into [`Notify`] permits (one is stored while the dispatcher
/// is busy, so work published meanwhile is not missed), resubscribing after failures.
async fn listen_for_wake_ups(rt: Arc<Runtime>, wake: Arc<Notify>) {
    loop {
        match dispatch::wake_ups(&rt.redis).await {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                while stream.next().await.is_some() {
                    wake.notify_one();
                }
                tracing::warn!("wake-up subscription ended, resubscribing");
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to wake-ups"),
        }
        // Work may have been published while unsubscribed.
        wake.notify_one();
        tokio::time::sleep(REDIS_RETRY).await;
    }
}
