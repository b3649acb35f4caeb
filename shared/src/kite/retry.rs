//! When and how long to wait before trying a Kite call again.
//!
//! Only 429 and 502/503/504 are retried: they say "later" about a request that was not
//! acted on. 500 and every 4xx (a dead token, bad input) fail at once. The delay doubles
//! from a base with "equal jitter" (half fixed, half random), is capped, and honours a
//! `Retry-After` in seconds when the broker sends one.

use std::time::Duration;

use rand::Rng;

/// The longest wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(8);

/// True for the statuses worth another try.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The wait after failed try number `attempt` (1-based).
pub(crate) fn backoff(base: Duration, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_DELAY);
    let half = exponential / 2;
    let jitter = rand::rng().random_range(Duration::ZERO..=half);
    let delay = half + jitter;
    match retry_after {
        Some(wait) => delay.max(wait.min(MAX_DELAY)),
        None => delay,
    }
}

/// Parses `Retry-After` when it is a number of seconds (the HTTP-date form is ignored).
pub(crate) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_gateway_failures_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [400, 403, 404, 500] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn delays_double_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 1..=4 {
            let full = base * (1 << (attempt - 1));
            for _ in 0..50 {
                let delay = backoff(base, attempt, None);
                assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
            }
        }
        assert!(backoff(base, 40, None) <= MAX_DELAY);
        assert!(backoff(base, 1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }
}
