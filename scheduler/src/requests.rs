//! Admin requests (`POST /admin/maintenance/{task}`): every replica polls the
//! `maintenance_requests` table twice a second; one claims each request (SKIP LOCKED)
//! and runs it in the background, so a long backup does not delay other requests.

use std::time::Duration;

use fairlane_shared::maintenance::runs;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::runner::{Runner, stopped};

/// How often pending requests are looked for.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Claims and runs requests until `stop`; waits for the runs it started (which abandon
/// promptly on `stop`).
pub async fn run(runner: Runner, mut stop: watch::Receiver<bool>) {
    let mut running = JoinSet::new();
    let mut polls = tokio::time::interval(POLL_INTERVAL);
    loop {
        tokio::select! {
            _ = polls.tick() => {}
            _ = stopped(&mut stop) => break,
        }
        while running.try_join_next().is_some() {}
        loop {
            let claimed = match runner.ctx.db.get().await {
                Ok(mut client) => runs::claim_request(&mut client, &runner.instance).await,
                Err(e) => Err(e.into()),
            };
            match claimed {
                Ok(Some(claimed)) => {
                    let runner = runner.clone();
                    let mut stop = stop.clone();
                    running.spawn(async move {
                        let _ = runner.execute(&claimed, &mut stop).await;
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a maintenance request");
                    break;
                }
            }
        }
    }
    while running.join_next().await.is_some() {}
}
