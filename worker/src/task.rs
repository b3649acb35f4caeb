//! What travels through the apalis worker: a [`JobTask`] is one claimed job, the
//! context its code sees, and the runtime's half of the channels ([`JobControl`]) that
//! the supervising layer takes out before the kind runs.

use fairlane_shared::jobs::{ClaimedJob, Progress};
use tokio::sync::{OwnedSemaphorePermit, watch};

use std::sync::Arc;

use crate::kinds::JobContext;
use crate::runtime::HeldJob;
use crate::services::Services;

/// One claimed job on its way to execution.
#[derive(Debug)]
pub struct JobTask {
    /// The claim (job, attempt, lease token).
    pub claimed: ClaimedJob,
    /// What the kind's code gets.
    pub context: JobContext,
    /// Taken by the supervisor; `None` afterwards.
    pub control: Option<JobControl>,
}

/// The runtime's handles on a running job.
#[derive(Debug)]
pub struct JobControl {
    /// The latest progress the job reported.
    pub progress: watch::Receiver<Option<Progress>>,
    /// The dispatcher's slot, freed when the job's code is over.
    pub permit: OwnedSemaphorePermit,
    /// Counts the job as held by this process until its outcome is written.
    pub held: HeldJob,
}

impl JobTask {
    /// Wraps a fresh claim, holding `permit` until the job's code ends and `held` until
    /// its outcome is written.
    pub fn new(
        claimed: ClaimedJob,
        permit: OwnedSemaphorePermit,
        held: HeldJob,
        services: Arc<Services>,
    ) -> Self {
        let (progress_tx, progress_rx) = watch::channel(None);
        let context = JobContext::new(
            claimed.job.id,
            claimed.job.user_id,
            claimed.params.clone(),
            claimed.attempt,
            services,
            progress_tx,
        );
        Self {
            claimed,
            context,
            control: Some(JobControl {
                progress: progress_rx,
                permit,
                held,
            }),
        }
    }
}
