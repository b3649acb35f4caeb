//! `context_eviction`: asks every worker to drop runtime contexts idle for 30 minutes.
//!
//! It publishes one message on the Redis channel `<prefix>maintenance-events`:
//! `{"kind":"evict_idle","idle_secs":1800}`. Workers subscribe to that channel and drop
//! each context not used for `idle_secs`; a worker that is down misses the message and
//! loses its contexts anyway. This task does not know what a context holds.

use serde_json::{Value, json};

use crate::error::TaskError;
use crate::tasks::TaskContext;

/// The channel (under the deployment prefix) carrying maintenance messages to workers.
pub const CHANNEL: &str = "maintenance-events";
/// Contexts unused this long are dropped.
pub const IDLE_SECS: u64 = 1800;

/// Publishes the eviction message; the summary says how many subscribers got it.
pub async fn run(ctx: &TaskContext) -> Result<Value, TaskError> {
    let message = json!({ "kind": "evict_idle", "idle_secs": IDLE_SECS }).to_string();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(ctx.redis.key(CHANNEL))
        .arg(message)
        .query_async(&mut ctx.redis.conn())
        .await?;
    Ok(json!({ "idle_secs": IDLE_SECS, "receivers": receivers }))
}
