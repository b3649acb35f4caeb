//! The scheduler's Prometheus metrics: maintenance runs this process executed, by task
//! and outcome, served as text on `FAIRLANE_SCHEDULER_METRICS_PORT` when set. Labels
//! are bounded (task names, `succeeded`/`failed`). Run history across replicas is in
//! `maintenance_runs` and admin stats, not here.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Labels of the runs counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    /// Task name.
    pub task: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
}

/// The metric families.
pub struct Metrics {
    registry: Registry,
    /// Runs finished by this process.
    pub runs: Family<RunLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates and registers the families.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("fairlane_scheduler");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register(
            "runs",
            "Maintenance runs finished by this scheduler",
            runs.clone(),
        );
        Arc::new(Self { registry, runs })
    }

    /// Counts a finished run.
    pub fn record(&self, task: &str, succeeded: bool) {
        let outcome = if succeeded { "succeeded" } else { "failed" };
        self.runs
            .get_or_create(&RunLabels {
                task: task.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Serves `GET <anything>` with the metrics text on 127.0.0.1:`port` until the task is
/// dropped: one request per connection, nothing else.
pub async fn serve(metrics: Arc<Metrics>, port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "scheduler metrics listening");
    loop {
        let (mut stream, _) = listener.accept().await?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let body = metrics.encode();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}
