//! The job supervisor, a tower layer in the apalis service stack: around each job it
//! keeps the lease alive (heartbeats), persists progress (throttled), enforces the
//! kind's timeout, stops the job on cancellation, on lease loss or when the shutdown
//! grace ends, and records the outcome fenced by the lease token: successes without
//! result files through the batching [`completer`](crate::completer), the rest through
//! `lease::finish`. The job's slot is freed as soon as its code is done, before the
//! write; a success carries the job's last progress report into the same write.
//!
//! apalis's own `TimeoutLayer` has one duration per worker while each kind has its own
//! limit, and apalis's ack/retry model (attempts in Redis, 25 fixed retries) is not
//! ours, so this layer decides outcomes itself; see ARCHITECTURE.md "Job engine".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis::layers::catch_panic::PanicError;
use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::task::Task;
use fairlane_shared::jobs::JobOutput;
use fairlane_shared::jobs::lease::{self, ClaimedJob, Heartbeat, Outcome};
use fairlane_shared::jobs::{JobState, Progress};
use tokio::sync::watch;
use tower::{Layer, Service};

use crate::error::KindError;
use crate::metrics::JobLabels;
use crate::runtime::{Runtime, turned_on};
use crate::task::{JobControl, JobTask};

/// Progress is written to Postgres at most this often per job.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Wraps the kind-running service in the supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorLayer {
    rt: Arc<Runtime>,
}

impl SupervisorLayer {
    /// A layer over this process's runtime.
    pub fn new(rt: Arc<Runtime>) -> Self {
        Self { rt }
    }
}

impl<S> Layer<S> for SupervisorLayer {
    type Service = Supervisor<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Supervisor {
            rt: self.rt.clone(),
            inner,
        }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Supervisor<S> {
    rt: Arc<Runtime>,
    inner: S,
}

impl<S> Service<Task<JobTask>> for Supervisor<S>
where
    S: Service<Task<JobTask>, Response = JobOutput>,
    S::Error: Into<BoxDynError>,
    S::Future: Send + 'static,
{
    type Response = &'static str;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<&'static str, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut task: Task<JobTask>) -> Self::Future {
        let rt = self.rt.clone();
        let claimed = task.args.claimed.clone();
        let control = task.args.control.take();
        let job = self.inner.call(task);
        Box::pin(async move {
            let control = control.ok_or("job task arrived without its control handles")?;
            Ok(supervise(rt, claimed, control, job).await)
        })
    }
}

async fn supervise<F, E>(
    rt: Arc<Runtime>,
    claimed: ClaimedJob,
    control: JobControl,
    job: F,
) -> &'static str
where
    F: Future<Output = Result<JobOutput, E>>,
    E: Into<BoxDynError>,
{
    let JobControl {
        progress,
        permit,
        held,
    } = control;
    let job_id = claimed.job.id;
    let claimed_at = Instant::now();
    let (cancel_tx, mut cancelled) = rt.watch_cancel(job_id);
    let mut grace_expired = rt.grace_expired.clone();
    let heartbeat_interval = rt.settings.jobs.heartbeat_interval();

    // A job claimed ahead waits here for a run slot (one claimed into a free slot gets
    // it at once); given up unstarted, it goes back to the queue or is cancelled.
    let start_wait = rt.claim_ahead.start_wait(heartbeat_interval);
    let waited = tokio::select! {
        slot = rt.claim_ahead.run_slot() => Ok(slot),
        () = tokio::time::sleep(start_wait) => Err((Outcome::Released, true)),
        () = turned_on(&mut cancelled) => Err((Outcome::Cancelled, false)),
        () = turned_on(&mut grace_expired) => Err((Outcome::Released, false)),
    };
    let outcome = match waited {
        Ok(run_slot) => {
            let started_at = Instant::now();
            let outcome = run(
                &rt,
                &claimed,
                claimed_at,
                (cancel_tx, cancelled),
                grace_expired,
                progress.clone(),
                job,
            )
            .await;
            // The job's code is done: its slot may take the next job while the outcome
            // is written (the lease still fences the write; the quota counts the job
            // until then).
            drop((run_slot, permit));
            rt.claim_ahead.code_ended(started_at.elapsed());
            outcome
        }
        Err((unstarted, timed_out)) => {
            drop(permit);
            if timed_out {
                tracing::info!(job_id = %job_id, "claimed job found no free run slot in time; giving it back");
                rt.claim_ahead.gave_up(start_wait);
            } else {
                rt.claim_ahead.dropped_unstarted();
            }
            Some(unstarted)
        }
    };
    rt.unwatch_cancel(job_id);
    // The latest report, flushed or not, goes with a success.
    let final_progress = progress.borrow().clone();
    let label = record(&rt, &claimed, outcome, final_progress).await;
    // The outcome is written (or the lease is lost): the process no longer holds the job.
    drop(held);
    label
}

/// Runs the job's code under its lease: `None` when the lease was lost.
async fn run<F, E>(
    rt: &Arc<Runtime>,
    claimed: &ClaimedJob,
    claimed_at: Instant,
    (cancel_tx, mut cancelled): (watch::Sender<bool>, watch::Receiver<bool>),
    mut grace_expired: watch::Receiver<bool>,
    mut reports: watch::Receiver<Option<Progress>>,
    job: F,
) -> Option<Outcome>
where
    F: Future<Output = Result<JobOutput, E>>,
    E: Into<BoxDynError>,
{
    let (lost_tx, mut lost) = watch::channel(false);
    let mut reports_open = true;
    rt.metrics.running.inc();
    tracing::info!(job_id = %claimed.job.id, kind = %claimed.kind, attempt = claimed.attempt, "job started");

    // Most jobs end long before their first renewal or progress report: the heartbeat
    // task starts when the first renewal is due (counted from the claim), the progress
    // writer at the first report.
    let mut job = std::pin::pin!(tokio::time::timeout(claimed.timeout, job));
    let renewal_due =
        tokio::time::sleep_until((claimed_at + rt.settings.jobs.heartbeat_interval()).into());
    let mut renewal_due = std::pin::pin!(renewal_due);
    let mut heartbeats = None;
    let mut progress_writer = None;
    let outcome = loop {
        tokio::select! {
            result = &mut job => break Some(match result {
                Ok(Ok(output)) => Outcome::Succeeded(output),
                Ok(Err(e)) => failure(e.into()),
                Err(_) => Outcome::Failed {
                    code: "timeout".into(),
                    message: format!("the job ran longer than its limit of {:.1} s", claimed.timeout.as_secs_f64()),
                    retryable: false,
                },
            }),
            () = &mut renewal_due, if heartbeats.is_none() => {
                heartbeats = Some(AbortOnDrop(tokio::spawn(heartbeat_loop(
                    rt.clone(),
                    claimed.clone(),
                    claimed_at,
                    cancel_tx.clone(),
                    lost_tx.clone(),
                ))));
            }
            changed = reports.changed(), if reports_open && progress_writer.is_none() => {
                match changed {
                    Ok(()) => {
                        progress_writer = Some(AbortOnDrop(tokio::spawn(progress_loop(
                            rt.clone(),
                            claimed.clone(),
                            reports.clone(),
                        ))));
                    }
                    Err(_) => reports_open = false,
                }
            }
            () = turned_on(&mut cancelled) => break Some(Outcome::Cancelled),
            () = turned_on(&mut lost) => break None,
            () = turned_on(&mut grace_expired) => break Some(Outcome::Released),
        }
    };
    drop((heartbeats, progress_writer));
    rt.metrics.running.dec();
    outcome
}

/// Writes the outcome (fenced by the lease) and counts it in the metrics.
async fn record(
    rt: &Runtime,
    claimed: &ClaimedJob,
    outcome: Option<Outcome>,
    final_progress: Option<Progress>,
) -> &'static str {
    let job_id = claimed.job.id;
    let label = match outcome {
        None => {
            tracing::warn!(job_id = %job_id, "job lease lost; stopped it without writing");
            "lease_lost"
        }
        Some(outcome) => {
            let recorded = match &outcome {
                Outcome::Succeeded(output) if output.files.is_empty() => {
                    rt.completer
                        .succeeded(claimed, output.summary.clone(), final_progress)
                        .await
                }
                _ => {
                    let recorded = lease::finish(
                        &rt.db,
                        &rt.redis,
                        claimed,
                        &outcome,
                        final_progress.as_ref(),
                    )
                    .await;
                    rt.wake.notify_one();
                    recorded
                }
            };
            if !matches!(recorded, Ok(Some(_)))
                && let Outcome::Succeeded(output) = &outcome
            {
                // Nothing registered them: the files must not linger unaccounted.
                let root = fairlane_shared::workspace::user_root(
                    &rt.services.data_dir,
                    claimed.job.user_id,
                );
                crate::outputs::remove(&root, &output.files);
            }
            match recorded {
                Ok(Some(state)) => {
                    log_finished(claimed, state, &outcome);
                    state.as_str()
                }
                Ok(None) => {
                    tracing::warn!(job_id = %job_id, "job completion rejected: lease lost");
                    "lease_lost"
                }
                Err(e) => {
                    // The lease expires and the rescuer retries the job.
                    tracing::error!(job_id = %job_id, error = %e, "cannot record the job's outcome");
                    "error"
                }
            }
        }
    };
    rt.metrics
        .jobs
        .get_or_create(&JobLabels {
            kind: claimed.kind.clone(),
            outcome: label.to_owned(),
        })
        .inc();
    label
}

fn log_finished(claimed: &ClaimedJob, state: JobState, outcome: &Outcome) {
    let job_id = claimed.job.id;
    match outcome {
        Outcome::Failed { code, message, .. } => tracing::warn!(
            job_id = %job_id, kind = %claimed.kind, state = state.as_str(), code = %code,
            message = %message, "job finished"
        ),
        _ => {
            tracing::info!(job_id = %job_id, kind = %claimed.kind, state = state.as_str(), "job finished")
        }
    }
}

/// Maps the kind's error (or a caught panic) to an outcome.
fn failure(error: BoxDynError) -> Outcome {
    if let Some(kind_error) = error.downcast_ref::<KindError>() {
        return Outcome::Failed {
            code: kind_error.code.clone(),
            message: kind_error.message.clone(),
            retryable: kind_error.retryable,
        };
    }
    let panicked = error.downcast_ref::<AbortError>().is_some()
        || error.downcast_ref::<PanicError>().is_some();
    Outcome::Failed {
        code: if panicked { "panicked" } else { "internal" }.into(),
        message: if panicked {
            "the job's code panicked".into()
        } else {
            format!("the job failed: {error}")
        },
        retryable: true,
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease at once and then every third of its TTL (started when the first
/// renewal is due). Turns `lost` on when Postgres says the lease is gone, or when no
/// renewal succeeded for a whole TTL since `claimed_at` or the last renewal (the lease
/// must be presumed expired); turns `cancel` on when the owner cancelled.
async fn heartbeat_loop(
    rt: Arc<Runtime>,
    claimed: ClaimedJob,
    claimed_at: Instant,
    cancel: watch::Sender<bool>,
    lost: watch::Sender<bool>,
) {
    let ttl = rt.settings.jobs.lease_ttl;
    let mut last_renewed = claimed_at;
    let mut ticks = tokio::time::interval(rt.settings.jobs.heartbeat_interval());
    loop {
        ticks.tick().await;
        match lease::heartbeat(&rt.db, &rt.redis, &claimed, ttl).await {
            Ok(Heartbeat::Renewed { cancel_requested }) => {
                last_renewed = Instant::now();
                if cancel_requested {
                    cancel.send_replace(true);
                }
            }
            Ok(Heartbeat::Lost) => {
                lost.send_replace(true);
                return;
            }
            Err(e) => {
                tracing::warn!(job_id = %claimed.job.id, error = %e, "heartbeat failed");
                if last_renewed.elapsed() >= ttl {
                    lost.send_replace(true);
                    return;
                }
            }
        }
    }
}

/// Writes the latest progress report (started at the first one), then again at most
/// every [`PROGRESS_EVERY`] while reports come.
async fn progress_loop(
    rt: Arc<Runtime>,
    claimed: ClaimedJob,
    mut reports: watch::Receiver<Option<Progress>>,
) {
    loop {
        let latest = reports.borrow_and_update().clone();
        if let Some(progress) = latest
            && let Err(e) = lease::report_progress(&rt.db, &rt.redis, &claimed, &progress).await
        {
            tracing::warn!(job_id = %claimed.job.id, error = %e, "cannot store progress");
        }
        tokio::time::sleep(PROGRESS_EVERY).await;
        if reports.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_errors_keep_their_code_and_retryability() {
        let outcome = failure(Box::new(KindError::permanent(
            "reauth_required",
            "log in again",
        )));
        assert_eq!(
            outcome,
            Outcome::Failed {
                code: "reauth_required".into(),
                message: "log in again".into(),
                retryable: false,
            }
        );
    }

    #[test]
    fn panics_and_other_errors_are_retryable_with_their_own_codes() {
        let Outcome::Failed {
            code, retryable, ..
        } = failure(Box::new(PanicError("boom".into())))
        else {
            panic!("not a failure");
        };
        assert_eq!((code.as_str(), retryable), ("panicked", true));
        let Outcome::Failed {
            code, retryable, ..
        } = failure("disk full".into())
        else {
            panic!("not a failure");
        };
        assert_eq!((code.as_str(), retryable), ("internal", true));
    }
}
