//! The job as the rest of the system sees it: [`Job`] (serialises to exactly the `job`
//! object of API.md), its [`JobState`], and the nested progress, waiting, error and
//! result values. Building a `Job` from a `jobs` row lives here too; queries do not.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The columns every query selects to build a [`Job`] (in [`Job::from_row`]'s order).
pub const JOB_COLUMNS: &str = "id, user_id, kind, params, state, attempt, max_attempts, \
     progress, error_code, error_message, result, created_at, started_at, finished_at";

/// Where a job is in its lifecycle (DESIGN.md "Job lifecycle").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker (or for the owner's concurrency slot).
    Queued,
    /// Claimed by a worker that holds a live lease.
    Running,
    /// Failed with a retryable error; queued again when its backoff ends.
    Retrying,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error, or out of attempts.
    Failed,
    /// Cancelled by its owner.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        Self::Queued,
        Self::Running,
        Self::Retrying,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The name stored in `jobs.state` and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored or client-supplied state name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the job can no longer change.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// What the running job last reported.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
    /// A short human-readable note.
    pub message: Option<String>,
}

/// Why a job that is not running yet is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// The owner already runs as many jobs as their quota allows.
    UserConcurrencyLimit,
    /// The owner has a free slot; every worker is busy (or none is running).
    NoFreeWorker,
    /// The job failed and waits for its retry backoff to end.
    RetryBackoff,
}

/// `waiting` of API.md: why the job has not started and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    /// Why.
    pub reason: WaitReason,
    /// 1-based position in the owner's lane, when the job is in it.
    pub position: Option<u64>,
    /// The owner's running jobs (with [`WaitReason::UserConcurrencyLimit`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<u64>,
    /// The owner's running-jobs limit (with [`WaitReason::UserConcurrencyLimit`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `error` of API.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobFailure {
    /// A stable machine-readable code, e.g. `interrupted`, `timeout`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

/// One job, as API.md's `job` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Job id (uuid v7).
    pub id: Uuid,
    /// The owner; not serialised (the caller already is the owner).
    #[serde(skip)]
    pub user_id: Uuid,
    /// The kind, e.g. `echo`.
    pub kind: String,
    /// Lifecycle state.
    pub state: JobState,
    /// The validated parameters.
    pub params: Value,
    /// Claims so far.
    pub attempt: i32,
    /// Claims allowed.
    pub max_attempts: i32,
    /// Last progress report.
    pub progress: Option<Progress>,
    /// Why it waits; filled by [`crate::jobs::waiting`], `None` from plain queries.
    pub waiting: Option<Waiting>,
    /// Why it failed (or last failed, while retrying).
    pub error: Option<JobFailure>,
    /// `{summary, files}` once succeeded.
    pub result: Option<Value>,
    /// Accepted at.
    pub created_at: DateTime<Utc>,
    /// First started at.
    pub started_at: Option<DateTime<Utc>>,
    /// Reached a terminal state at.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// Builds a job from a row selected with [`JOB_COLUMNS`].
    pub fn from_row(row: &tokio_postgres::Row) -> Self {
        let state: String = row.get("state");
        let error_code: Option<String> = row.get("error_code");
        let error_message: Option<String> = row.get("error_message");
        let progress: Option<Value> = row.get("progress");
        Self {
            id: row.get("id"),
            user_id: row.get("user_id"),
            kind: row.get("kind"),
            // The CHECK constraint on jobs.state admits exactly these names.
            state: JobState::parse(&state).unwrap_or(JobState::Failed),
            params: row.get("params"),
            attempt: row.get("attempt"),
            max_attempts: row.get("max_attempts"),
            progress: progress.and_then(|p| serde_json::from_value(p).ok()),
            waiting: None,
            error: error_code.map(|code| JobFailure {
                code,
                message: error_message.unwrap_or_default(),
            }),
            result: row.get("result"),
            created_at: row.get("created_at"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
        }
    }
}

/// What a successful attempt produced: the summary and the files it wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobOutput {
    /// The result summary (kind-specific JSON).
    pub summary: Value,
    /// Files already in place at `<data>/users/<owner>/<area>/<id>`; registered (and
    /// charged to the owner's storage) in the transaction that completes the job.
    pub files: Vec<OutputFile>,
}

impl JobOutput {
    /// An output with a summary and no files.
    pub fn summary(summary: Value) -> Self {
        Self {
            summary,
            files: Vec::new(),
        }
    }
}

/// One result file of a job, as written by the worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFile {
    /// File id (its name on disk).
    pub id: Uuid,
    /// Display name, e.g. `chain-NIFTY-2026-11-27.csv`.
    pub name: String,
    /// Workspace area holding it (`processed_options`, `filtered_options`, ...).
    #[serde(skip)]
    pub area: &'static str,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Media type.
    pub content_type: String,
}

/// A job's result: `{summary, files}` with each file as API.md's `file` object.
pub fn result_value(
    summary: Value,
    files: &[OutputFile],
    job_id: Uuid,
    created_at: DateTime<Utc>,
) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id, "name": f.name, "kind": "result", "size_bytes": f.size_bytes,
                "sha256": f.sha256, "content_type": f.content_type, "created_at": created_at,
                "job_id": job_id,
            })
        })
        .collect();
    serde_json::json!({ "summary": summary, "files": files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                Value::String(state.as_str().to_owned())
            );
        }
        assert_eq!(JobState::parse("dead"), None);
    }

    #[test]
    fn a_job_serialises_to_the_api_shape() {
        let job = Job {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            kind: "echo".into(),
            state: JobState::Queued,
            params: serde_json::json!({"message": "hi"}),
            attempt: 0,
            max_attempts: 3,
            progress: None,
            waiting: Some(Waiting {
                reason: WaitReason::NoFreeWorker,
                position: Some(1),
                running: None,
                limit: None,
            }),
            error: None,
            result: None,
            created_at: DateTime::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
        };
        let value = serde_json::to_value(&job).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "attempt",
                "created_at",
                "error",
                "finished_at",
                "id",
                "kind",
                "max_attempts",
                "params",
                "progress",
                "result",
                "started_at",
                "state",
                "waiting"
            ]
        );
        assert_eq!(
            value["waiting"],
            serde_json::json!({"reason": "no_free_worker", "position": 1})
        );
    }
}
