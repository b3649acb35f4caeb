//! The maintenance tasks, by name.

use std::fmt;
use std::str::FromStr;

/// A maintenance task the scheduler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Task {
    /// Old temp files, expired exports and results, empty directories; storage recount.
    WorkspaceCleanup,
    /// Tells every worker to drop runtime contexts idle for 30 minutes.
    ContextEviction,
    /// Removes dead entries from the per-user session indexes in Redis.
    SessionPurge,
    /// Deletes finished jobs past retention, with their result files.
    JobRetention,
    /// A Postgres dump and an archive of the workspaces, with checksums.
    Backup,
}

impl Task {
    /// Every task, in a stable order.
    pub const ALL: [Task; 5] = [
        Task::WorkspaceCleanup,
        Task::ContextEviction,
        Task::SessionPurge,
        Task::JobRetention,
        Task::Backup,
    ];

    /// The wire and database name, e.g. `workspace_cleanup`.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::WorkspaceCleanup => "workspace_cleanup",
            Task::ContextEviction => "context_eviction",
            Task::SessionPurge => "session_purge",
            Task::JobRetention => "job_retention",
            Task::Backup => "backup",
        }
    }

    /// The variable holding its schedule, e.g. `FAIRLANE_SCHEDULE_WORKSPACE_CLEANUP`.
    pub fn schedule_variable(self) -> String {
        format!("FAIRLANE_SCHEDULE_{}", self.as_str().to_ascii_uppercase())
    }

    /// The schedule used when the variable is unset (UTC, with a seconds field).
    pub fn default_schedule(self) -> &'static str {
        match self {
            Task::WorkspaceCleanup => "0 30 2 * * *",
            Task::ContextEviction => "0 */5 * * * *",
            Task::SessionPurge => "0 15 * * * *",
            Task::JobRetention => "0 45 3 * * *",
            Task::Backup => "0 0 1 * * *",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a task.
#[derive(Debug, thiserror::Error)]
#[error("unknown maintenance task {0:?}")]
pub struct UnknownTask(pub String);

impl FromStr for Task {
    type Err = UnknownTask;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownTask(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for task in Task::ALL {
            assert_eq!(task.as_str().parse::<Task>().unwrap(), task);
        }
        assert!("instruments".parse::<Task>().is_err());
        assert_eq!(
            Task::JobRetention.schedule_variable(),
            "FAIRLANE_SCHEDULE_JOB_RETENTION"
        );
    }
}
