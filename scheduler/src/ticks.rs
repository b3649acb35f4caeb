//! The per-task tick loop: each replica runs one per scheduled task and tries to claim
//! every tick; the deterministic run id makes exactly one replica win each tick.
//!
//! Catch-up: a loop starts from the latest tick any scheduler claimed (from `now` on a
//! deployment where the task never ran on schedule). Ticks missed by less than
//! [`CATCH_UP_WINDOW`] (a late wake-up, a slow run) are each claimed; when more is
//! missed (downtime), only the latest missed tick runs, once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fairlane_shared::maintenance::Task;
use fairlane_shared::maintenance::runs::{self, Trigger};
use fairlane_shared::maintenance::schedule::TaskSchedule;
use tokio::sync::watch;

use crate::runner::{Runner, stopped};

/// Ticks missed by less than this are claimed one by one; older ones collapse into one.
pub const CATCH_UP_WINDOW: Duration = Duration::from_secs(10);

/// Fires `task` on its schedule until `stop`.
pub async fn run(
    runner: Runner,
    task: Task,
    schedule: TaskSchedule,
    mut stop: watch::Receiver<bool>,
) {
    if schedule.cron.is_none() {
        return;
    }
    let mut cursor = loop {
        match start_cursor(&runner, task).await {
            Ok(cursor) => break cursor,
            Err(e) => {
                tracing::warn!(task = %task, error = %e, "cannot read the last tick; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped(&mut stop) => return,
                }
            }
        }
    };
    let window = chrono::Duration::from_std(CATCH_UP_WINDOW).unwrap_or_default();
    while !*stop.borrow() {
        let now = Utc::now();
        let Some(next) = schedule.next_after(cursor) else {
            return;
        };
        if next > now {
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(&mut stop) => return,
            }
            continue;
        }
        let tick = if now - next > window {
            schedule.latest_at_or_before(now).unwrap_or(next)
        } else {
            next
        };
        cursor = tick;
        let id = runs::tick_id(task, tick);
        let claimed = match runner.ctx.db.get().await {
            Ok(client) => {
                runs::claim(
                    &**client,
                    &id,
                    task,
                    tick,
                    Trigger::Schedule,
                    &runner.instance,
                )
                .await
            }
            Err(e) => Err(e.into()),
        };
        match claimed {
            Ok(Some(claimed)) => {
                let _ = runner.execute(&claimed, &mut stop).await;
            }
            Ok(None) => tracing::debug!(run = %id, "tick claimed by another scheduler"),
            Err(e) => tracing::warn!(run = %id, error = %e, "cannot claim a maintenance tick"),
        }
    }
}

/// Where the loop starts: just before the latest due tick when the task has run on
/// schedule before and missed ticks since, else now.
async fn start_cursor(runner: &Runner, task: Task) -> fairlane_shared::Result<DateTime<Utc>> {
    let client = runner.ctx.db.get().await?;
    let now = Utc::now();
    Ok(runs::last_scheduled_tick(&**client, task)
        .await?
        .map_or(now, |last| last.min(now)))
}
