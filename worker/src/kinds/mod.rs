//! The job kinds this worker can run, one module each, and the [`Registry`] that maps a
//! kind name to its code. Submission-side validation and limits live in
//! `fairlane_shared::jobs::kinds`; a kind must be added to both.
//!
//! A kind is an `async fn(JobContext) -> Result<serde_json::Value, KindError>` whose
//! `Ok` value becomes the result summary. It may report progress through the context;
//! it does not need to watch for cancellation or lease loss: the runtime drops its
//! future when either happens.

mod cleanup;
mod crash;
mod echo;
mod forecast;
mod options_filter;
mod options_process;
mod sleep;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use fairlane_shared::jobs::{JobOutput, Progress};
use serde_json::Value;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::KindError;
use crate::services::Services;

/// The future a kind returns.
pub type KindFuture = Pin<Box<dyn Future<Output = Result<JobOutput, KindError>> + Send>>;
/// A kind's entry point.
pub type KindFn = fn(JobContext) -> KindFuture;

/// What a running job sees: its params and identity, a progress reporter, and the
/// worker's services.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Job id.
    pub job_id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Validated params.
    pub params: Value,
    /// This attempt (1-based).
    pub attempt: i32,
    /// Postgres, Redis, data directory, keyring, broker, user contexts.
    pub services: Arc<Services>,
    progress: watch::Sender<Option<Progress>>,
}

impl JobContext {
    /// A context whose progress reports go to `progress`.
    pub fn new(
        job_id: Uuid,
        user_id: Uuid,
        params: Value,
        attempt: i32,
        services: Arc<Services>,
        progress: watch::Sender<Option<Progress>>,
    ) -> Self {
        Self {
            job_id,
            user_id,
            params,
            attempt,
            services,
            progress,
        }
    }

    /// Reports progress; the runtime persists the latest report, throttled.
    pub fn progress(&self, done: u64, total: Option<u64>, message: Option<String>) {
        self.progress.send_replace(Some(Progress {
            done,
            total,
            message,
        }));
    }
}

/// Kind name → code.
#[derive(Debug, Clone)]
pub struct Registry {
    kinds: HashMap<&'static str, KindFn>,
}

impl Registry {
    /// Every kind this build runs; the diagnostic ones only when enabled.
    pub fn new(diagnostics_enabled: bool) -> Self {
        let mut kinds: HashMap<&'static str, KindFn> = HashMap::new();
        kinds.insert("cleanup", cleanup::run);
        kinds.insert("options.process", options_process::run);
        kinds.insert("options.filter", options_filter::run);
        kinds.insert("forecast", forecast::run);
        if diagnostics_enabled {
            kinds.insert("echo", echo::run);
            kinds.insert("sleep", sleep::run);
            kinds.insert("crash", crash::run);
        }
        Self { kinds }
    }

    /// The code for `kind`, if registered.
    pub fn get(&self, kind: &str) -> Option<KindFn> {
        self.kinds.get(kind).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_kinds_are_registered_only_when_enabled() {
        let enabled = Registry::new(true);
        for kind in ["echo", "sleep", "crash"] {
            assert!(enabled.get(kind).is_some(), "{kind}");
        }
        assert!(Registry::new(false).get("echo").is_none());
        for kind in ["cleanup", "options.process", "options.filter", "forecast"] {
            assert!(Registry::new(false).get(kind).is_some(), "{kind}");
        }
    }
}
