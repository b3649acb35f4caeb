//! Liveness (`/healthz`), readiness (`/readyz`) and metrics (`/metrics`).
//!
//! Readiness checks Postgres and Redis concurrently, each bounded by a short timeout, and
//! names the failing part in a 503. Liveness only says the process serves requests.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::metrics::{JobLabels, WorkerLabels};

const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// `GET /healthz`.
pub async fn healthz() -> ApiJson<Value> {
    ApiJson(json!({ "status": "ok" }))
}

async fn check<F, E>(future: F) -> Result<(), String>
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    match tokio::time::timeout(CHECK_TIMEOUT, future).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    }
}

/// `GET /readyz`.
pub async fn readyz(State(state): State<AppState>) -> ApiResult<ApiJson<Value>> {
    let (postgres, redis) = tokio::join!(
        check(fairlane_shared::db::ping(state.db())),
        check(state.redis().ping())
    );
    state.metrics().set_dependency("postgres", postgres.is_ok());
    state.metrics().set_dependency("redis", redis.is_ok());
    let describe = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("down: {e}"),
    };
    let checks = json!({ "postgres": describe(&postgres), "redis": describe(&redis) });
    let failing: Vec<&str> = [("postgres", &postgres), ("redis", &redis)]
        .into_iter()
        .filter(|(_, r)| r.is_err())
        .map(|(name, _)| name)
        .collect();
    if failing.is_empty() {
        Ok(ApiJson(json!({ "status": "ready", "checks": checks })))
    } else {
        Err(ApiError::Unavailable {
            message: format!("not ready: {} down", failing.join(" and ")),
            details: checks,
        })
    }
}

/// Reads the job and worker gauges from Postgres and Redis (best effort: a failing
/// dependency leaves the last values and is visible in `fairlane_dependency_up`).
async fn refresh_gauges(state: &AppState) {
    let metrics = state.metrics();
    if let Ok(client) = state.db().get().await
        && let Ok(rows) = client
            .query(
                "SELECT kind, state, count(*) FROM jobs GROUP BY kind, state",
                &[],
            )
            .await
    {
        metrics.jobs.clear();
        let mut waiting = 0;
        for row in rows {
            let (kind, job_state, count): (String, String, i64) =
                (row.get(0), row.get(1), row.get(2));
            if job_state == "queued" || job_state == "retrying" {
                waiting += count;
            }
            metrics
                .jobs
                .get_or_create(&JobLabels {
                    kind,
                    state: job_state,
                })
                .set(count);
        }
        metrics.queue_depth.set(waiting);
    }
    if let Ok(workers) = fairlane_shared::workers::live(state.redis()).await {
        metrics.worker_running.clear();
        metrics
            .workers_alive
            .set(i64::try_from(workers.len()).unwrap_or(i64::MAX));
        for worker in workers {
            metrics
                .worker_running
                .get_or_create(&WorkerLabels {
                    worker: worker.worker_id,
                })
                .set(worker.running);
        }
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    refresh_gauges(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics().encode(),
    )
}
