//! The apalis [`Backend`] over our dispatch: a channel fed by the
//! [`dispatcher`](crate::dispatcher), which claims jobs (Redis proposal, Postgres
//! claim) only while this process has a free slot. apalis pulls claimed jobs from here
//! and runs them through its service stack; when the dispatcher stops (shutdown) the
//! channel closes, the backend reports it drained, the worker is told to stop, apalis
//! finishes the jobs in flight and the worker ends.
//!
//! The claim itself is not done in `poll_next` because it is a sequence of async calls
//! to two servers with per-job outcomes (claimed, requeue, drop) that a poll function
//! would have to hand-roll as a state machine; the channel keeps the backend trivial.

use std::convert::Infallible;
use std::task::{Context, Poll};

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use tokio::sync::{mpsc, oneshot};
use tower::layer::util::Identity;

use crate::task::JobTask;

/// Claimed jobs, in the order the dispatcher claimed them.
#[derive(Debug)]
pub struct ClaimedJobs {
    rx: mpsc::Receiver<Task<JobTask>>,
    drained: Option<oneshot::Sender<()>>,
}

impl ClaimedJobs {
    /// A backend, the sender the dispatcher feeds it with, and a receiver that fires
    /// once the dispatcher is gone and every job it claimed was handed to apalis (the
    /// moment to stop the apalis worker: nothing claimed is left behind).
    pub fn channel(capacity: usize) -> (mpsc::Sender<Task<JobTask>>, Self, oneshot::Receiver<()>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (drained_tx, drained_rx) = oneshot::channel();
        (
            tx,
            Self {
                rx,
                drained: Some(drained_tx),
            },
            drained_rx,
        )
    }
}

impl Backend for ClaimedJobs {
    type Task = Task<JobTask>;
    type Error = Infallible;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Infallible>>> {
        let next = self.rx.poll_recv(cx);
        if let Poll::Ready(None) = next
            && let Some(drained) = self.drained.take()
        {
            let _ = drained.send(());
        }
        next.map(|task| task.map(Ok))
    }

    fn poll_close(
        &mut self,
        _cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
}

impl BackendConfig for ClaimedJobs {
    type Args = JobTask;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}
