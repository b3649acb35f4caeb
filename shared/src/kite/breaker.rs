//! A per-user circuit breaker around the broker: after N consecutive server failures
//! (5xx or no connection) it rejects calls for a cool-down, then lets calls through
//! again as probes; one probe's success closes it, a failure re-opens it.
//!
//! 429 and 4xx answers are not failures of the broker: a 429 leaves the count alone,
//! any other answer resets it. State lives in this process only; each worker's user
//! context has its own breaker.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the breaker currently does with calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are rejected without being sent.
    Open,
    /// The cool-down has passed: calls go through as probes.
    HalfOpen,
}

#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
}

impl CircuitBreaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(Counters::default()),
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> BreakerState {
        let counters = self.lock();
        match counters.opened_at {
            None => BreakerState::Closed,
            Some(at) if at.elapsed() < self.cooldown => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// `Err(time until a probe is allowed)` while open.
    pub(crate) fn admit(&self) -> Result<(), Duration> {
        let counters = self.lock();
        match counters.opened_at {
            Some(at) if at.elapsed() < self.cooldown => Err(self.cooldown - at.elapsed()),
            _ => Ok(()),
        }
    }

    /// The broker answered (anything but 5xx or 429).
    pub(crate) fn record_success(&self) {
        *self.lock() = Counters::default();
    }

    /// A 5xx answer or no answer at all.
    pub(crate) fn record_failure(&self) {
        let mut counters = self.lock();
        counters.consecutive_failures = counters.consecutive_failures.saturating_add(1);
        if counters.consecutive_failures >= self.threshold {
            tracing::warn!(
                failures = counters.consecutive_failures,
                cooldown_ms = self.cooldown.as_millis(),
                "broker circuit breaker open"
            );
            counters.opened_at = Some(Instant::now());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // The counters stay consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_successful_probe() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(50));
        breaker.record_failure();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(breaker.admit().is_err());

        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.admit().is_ok());
        // A failed probe re-opens at once.
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);

        std::thread::sleep(Duration::from_millis(60));
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn a_success_in_between_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
