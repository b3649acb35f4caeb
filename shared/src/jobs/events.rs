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
    notify_all(redis, &[(job_id, user_id, state)]).await;
}

/// The message announcing that `job_id` of `user_id` is now in `state`.
pub fn payload(job_id: Uuid, user_id: Uuid, state: JobState) -> String {
    let event = JobEvent {
        job_id,
        user_id,
        state: state.as_str().to_owned(),
    };
    serde_json::to_string(&event).unwrap_or_default()
}

/// Publishes many change notices in pipelined batches; failures are logged.
pub async fn notify_all(redis: &Redis, changes: &[(Uuid, Uuid, JobState)]) {
    let channel = redis.key(EVENTS_CHANNEL);
    for chunk in changes.chunks(500) {
        let mut pipe = redis::pipe();
        for (job_id, user_id, state) in chunk {
            pipe.cmd("PUBLISH")
                .arg(&channel)
                .arg(payload(*job_id, *user_id, *state))
                .ignore();
        }
        let sent: redis::RedisResult<()> = pipe.query_async(&mut redis.conn()).await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, events = chunk.len(), "cannot publish job events");
            return;
        }
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
