//! Job change events over Redis pub/sub: every state or progress change publishes
//! `{job_id, user_id, state}` on `<prefix>jobs:events`, so the API can stream a fresh
//! snapshot to the owner (SSE) without polling. Events are hints: a subscriber re-reads
//! the job from Postgres; a lost event (Redis down) only delays the next snapshot.

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::dispatch::EVENTS_CHANNEL;
use crate::jobs::model::JobState;
use crate::redis_conn::Redis;

/// One change notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job that changed.
    pub job_id: Uuid,
    /// Its owner (subscribers filter on it).
    pub user_id: Uuid,
    /// Its state after the change.
    pub state: String,
}

/// Publishes a change notice; a failure is logged, never returned (the change itself is
/// committed already).
pub async fn notify(redis: &Redis, job_id: Uuid, user_id: Uuid, state: JobState) {
    let event = JobEvent {
        job_id,
        user_id,
        state: state.as_str().to_owned(),
    };
    let payload = serde_json::to_string(&event).unwrap_or_default();
    let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg(redis.key(EVENTS_CHANNEL))
        .arg(payload)
        .query_async(&mut redis.conn())
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, job_id = %job_id, "cannot publish job event");
    }
}

/// Subscribes to one pub/sub channel (full name) on a dedicated connection; yields
/// string payloads.
pub async fn subscribe_channel(
    redis: &Redis,
    channel: String,
) -> crate::Result<impl Stream<Item = String> + Send + use<>> {
    let mut pubsub = redis.client().get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub
        .into_on_message()
        .filter_map(|msg| async move { msg.get_payload::<String>().ok() }))
}

/// Every job change event of this deployment, from now on. Filter by `user_id`.
pub async fn subscribe(
    redis: &Redis,
) -> crate::Result<impl Stream<Item = JobEvent> + Send + use<>> {
    let payloads = subscribe_channel(redis, redis.key(EVENTS_CHANNEL)).await?;
    Ok(payloads.filter_map(|p| async move { serde_json::from_str(&p).ok() }))
}
