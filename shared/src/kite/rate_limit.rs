//! Pacing of Kite calls per API key and endpoint family, shared by every worker
//! through Redis, so a user's jobs on different workers never exceed Kite's limits.
//!
//! A GCRA in one Lua script: each call reserves the next free slot (the theoretical
//! arrival time, kept in microseconds from Redis's own `TIME`, so worker clocks do not
//! matter) and is told how long to wait for it. Callers then sleep instead of sending
//! early and getting 429. Keys hold a SHA-256 prefix of the API key, never the key.
//! This is not a general-purpose limiter: intervals are Kite's, with 25 % headroom.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::redis_conn::Redis;

/// Kite's rate-limit families (`domain.md` §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateFamily {
    /// `/quote`, `/quote/ohlc`, `/quote/ltp`: 1 request a second.
    Quote,
    /// Everything else we call (instruments): 10 requests a second.
    Other,
}

impl RateFamily {
    /// Kite's limit in requests per second.
    pub fn requests_per_second(self) -> u32 {
        match self {
            RateFamily::Quote => 1,
            RateFamily::Other => 10,
        }
    }

    /// The spacing the client keeps between two calls of this family: Kite's interval
    /// plus 25 % headroom. The broker counts arrivals: a call delayed on the way by more
    /// than the headroom, followed by one that is not, lands inside one interval and
    /// gets 429. 10 % (100 ms on quotes) was crossed on a loaded test machine.
    pub fn interval(self) -> Duration {
        Duration::from_secs(1) * 5 / (4 * self.requests_per_second())
    }

    fn label(self) -> &'static str {
        match self {
            RateFamily::Quote => "quote",
            RateFamily::Other => "other",
        }
    }
}

/// Reserves the next slot; returns the microseconds to wait for it.
const GCRA_RESERVE: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return tat - now
";

/// The limiter for one API key.
#[derive(Clone)]
pub(crate) struct RateLimiter {
    redis: Redis,
    key_base: String,
    script: redis::Script,
}

impl RateLimiter {
    /// A limiter for `api_key` under the deployment's key prefix.
    pub(crate) fn new(redis: Redis, api_key: &str) -> Self {
        let key_base = redis.key(&format!("kite:rate:{}", api_key_tag(api_key)));
        Self {
            redis,
            key_base,
            script: redis::Script::new(GCRA_RESERVE),
        }
    }

    /// Waits until this call's turn in `family`; returns how long it waited.
    pub(crate) async fn acquire(&self, family: RateFamily) -> Result<Duration, redis::RedisError> {
        let mut conn = self.redis.conn();
        let wait_micros: i64 = self
            .script
            .key(format!("{}:{}", self.key_base, family.label()))
            .arg(u64::try_from(family.interval().as_micros()).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await?;
        let wait = Duration::from_micros(u64::try_from(wait_micros).unwrap_or(0));
        if !wait.is_zero() {
            tracing::debug!(
                family = family.label(),
                wait_ms = wait.as_millis(),
                "waiting for the broker rate limit"
            );
            tokio::time::sleep(wait).await;
        }
        Ok(wait)
    }
}

/// A stable, non-reversible tag for an API key: the first 16 hex digits of its SHA-256.
pub(crate) fn api_key_tag(api_key: &str) -> String {
    Sha256::digest(api_key.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_keep_a_quarter_of_headroom() {
        assert_eq!(RateFamily::Quote.interval(), Duration::from_millis(1250));
        assert_eq!(RateFamily::Other.interval(), Duration::from_millis(125));
    }

    #[test]
    fn the_key_tag_hides_the_api_key() {
        let tag = api_key_tag("kitefront_secret_key");
        assert_eq!(tag.len(), 16);
        assert!(!tag.contains("kitefront"));
        assert_eq!(tag, api_key_tag("kitefront_secret_key"));
        assert_ne!(tag, api_key_tag("another"));
    }
}
