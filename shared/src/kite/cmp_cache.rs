//! A short-lived cache of CMPs (last prices of underlyings) per user in Redis, so
//! several jobs of one user started close together share one `/quote/ltp` call.
//!
//! Entries expire on their own after the TTL; a Redis failure is an error, not a
//! silent miss, because the caller would otherwise hammer the quote limit.

use std::time::Duration;

use crate::redis_conn::Redis;

#[derive(Clone)]
pub(crate) struct CmpCache {
    redis: Redis,
    key_base: String,
    ttl: Duration,
}

impl CmpCache {
    /// A cache for `owner` (the user id).
    pub(crate) fn new(redis: Redis, owner: &str, ttl: Duration) -> Self {
        let key_base = redis.key(&format!("kite:cmp:{owner}:"));
        Self {
            redis,
            key_base,
            ttl,
        }
    }

    /// The cached price of each key, `None` where absent or expired.
    pub(crate) async fn get<S: AsRef<str>>(
        &self,
        keys: &[S],
    ) -> Result<Vec<Option<f64>>, redis::RedisError> {
        if keys.is_empty() || self.ttl.is_zero() {
            return Ok(vec![None; keys.len()]);
        }
        let redis_keys: Vec<String> = keys.iter().map(|k| self.key(k.as_ref())).collect();
        let mut conn = self.redis.conn();
        let values: Vec<Option<f64>> = redis::cmd("MGET")
            .arg(&redis_keys)
            .query_async(&mut conn)
            .await?;
        Ok(values)
    }

    /// Stores fresh prices.
    pub(crate) async fn put(&self, prices: &[(String, f64)]) -> Result<(), redis::RedisError> {
        if prices.is_empty() || self.ttl.is_zero() {
            return Ok(());
        }
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        for (key, price) in prices {
            pipe.cmd("SET")
                .arg(self.key(key))
                .arg(*price)
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        let mut conn = self.redis.conn();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    fn key(&self, instrument: &str) -> String {
        format!("{}{instrument}", self.key_base)
    }
}
