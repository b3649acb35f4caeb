//! `sleep {ms}`: sleeps that long in steps, reporting progress after each; summary
//! `{slept_ms}`. Cancellation stops it at once (the runtime drops the future).
//! Diagnostic.

use std::time::Duration;

use fairlane_shared::jobs::JobOutput;
use serde_json::{Value, json};

use super::{JobContext, KindFuture};
use crate::error::KindError;

/// Progress is reported at most this often.
const STEP: Duration = Duration::from_millis(250);

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let ms = ctx
            .params
            .get("ms")
            .and_then(Value::as_u64)
            .ok_or_else(|| KindError::permanent("invalid_params", "ms is missing"))?;
        let total = Duration::from_millis(ms);
        let started = tokio::time::Instant::now();
        loop {
            let elapsed = started.elapsed();
            let done = u64::try_from(elapsed.min(total).as_millis()).unwrap_or(ms);
            ctx.progress(done, Some(ms), Some("sleeping".to_owned()));
            if elapsed >= total {
                break;
            }
            tokio::time::sleep(STEP.min(total - elapsed)).await;
        }
        Ok(JobOutput::summary(json!({ "slept_ms": ms })))
    })
}
