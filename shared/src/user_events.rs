//! Account events broadcast to every process over Redis pub/sub, so workers can drop a
//! user's runtime context (and its decrypted credentials) at once when the credentials
//! change, every session is revoked, or the account is deactivated or deleted.
//!
//! Delivery is best effort (pub/sub); workers also re-check the database before a job
//! runs, so a missed message can delay an eviction but never let a job use stale rights.

use uuid::Uuid;

use crate::Result;
use crate::redis_conn::Redis;

/// The channel name (under the deployment prefix).
pub const CHANNEL: &str = "user-events";

/// What happened to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserEventKind {
    /// Broker credentials were set, replaced or removed.
    CredentialsChanged,
    /// Every session was revoked (log out everywhere, password change).
    SessionsRevoked,
    /// An admin deactivated the account.
    Deactivated,
    /// The account was deleted.
    Deleted,
}

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserEvent {
    /// The account.
    pub user_id: Uuid,
    /// What happened.
    pub kind: UserEventKind,
}

/// Publishes an event; returns how many subscribers received it.
pub async fn publish(redis: &Redis, event: UserEvent) -> Result<i64> {
    let payload = serde_json::to_string(&event).expect("serialisable");
    let mut conn = redis.conn();
    Ok(redis::cmd("PUBLISH")
        .arg(redis.key(CHANNEL))
        .arg(payload)
        .query_async(&mut conn)
        .await?)
}
