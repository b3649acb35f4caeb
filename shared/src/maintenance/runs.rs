//! The `maintenance_runs` record: claiming a tick (exactly once across replicas),
//! heartbeats, outcomes, marking runs of dead schedulers failed, admin requests, and
//! the status shown in admin stats.
//!
//! A scheduled run's id is `<task>:<tick RFC 3339>`; claiming it is an
//! `INSERT ... ON CONFLICT DO NOTHING`, so the one replica whose insert lands runs it and
//! every other replica skips it. The claimant renews `heartbeat_at` while it runs; a
//! running row whose heartbeat is older than the lease is marked failed by whichever
//! replica notices, so a killed scheduler leaves a failed run, not a stuck one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::Result;
use crate::maintenance::{Schedules, Task};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A tick of the task's schedule.
    Schedule,
    /// An admin's request through the API.
    Request,
    /// `fairlane-scheduler run <task>`.
    Cli,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Request => "request",
            Trigger::Cli => "cli",
        }
    }
}

/// A run this process claimed and must finish.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The run id.
    pub id: String,
    /// The task.
    pub task: Task,
}

/// The deterministic id of a scheduled tick: `<task>:<RFC 3339, seconds, Z>`.
pub fn tick_id(task: Task, tick: DateTime<Utc>) -> String {
    format!("{task}:{}", tick.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Claims a run; `None` when another process already holds that id.
pub async fn claim(
    client: &impl GenericClient,
    id: &str,
    task: Task,
    scheduled_for: DateTime<Utc>,
    trigger: Trigger,
    instance: &str,
) -> Result<Option<Claimed>> {
    let inserted = client
        .execute(
            "INSERT INTO maintenance_runs (id, task, scheduled_for, trigger, instance) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &id,
                &task.as_str(),
                &scheduled_for,
                &trigger.as_str(),
                &instance,
            ],
        )
        .await?;
    Ok((inserted == 1).then(|| Claimed {
        id: id.to_owned(),
        task,
    }))
}

/// Renews the heartbeat of a run we hold; false when it is no longer ours to finish
/// (it was marked failed as abandoned).
pub async fn heartbeat(client: &impl GenericClient, id: &str, instance: &str) -> Result<bool> {
    let updated = client
        .execute(
            "UPDATE maintenance_runs SET heartbeat_at = now() \
             WHERE id = $1 AND instance = $2 AND outcome = 'running'",
            &[&id, &instance],
        )
        .await?;
    Ok(updated == 1)
}

/// Records how a run ended: its summary, or the error.
pub async fn finish(
    client: &impl GenericClient,
    id: &str,
    instance: &str,
    outcome: &std::result::Result<Value, String>,
) -> Result<()> {
    let (state, summary, error) = match outcome {
        Ok(summary) => ("succeeded", summary.clone(), None),
        Err(error) => (
            "failed",
            Value::Object(Default::default()),
            Some(error.as_str()),
        ),
    };
    client
        .execute(
            "UPDATE maintenance_runs SET outcome = $3, summary = $4, error = $5, \
               finished_at = now(), heartbeat_at = now() \
             WHERE id = $1 AND instance = $2 AND outcome = 'running'",
            &[&id, &instance, &state, &summary, &error],
        )
        .await?;
    Ok(())
}

/// Marks failed every running run whose heartbeat is older than `lease_secs`: its
/// scheduler died. Returns their ids.
pub async fn fail_abandoned(client: &impl GenericClient, lease_secs: f64) -> Result<Vec<String>> {
    let rows = client
        .query(
            "UPDATE maintenance_runs SET outcome = 'failed', finished_at = now(), \
               error = 'abandoned: the scheduler running it stopped before finishing' \
             WHERE outcome = 'running' AND heartbeat_at < now() - make_interval(secs => $1) \
             RETURNING id",
            &[&lease_secs],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The latest tick of `task` that any scheduler claimed, if one ever did.
pub async fn last_scheduled_tick(
    client: &impl GenericClient,
    task: Task,
) -> Result<Option<DateTime<Utc>>> {
    let row = client
        .query_one(
            "SELECT max(scheduled_for) FROM maintenance_runs WHERE task = $1 AND trigger = 'schedule'",
            &[&task.as_str()],
        )
        .await?;
    Ok(row.get(0))
}

/// Records an admin's request to run `task`; a scheduler picks it up. Returns its id.
pub async fn request(
    client: &impl GenericClient,
    task: Task,
    requested_by: Option<Uuid>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    client
        .execute(
            "INSERT INTO maintenance_requests (id, task, requested_by) VALUES ($1, $2, $3)",
            &[&id, &task.as_str(), &requested_by],
        )
        .await?;
    Ok(id)
}

/// Claims the oldest pending request, if any, and its run (`<task>:request:<id>`), in
/// one transaction, so each request runs once however many schedulers poll.
pub async fn claim_request(
    client: &mut tokio_postgres::Client,
    instance: &str,
) -> Result<Option<Claimed>> {
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT id, task, requested_at FROM maintenance_requests WHERE claimed_at IS NULL \
             ORDER BY requested_at LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[],
        )
        .await?
    else {
        return Ok(None);
    };
    let request_id: Uuid = row.get(0);
    let task: Task = row
        .get::<_, &str>(1)
        .parse()
        .map_err(|e| crate::Error::Other(anyhow::Error::new(e)))?;
    let run_id = format!("{task}:request:{request_id}");
    let claimed = claim(&tx, &run_id, task, row.get(2), Trigger::Request, instance).await?;
    tx.execute(
        "UPDATE maintenance_requests SET claimed_at = now(), run_id = $2 WHERE id = $1",
        &[&request_id, &run_id],
    )
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The latest run of a task.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    /// The run id.
    pub id: String,
    /// `schedule`, `request` or `cli`.
    pub trigger: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; null while running.
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    pub outcome: String,
    /// The task's counts.
    pub summary: Value,
    /// Why it failed.
    pub error: Option<String>,
}

/// A task as admin stats show it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    /// The task name.
    pub task: &'static str,
    /// The configured schedule (`off` when it runs only on demand).
    pub schedule: String,
    /// Its latest run, if any.
    pub last_run: Option<LastRun>,
}

/// Every task with its schedule and latest run.
pub async fn status(client: &impl GenericClient, schedules: &Schedules) -> Result<Vec<TaskStatus>> {
    let rows = client
        .query(
            "SELECT DISTINCT ON (task) task, id, trigger, started_at, finished_at, outcome, summary, error \
             FROM maintenance_runs ORDER BY task, started_at DESC, id DESC",
            &[],
        )
        .await?;
    Ok(Task::ALL
        .into_iter()
        .map(|task| TaskStatus {
            task: task.as_str(),
            schedule: schedules.of(task).source.clone(),
            last_run: rows
                .iter()
                .find(|r| r.get::<_, &str>(0) == task.as_str())
                .map(|r| LastRun {
                    id: r.get(1),
                    trigger: r.get(2),
                    started_at: r.get(3),
                    finished_at: r.get(4),
                    outcome: r.get(5),
                    summary: r.get(6),
                    error: r.get(7),
                }),
        })
        .collect())
}
