//! Executes one claimed run: the task, a heartbeat that keeps its claim alive, and the
//! recorded outcome. On shutdown the task is abandoned (its future dropped, child
//! processes killed) and the run recorded as failed, so nothing stays `running`.

use std::time::Duration;

use std::sync::Arc;

use fairlane_shared::maintenance::runs::{self, Claimed};
use serde_json::Value;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::tasks::{self, TaskContext};

/// Runs claimed maintenance runs for this process.
#[derive(Debug, Clone)]
pub struct Runner {
    /// What the tasks use.
    pub ctx: TaskContext,
    /// This process's unique name (the `instance` of its runs).
    pub instance: String,
    /// A run without a heartbeat for this long counts as abandoned.
    pub lease: Duration,
    /// Runs counted by task and outcome.
    pub metrics: Arc<Metrics>,
}

impl Runner {
    /// Runs `claimed` to its end (or until `stop`), recording the outcome; returns it.
    pub async fn execute(
        &self,
        claimed: &Claimed,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Value, String> {
        let started = std::time::Instant::now();
        tracing::info!(run = %claimed.id, task = %claimed.task, "maintenance run started");
        let work = tasks::run(&self.ctx, claimed.task, &claimed.id);
        tokio::pin!(work);
        let mut beats = tokio::time::interval(self.lease / 3);
        beats.tick().await;
        let outcome = loop {
            tokio::select! {
                result = &mut work => break result.map_err(|e| e.to_string()),
                _ = beats.tick() => {
                    match self.heartbeat(&claimed.id).await {
                        Ok(true) => {}
                        Ok(false) => break Err("abandoned: the run's claim was lost".to_owned()),
                        Err(e) => tracing::warn!(run = %claimed.id, error = %e, "maintenance heartbeat failed"),
                    }
                }
                _ = stopped(stop) => {
                    break Err("abandoned: the scheduler was stopped".to_owned());
                }
            }
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome {
            Ok(summary) => tracing::info!(
                run = %claimed.id, task = %claimed.task, elapsed_ms, summary = %summary,
                "maintenance run succeeded"
            ),
            Err(error) => tracing::warn!(
                run = %claimed.id, task = %claimed.task, elapsed_ms, error = %error,
                "maintenance run failed"
            ),
        }
        self.metrics.record(claimed.task.as_str(), outcome.is_ok());
        if let Err(e) = self.record(&claimed.id, &outcome).await {
            // The lease runs out and another replica marks it failed.
            tracing::warn!(run = %claimed.id, error = %e, "cannot record a maintenance outcome");
        }
        outcome
    }

    async fn heartbeat(&self, id: &str) -> fairlane_shared::Result<bool> {
        let client = self.ctx.db.get().await?;
        runs::heartbeat(&**client, id, &self.instance).await
    }

    async fn record(
        &self,
        id: &str,
        outcome: &Result<Value, String>,
    ) -> fairlane_shared::Result<()> {
        let client = self.ctx.db.get().await?;
        runs::finish(&**client, id, &self.instance, outcome).await
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
