//! Rate limits kept in Redis so they hold across API replicas: a GCRA limiter for
//! requests per user, and failure counters for logins (per account and per client IP).
//!
//! Clocks come from Redis (`TIME`), never from the replicas. When Redis is unreachable
//! the request limiter fails open (availability over throttling; authentication itself
//! still needs Redis for sessions, and API keys still need an active account), while the
//! login limiter fails closed (a login is refused with 503 rather than unthrottled).

use std::time::Duration;

use fairlane_shared::redis_conn::Redis;

/// The limiter's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Refused; retry after this long.
    Limited(Duration),
}

const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

/// Allows `per_minute` requests per minute for `key` (bursts up to `per_minute`).
pub async fn check_per_minute(
    redis: &Redis,
    key: &str,
    per_minute: u32,
) -> Result<Verdict, redis::RedisError> {
    let interval_us = 60_000_000 / u64::from(per_minute.max(1));
    let wait_us: u64 = redis::Script::new(GCRA)
        .key(redis.key(&format!("ratelimit:{key}")))
        .arg(interval_us)
        .arg(per_minute.max(1))
        .invoke_async(&mut redis.conn())
        .await?;
    Ok(if wait_us == 0 {
        Verdict::Allowed
    } else {
        Verdict::Limited(Duration::from_micros(wait_us))
    })
}

/// Counts failures in a fixed window.
#[derive(Debug, Clone, Copy)]
pub struct FailureWindow {
    /// Failures allowed in the window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

/// If `key` already has `limit` failures in the window, how long until it clears.
pub async fn failures_exceeded(
    redis: &Redis,
    key: &str,
    window: FailureWindow,
) -> Result<Option<Duration>, redis::RedisError> {
    let redis_key = redis.key(&format!("failures:{key}"));
    let (count, ttl_ms): (Option<u32>, i64) = redis::pipe()
        .get(&redis_key)
        .pttl(&redis_key)
        .query_async(&mut redis.conn())
        .await?;
    Ok(match count {
        Some(n) if n >= window.limit => Some(
            Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)).max(Duration::from_secs(1)),
        ),
        _ => None,
    })
}

/// Records one failure for `key`.
pub async fn record_failure(
    redis: &Redis,
    key: &str,
    window: FailureWindow,
) -> Result<(), redis::RedisError> {
    let redis_key = redis.key(&format!("failures:{key}"));
    let window_ms = i64::try_from(window.window.as_millis()).unwrap_or(i64::MAX);
    redis::pipe()
        .incr(&redis_key, 1)
        .ignore()
        .cmd("PEXPIRE")
        .arg(&redis_key)
        .arg(window_ms)
        .arg("NX")
        .ignore()
        .query_async::<()>(&mut redis.conn())
        .await
}

/// Clears the failures of `key` (after a successful login).
pub async fn clear_failures(redis: &Redis, key: &str) -> Result<(), redis::RedisError> {
    redis::cmd("DEL")
        .arg(redis.key(&format!("failures:{key}")))
        .query_async(&mut redis.conn())
        .await
}
