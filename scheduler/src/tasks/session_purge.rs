//! `session_purge`: removes dead entries from the per-user session indexes.
//!
//! `<prefix>user-sessions:<user id>` maps each session id to its token hash; the session
//! itself, `<prefix>session:<token hash>`, expires by TTL and leaves its index entry
//! behind. The indexes are found with SCAN (never KEYS); an entry is removed only when
//! its session key no longer exists. The API writes the session before its index entry,
//! so a session being created is never purged. Sessions themselves are not touched.

use serde_json::{Value, json};

use crate::error::TaskError;
use crate::tasks::TaskContext;

/// Index keys read per SCAN step.
const SCAN_COUNT: usize = 500;

/// Scans every index and removes its dead entries.
pub async fn run(ctx: &TaskContext) -> Result<Value, TaskError> {
    let redis = &ctx.redis;
    let mut conn = redis.conn();
    let pattern = format!("{}*", redis.key("user-sessions:"));
    let mut cursor: u64 = 0;
    let (mut indexes, mut live, mut removed) = (0u64, 0u64, 0u64);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut conn)
            .await?;
        for index in keys {
            indexes += 1;
            let entries: Vec<(String, String)> = redis::cmd("HGETALL")
                .arg(&index)
                .query_async(&mut conn)
                .await?;
            if entries.is_empty() {
                continue;
            }
            let mut exists = redis::pipe();
            for (_, token_hash) in &entries {
                exists
                    .cmd("EXISTS")
                    .arg(redis.key(&format!("session:{token_hash}")));
            }
            let alive: Vec<i64> = exists.query_async(&mut conn).await?;
            let dead: Vec<&str> = entries
                .iter()
                .zip(&alive)
                .filter(|(_, alive)| **alive == 0)
                .map(|((sid, _), _)| sid.as_str())
                .collect();
            live += u64::try_from(entries.len() - dead.len()).unwrap_or(0);
            if !dead.is_empty() {
                let gone: u64 = redis::cmd("HDEL")
                    .arg(&index)
                    .arg(&dead)
                    .query_async(&mut conn)
                    .await?;
                removed += gone;
            }
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok(json!({ "indexes": indexes, "live_sessions": live, "entries_removed": removed }))
}
