//! `cleanup {older_than_days?: 7, areas?: ["temp", "exports", "results"]}`: cleans the
//! owner's workspace (see `fairlane_shared::workspace_cleanup` for what goes and the
//! safety rules); summary `{deleted_files, freed_bytes}`.

use std::time::Duration;

use fairlane_shared::jobs::JobOutput;
use fairlane_shared::workspace_cleanup::{self, CleanupRequest};
use serde_json::Value;

use super::{JobContext, KindFuture};
use crate::error::KindError;

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let days = ctx
            .params
            .get("older_than_days")
            .and_then(Value::as_u64)
            .unwrap_or(7);
        let areas: Vec<&str> = match ctx.params.get("areas").and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(Value::as_str).collect(),
            None => vec!["temp", "exports", "results"],
        };
        let request = CleanupRequest {
            older_than: Duration::from_secs(days * 86_400),
            temp: areas.contains(&"temp"),
            exports: areas.contains(&"exports"),
            results: areas.contains(&"results"),
        };
        let services = &ctx.services;
        let report =
            workspace_cleanup::clean_user(&services.db, &services.data_dir, ctx.user_id, request)
                .await
                .map_err(|e| KindError::retryable("cleanup_failed", e.to_string()))?;
        Ok(JobOutput::summary(
            serde_json::to_value(report).unwrap_or_default(),
        ))
    })
}
