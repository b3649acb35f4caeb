//! When each task fires: a cron expression per task from `FAIRLANE_SCHEDULE_<TASK>`
//! (six fields with seconds, or five without; UTC), or `off`. The API and the scheduler
//! both read it, so admin stats show the schedules the scheduler uses.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::config::{ConfigError, Env};
use crate::maintenance::Task;

/// One task's schedule as configured.
#[derive(Debug, Clone)]
pub struct TaskSchedule {
    /// The configured string (`off` when disabled), shown in admin stats.
    pub source: String,
    /// The parsed expression; `None` when the task only runs on demand.
    pub cron: Option<cron::Schedule>,
}

impl TaskSchedule {
    /// The latest tick at or before `now`.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let just_after = now + chrono::Duration::milliseconds(1);
        self.cron.as_ref()?.after(&just_after).next_back()
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.as_ref()?.after(&t).next()
    }
}

/// Every task's schedule.
#[derive(Debug, Clone)]
pub struct Schedules {
    by_task: BTreeMap<Task, TaskSchedule>,
}

impl Schedules {
    /// Reads `FAIRLANE_SCHEDULE_<TASK>` for every task; a malformed expression is an
    /// error naming its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mut by_task = BTreeMap::new();
        for task in Task::ALL {
            let variable = task.schedule_variable();
            let source = env
                .string_or(&variable, task.default_schedule())
                .trim()
                .to_owned();
            let cron = if source.eq_ignore_ascii_case("off") {
                None
            } else {
                Some(parse(&source).map_err(|reason| ConfigError::new(&variable, reason))?)
            };
            by_task.insert(task, TaskSchedule { source, cron });
        }
        Ok(Self { by_task })
    }

    /// The schedule of `task`.
    pub fn of(&self, task: Task) -> &TaskSchedule {
        // Built for every task in `from_env`.
        &self.by_task[&task]
    }
}

/// Parses a cron expression; five fields get a leading `0` seconds field.
fn parse(source: &str) -> Result<cron::Schedule, String> {
    let fields = source.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {source}")
    } else {
        source.to_owned()
    };
    cron::Schedule::from_str(&full)
        .map_err(|e| format!("{source:?} is not a cron expression ({e}), and not `off`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_variables_override() {
        let schedules = Schedules::from_env(&Env::from_pairs([
            ("FAIRLANE_SCHEDULE_SESSION_PURGE", "* * * * * *"),
            ("FAIRLANE_SCHEDULE_BACKUP", "off"),
            ("FAIRLANE_SCHEDULE_JOB_RETENTION", "15 4 * * *"),
        ]))
        .unwrap();
        assert_eq!(schedules.of(Task::WorkspaceCleanup).source, "0 30 2 * * *");
        assert!(schedules.of(Task::Backup).cron.is_none());
        let t: DateTime<Utc> = "2026-01-01T10:00:00.500Z".parse().unwrap();
        let purge = schedules.of(Task::SessionPurge);
        assert_eq!(
            purge.latest_at_or_before(t).unwrap().to_rfc3339(),
            "2026-01-01T10:00:00+00:00"
        );
        assert_eq!(
            purge.next_after(t).unwrap().to_rfc3339(),
            "2026-01-01T10:00:01+00:00"
        );
        let retention = schedules.of(Task::JobRetention);
        assert_eq!(
            retention.latest_at_or_before(t).unwrap().to_rfc3339(),
            "2026-01-01T04:15:00+00:00"
        );
    }

    #[test]
    fn a_bad_expression_names_its_variable() {
        let err = Schedules::from_env(&Env::from_pairs([("FAIRLANE_SCHEDULE_BACKUP", "daily")]))
            .unwrap_err();
        assert_eq!(err.variable, "FAIRLANE_SCHEDULE_BACKUP");
    }
}
