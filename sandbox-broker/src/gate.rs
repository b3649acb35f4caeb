//! What every API request passes before a handler: counting, authentication, Kite's
//! rate limits per API key, added latency and injected faults; and the counters that
//! `GET /__sandbox/stats` reports.
//!
//! Rate limits are a GCRA per `(api_key, family)` held in memory: quote family 1 req/s
//! with no burst, everything else 10 req/s with a burst of 10. Requests over the limit
//! get 429 with Kite's error body and are counted, so tests can assert that a client
//! never hit one. Faults are drawn from the seed in arrival order.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::app::Sandbox;
use crate::kite_reply;
use crate::noise::unit;

/// Kite's endpoint families, as far as limits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Quote,
    Other,
}

impl Family {
    fn of(path: &str) -> Self {
        if path == "/quote" || path.starts_with("/quote/") {
            Family::Quote
        } else {
            Family::Other
        }
    }

    /// (emission interval, burst)
    fn limit(self) -> (Duration, u32) {
        match self {
            Family::Quote => (Duration::from_secs(1), 1),
            Family::Other => (Duration::from_millis(100), 10),
        }
    }
}

/// Counters of what the sandbox answered.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    served: AtomicU64,
    rate_limited: AtomicU64,
    token_errors: AtomicU64,
    input_errors: AtomicU64,
    faults_injected: AtomicU64,
    by_api_key: Mutex<HashMap<String, u64>>,
}

/// A snapshot of [`Stats`] as JSON.
#[derive(Debug, Serialize)]
pub(crate) struct StatsSnapshot {
    requests: u64,
    served: u64,
    rate_limited: u64,
    token_errors: u64,
    input_errors: u64,
    faults_injected: u64,
    /// Requests per API key (tests check whose credentials were used).
    requests_by_api_key: HashMap<String, u64>,
}

impl Stats {
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            served: get(&self.served),
            rate_limited: get(&self.rate_limited),
            token_errors: get(&self.token_errors),
            input_errors: get(&self.input_errors),
            faults_injected: get(&self.faults_injected),
            requests_by_api_key: self
                .by_api_key
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn count_key(&self, api_key: &str) {
        *self
            .by_api_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(api_key.to_owned())
            .or_default() += 1;
    }

    /// Counts an input error answered by a handler.
    pub(crate) fn count_input_error(&self) {
        self.input_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// The per-key limiter state: theoretical arrival times.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    tats: Mutex<HashMap<(String, Family), Instant>>,
}

impl Limits {
    fn allow(&self, api_key: &str, family: Family) -> bool {
        let (interval, burst) = family.limit();
        let now = Instant::now();
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        let tat = tats.entry((api_key.to_owned(), family)).or_insert(now);
        let earliest = tat.checked_sub(interval * (burst - 1)).unwrap_or(now);
        if now < earliest {
            return false;
        }
        *tat = (*tat).max(now) + interval;
        true
    }
}

/// The API key from `Authorization: token <api_key>:<access_token>`, or the message of
/// the `TokenException` to answer.
fn api_key(request: &Request) -> Result<String, &'static str> {
    let header = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("Missing or empty Authorization header.")?;
    let credentials = header
        .strip_prefix("token ")
        .ok_or("Invalid Authorization header.")?;
    let (key, token) = credentials
        .split_once(':')
        .ok_or("Invalid Authorization header.")?;
    if key.trim().is_empty() || token.trim().is_empty() {
        return Err("Invalid Authorization header.");
    }
    if token == "expired" {
        return Err("Incorrect `api_key` or `access_token`.");
    }
    Ok(key.to_owned())
}

/// The middleware in front of every Kite route.
pub(crate) async fn gate(State(sandbox): State<Sandbox>, request: Request, next: Next) -> Response {
    let stats = sandbox.stats();
    let sequence = stats.requests.fetch_add(1, Ordering::Relaxed);
    let key = match api_key(&request) {
        Ok(key) => {
            stats.count_key(&key);
            key
        }
        Err(message) => {
            stats.token_errors.fetch_add(1, Ordering::Relaxed);
            return kite_reply::error(StatusCode::FORBIDDEN, "TokenException", message);
        }
    };
    if request
        .headers()
        .get("x-kite-version")
        .and_then(|v| v.to_str().ok())
        != Some("3")
    {
        stats.input_errors.fetch_add(1, Ordering::Relaxed);
        return kite_reply::error(
            StatusCode::BAD_REQUEST,
            "InputException",
            "Missing or invalid X-Kite-Version header; send 3.",
        );
    }
    let family = Family::of(request.uri().path());
    if !sandbox.limits().allow(&key, family) {
        stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        tracing::info!(path = request.uri().path(), "rate limit exceeded");
        return kite_reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            "NetworkException",
            "Too many requests",
        );
    }
    let settings = sandbox.settings();
    if settings.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(settings.latency_ms)).await;
    }
    if settings.fail_rate > 0.0
        && unit(settings.seed, &["fault", &sequence.to_string()]) < settings.fail_rate
    {
        stats.faults_injected.fetch_add(1, Ordering::Relaxed);
        let (status, error_type, message) = match sequence % 3 {
            0 => (
                StatusCode::BAD_GATEWAY,
                "DataException",
                "Couldn't parse the OMS response.",
            ),
            1 => (
                StatusCode::SERVICE_UNAVAILABLE,
                "NetworkException",
                "Couldn't reach the OMS.",
            ),
            _ => (
                StatusCode::GATEWAY_TIMEOUT,
                "NetworkException",
                "Gateway timed out.",
            ),
        };
        return kite_reply::error(status, error_type, message);
    }
    let response = next.run(request).await;
    if response.status().is_success() {
        stats.served.fetch_add(1, Ordering::Relaxed);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_family_allows_one_a_second_and_others_a_burst_of_ten() {
        let limits = Limits::default();
        assert!(limits.allow("k", Family::Quote));
        assert!(!limits.allow("k", Family::Quote));
        assert!(limits.allow("other-key", Family::Quote));
        let allowed = (0..15).filter(|_| limits.allow("k", Family::Other)).count();
        assert_eq!(allowed, 10);
        assert_eq!(Family::of("/quote/ltp"), Family::Quote);
        assert_eq!(Family::of("/instruments/NFO"), Family::Other);
    }
}
