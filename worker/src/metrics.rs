//! The worker's Prometheus metrics (jobs run by kind and outcome, jobs running, claim
//! latency), served as text on `FAIRLANE_WORKER_METRICS_PORT` when set. Labels are
//! bounded: kind names and outcome states, never user or job ids.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Labels of the jobs counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// Job kind.
    pub kind: String,
    /// The state the attempt ended in, or `lease_lost` / `error`.
    pub outcome: String,
}

/// The metric families.
pub struct Metrics {
    registry: Registry,
    /// Attempts finished.
    pub jobs: Family<JobLabels, Counter>,
    /// Jobs running in this process.
    pub running: Gauge,
    /// Seconds from asking Redis for work to holding the Postgres claim.
    pub claim_latency: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates and registers the families.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("fairlane_worker");
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register("jobs", "Job attempts finished by this worker", jobs.clone());
        let running = Gauge::default();
        registry.register(
            "running_jobs",
            "Jobs running in this worker",
            running.clone(),
        );
        let claim_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "claim_latency_seconds",
            "Time to claim a job (Redis proposal plus Postgres claim)",
            claim_latency.clone(),
        );
        Arc::new(Self {
            registry,
            jobs,
            running,
            claim_latency,
        })
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
/// dropped. A deliberately tiny HTTP/1.0-style responder: one request per connection.
pub async fn serve(metrics: Arc<Metrics>, port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "worker metrics listening");
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
