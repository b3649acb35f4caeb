//! The claim loop: while this process has a free slot, ask Redis for up to that many
//! (user, job) proposals (round-robin, per-user quota), confirm each with the Postgres
//! claim, and hand confirmed jobs to apalis. A proposal Postgres refuses is released:
//! requeued at the head of its lane when the job is still queued (quota full in
//! Postgres), dropped otherwise (stale, duplicate or cancelled delivery).

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use fairlane_shared::jobs::dispatch::{self, JobRef};
use fairlane_shared::jobs::lease::{self, ClaimOutcome, Outcome};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::runtime::{Runtime, turned_on};
use crate::task::JobTask;

/// How long to wait before asking Redis again after it failed.
const REDIS_RETRY: Duration = Duration::from_secs(1);

/// Claims until `stop` turns true; dropping `jobs` then tells apalis no more work comes.
pub async fn run(
    rt: Arc<Runtime>,
    jobs: mpsc::Sender<Task<JobTask>>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(rt.settings.concurrency));
    let ttl = rt.settings.jobs.lease_ttl;
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    let default_limit = rt.settings.jobs.max_running_jobs;
    loop {
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = turned_on(&mut stop) => break,
        };
        let mut permits = vec![first];
        while let Ok(permit) = slots.clone().try_acquire_owned() {
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
        let mut claimed_any = false;
        for job in proposals {
            match lease::claim(&rt.db, &rt.redis, job, &rt.worker_id, ttl, default_limit).await {
                Ok(ClaimOutcome::Claimed(claimed)) => {
                    rt.metrics
                        .claim_latency
                        .observe(asked_at.elapsed().as_secs_f64());
                    let Some(permit) = permits.pop() else {
                        // Redis never proposes more jobs than asked for.
                        release(&rt, job, true).await;
                        continue;
                    };
                    claimed_any = true;
                    let task = TaskBuilder::new(JobTask::new(
                        claimed.clone(),
                        permit,
                        rt.services.clone(),
                    ))
                    .task_id(TaskId::from_string(job.id.to_string()))
                    .build();
                    if jobs.send(task).await.is_err() {
                        tracing::error!(job_id = %job.id, "job runtime is gone; releasing the claim");
                        let _ =
                            lease::finish(&rt.db, &rt.redis, &claimed, &Outcome::Released).await;
                    }
                }
                Ok(ClaimOutcome::QuotaFull) => release(&rt, job, true).await,
                Ok(ClaimOutcome::NotClaimable) => release(&rt, job, false).await,
                Err(e) => {
                    tracing::warn!(error = %e, job_id = %job.id, "cannot claim in postgres");
                    release(&rt, job, true).await;
                }
            }
        }
        drop(permits);
        if !claimed_any {
            tokio::select! {
                () = tokio::time::sleep(idle) => {}
                () = turned_on(&mut stop) => break,
            }
        }
    }
    tracing::info!("dispatcher stopped claiming");
}

async fn release(rt: &Runtime, job: JobRef, requeue: bool) {
    if let Err(e) = dispatch::release(&rt.redis, job, requeue).await {
        // The Redis lease expires by itself and the reconciler re-publishes the job.
        tracing::warn!(error = %e, job_id = %job.id, "cannot release a proposal");
    }
}
