//! Per-user runtime contexts: for each user with broker jobs on this worker, the
//! decrypted credentials inside a broker client (with its shared rate limiter, circuit
//! breaker and CMP cache). Credentials are decrypted only here, just before first use,
//! and live in `SecretString`s that are zeroized when the context is dropped.
//!
//! A context is built only after re-checking, at execution time, that the account is
//! still active and still has credentials; it is keyed by the job's owner as recorded
//! in Postgres, so a job can only ever use its owner's credentials. Contexts are dropped
//! after `FAIRLANE_CONTEXT_IDLE_SECS` (default 30 min) without use, and at once on every
//! worker when the owner's credentials change, every session is revoked, or the account
//! is deactivated or deleted (Redis pub/sub `user-events`), or when the scheduler asks
//! (`maintenance-events` `{"kind":"evict_idle","idle_secs":N}`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use fairlane_shared::crypto::Keyring;
use fairlane_shared::kite::{BrokerSettings, KiteClient, KiteCredentials};
use fairlane_shared::redis_conn::Redis;
use fairlane_shared::user_events::{self, UserEvent};
use futures::StreamExt;
use uuid::Uuid;

use crate::error::KindError;

/// Channel on which the scheduler asks workers to evict idle contexts.
pub const MAINTENANCE_CHANNEL: &str = "maintenance-events";

struct Entry {
    client: KiteClient,
    last_used: Instant,
}

/// The contexts of one worker process.
pub struct UserContexts {
    entries: Mutex<HashMap<Uuid, Entry>>,
    idle_limit: Duration,
}

impl std::fmt::Debug for UserContexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserContexts")
            .field("users", &self.len())
            .finish()
    }
}

impl UserContexts {
    /// An empty registry whose contexts expire after `idle_limit` without use.
    pub fn new(idle_limit: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            idle_limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many users have a context now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no user has a context.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The broker client of `user_id`, building the context when there is none.
    pub async fn broker_client(
        &self,
        db: &Pool,
        redis: &Redis,
        keyring: &Keyring,
        broker: &BrokerSettings,
        user_id: Uuid,
    ) -> Result<KiteClient, KindError> {
        if let Some(entry) = self.lock().get_mut(&user_id) {
            entry.last_used = Instant::now();
            return Ok(entry.client.clone());
        }
        let client = db
            .get()
            .await
            .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?;
        let active: Option<bool> = client
            .query_opt("SELECT active FROM users WHERE id = $1", &[&user_id])
            .await
            .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?
            .map(|row| row.get(0));
        if active != Some(true) {
            return Err(KindError::permanent(
                "account_inactive",
                "the account is deactivated or deleted",
            ));
        }
        let stored = fairlane_shared::credentials::load(&**client, keyring, user_id)
            .await
            .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?
            .ok_or_else(|| {
                KindError::permanent(
                    "credentials_required",
                    "store your broker credentials first",
                )
            })?
            .map_err(|_| {
                tracing::error!(user.id = %user_id, "stored credentials do not decrypt");
                KindError::permanent(
                    "credentials_unreadable",
                    "the stored credentials cannot be read; store them again",
                )
            })?;
        let credentials = KiteCredentials::new(stored.api_key, stored.access_token);
        let kite = KiteClient::new(broker, &credentials, redis.clone(), &user_id.to_string())
            .map_err(|e| KindError::permanent("broker_client", e.to_string()))?;
        self.lock().insert(
            user_id,
            Entry {
                client: kite.clone(),
                last_used: Instant::now(),
            },
        );
        tracing::info!(user.id = %user_id, "runtime context created");
        Ok(kite)
    }

    /// Drops `user_id`'s context.
    pub fn evict(&self, user_id: Uuid) -> bool {
        self.lock().remove(&user_id).is_some()
    }

    /// Drops contexts unused for longer than `idle`; returns how many.
    pub fn evict_idle(&self, idle: Duration) -> usize {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, entry| entry.last_used.elapsed() <= idle);
        before - entries.len()
    }

    /// Evicts idle contexts every minute, and on account events and scheduler requests,
    /// for as long as the process lives (resubscribing after Redis failures).
    pub async fn maintain(self: Arc<Self>, redis: Redis) {
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        loop {
            let channels = vec![
                redis.key(user_events::CHANNEL),
                redis.key(MAINTENANCE_CHANNEL),
            ];
            let subscription = async {
                let mut pubsub = redis.client().get_async_pubsub().await?;
                pubsub.subscribe(channels).await?;
                Ok::<_, redis::RedisError>(pubsub)
            }
            .await;
            let mut messages = match subscription {
                Ok(pubsub) => pubsub.into_on_message(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to account events; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        let evicted = self.evict_idle(self.idle_limit);
                        if evicted > 0 {
                            tracing::info!(evicted, "evicted idle runtime contexts");
                        }
                    }
                    message = messages.next() => {
                        let Some(message) = message else { break };
                        let payload: String = message.get_payload().unwrap_or_default();
                        self.handle(&payload);
                    }
                }
            }
            tracing::warn!("account event subscription ended; resubscribing");
        }
    }

    fn handle(&self, payload: &str) {
        if let Ok(event) = serde_json::from_str::<UserEvent>(payload) {
            if self.evict(event.user_id) {
                tracing::info!(user.id = %event.user_id, event = ?event.kind, "evicted a runtime context");
            }
            return;
        }
        #[derive(serde::Deserialize)]
        struct Maintenance {
            kind: String,
            idle_secs: Option<u64>,
        }
        if let Ok(request) = serde_json::from_str::<Maintenance>(payload)
            && request.kind == "evict_idle"
        {
            let idle = request
                .idle_secs
                .map_or(self.idle_limit, Duration::from_secs);
            let evicted = self.evict_idle(idle);
            tracing::info!(
                evicted,
                idle_secs = idle.as_secs(),
                "evicted idle runtime contexts on request"
            );
        }
    }
}
