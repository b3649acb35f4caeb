//! Which workers are alive: each worker process announces itself in Redis every few
//! seconds (`<prefix>workers` sorted set of worker ids by last announcement, plus a
//! `<prefix>worker:<id>` hash that expires), so the API can show them in admin stats
//! and metrics. Presence only: nothing relies on it for correctness.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::redis_conn::Redis;

/// How often a worker announces itself.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);
/// A worker not heard from for this long is considered gone.
pub const GONE_AFTER: Duration = Duration::from_secs(20);

/// What a worker says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique per process start.
    pub worker_id: String,
    /// Jobs it runs at once.
    pub concurrency: usize,
    /// Jobs running there now.
    pub running: i64,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it last announced itself (RFC 3339).
    pub last_seen: String,
}

/// Records `info` as alive now.
pub async fn announce(redis: &Redis, info: &WorkerInfo) -> Result<()> {
    let key = redis.key(&format!("worker:{}", info.worker_id));
    let ttl = i64::try_from(GONE_AFTER.as_millis()).unwrap_or(i64::MAX);
    let now_ms = chrono::Utc::now().timestamp_millis();
    redis::pipe()
        .set(&key, serde_json::to_string(info).expect("serialisable"))
        .arg("PX")
        .arg(ttl)
        .ignore()
        .zadd(redis.key("workers"), &info.worker_id, now_ms)
        .ignore()
        .zrembyscore(redis.key("workers"), "-inf", now_ms - ttl)
        .ignore()
        .query_async::<()>(&mut redis.conn())
        .await?;
    Ok(())
}

/// Forgets a worker (on clean shutdown).
pub async fn retire(redis: &Redis, worker_id: &str) -> Result<()> {
    redis::pipe()
        .del(redis.key(&format!("worker:{worker_id}")))
        .ignore()
        .zrem(redis.key("workers"), worker_id)
        .ignore()
        .query_async::<()>(&mut redis.conn())
        .await?;
    Ok(())
}

/// The workers heard from recently.
pub async fn live(redis: &Redis) -> Result<Vec<WorkerInfo>> {
    let since =
        chrono::Utc::now().timestamp_millis() - i64::try_from(GONE_AFTER.as_millis()).unwrap_or(0);
    let mut conn = redis.conn();
    let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(redis.key("workers"))
        .arg(since)
        .arg("+inf")
        .query_async(&mut conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids
        .iter()
        .map(|id| redis.key(&format!("worker:{id}")))
        .collect();
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
    Ok(values
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_str(&v).ok())
        .collect())
}
