//! One Redis subscription per API process for job change events, fanned out to every
//! open event stream (`GET /jobs/{id}/events`) through a broadcast channel.
//!
//! The subscription is re-established after Redis outages. Events are hints: streams
//! re-read the job from Postgres, and also poll, so a missed event only delays a
//! snapshot.

use std::time::Duration;

use fairlane_shared::jobs::events::{self, JobEvent};
use fairlane_shared::redis_conn::Redis;
use futures::StreamExt;
use tokio::sync::broadcast;

/// Starts the background subscriber; returns the sender streams subscribe to.
pub fn start(redis: Redis) -> broadcast::Sender<JobEvent> {
    let (sender, _) = broadcast::channel(4096);
    let fan_out = sender.clone();
    tokio::spawn(async move {
        loop {
            match events::subscribe(&redis).await {
                Ok(stream) => {
                    let mut stream = Box::pin(stream);
                    while let Some(event) = stream.next().await {
                        // No receivers is fine: nobody is watching right now.
                        let _ = fan_out.send(event);
                    }
                    tracing::warn!("job event subscription ended; resubscribing");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe to job events; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    sender
}
