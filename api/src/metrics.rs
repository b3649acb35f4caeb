//! The API process's Prometheus metrics: a registry plus the HTTP request families.
//!
//! Labels are bounded: the route label is axum's matched route template (never the raw
//! path), so user ids and file ids never become label values.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the HTTP request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// HTTP method.
    pub method: String,
    /// Route template, e.g. `/api/v1/jobs/{id}`, or `unmatched`.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

/// Labels of the dependency-readiness gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyLabels {
    /// `postgres` or `redis`.
    pub dependency: String,
}

/// Labels of the job gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// Job kind.
    pub kind: String,
    /// Job state.
    pub state: String,
}

/// Labels of the per-worker gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    /// Worker id (one per live worker process).
    pub worker: String,
}

/// The metric families and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    /// Requests served.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Request latency in seconds.
    pub http_duration: Family<HttpLabels, Histogram>,
    /// 1 when the last readiness check of a dependency succeeded, else 0.
    pub dependency_up: Family<DependencyLabels, Gauge>,
    /// Jobs by kind and state (read from Postgres at scrape time).
    pub jobs: Family<JobLabels, Gauge>,
    /// Jobs waiting to run (queued or retrying).
    pub queue_depth: Gauge,
    /// Jobs running on each live worker.
    pub worker_running: Family<WorkerLabels, Gauge>,
    /// Live workers.
    pub workers_alive: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates and registers the families.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("fairlane");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_duration.clone(),
        );
        let dependency_up = Family::<DependencyLabels, Gauge>::default();
        registry.register(
            "dependency_up",
            "Whether the last readiness check of a dependency passed",
            dependency_up.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register("jobs", "Jobs by kind and state", jobs.clone());
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs queued or retrying",
            queue_depth.clone(),
        );
        let worker_running = Family::<WorkerLabels, Gauge>::default();
        registry.register(
            "worker_running_jobs",
            "Jobs running on each live worker",
            worker_running.clone(),
        );
        let workers_alive = Gauge::default();
        registry.register(
            "workers_alive",
            "Worker processes heard from in the last 20 s",
            workers_alive.clone(),
        );
        Arc::new(Self {
            registry,
            http_requests,
            http_duration,
            dependency_up,
            jobs,
            queue_depth,
            worker_running,
            workers_alive,
        })
    }

    /// Encodes everything in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Records whether a dependency answered.
    pub fn set_dependency(&self, dependency: &str, up: bool) {
        self.dependency_up
            .get_or_create(&DependencyLabels {
                dependency: dependency.to_owned(),
            })
            .set(i64::from(up));
    }
}
