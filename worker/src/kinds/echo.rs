//! `echo {message}`: succeeds at once with summary `{message}`. Diagnostic.

use fairlane_shared::jobs::JobOutput;
use serde_json::{Value, json};

use super::{JobContext, KindFuture};
use crate::error::KindError;

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let message = ctx
            .params
            .get("message")
            .and_then(Value::as_str)
            .ok_or_else(|| KindError::permanent("invalid_params", "message is missing"))?;
        Ok(JobOutput::summary(json!({ "message": message })))
    })
}
