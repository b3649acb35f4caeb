//! `crash {}`: aborts its own worker process, every time. It exists to prove that a
//! job killing its worker ends `failed` (code `interrupted`) after `max_attempts`
//! while other jobs keep flowing. Diagnostic.

use super::{JobContext, KindFuture};

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        tracing::warn!(job_id = %ctx.job_id, attempt = ctx.attempt, "crash job aborting the worker");
        std::process::abort()
    })
}
