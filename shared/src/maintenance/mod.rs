//! Maintenance tasks as every process sees them: their names, their schedules
//! (`FAIRLANE_SCHEDULE_<TASK>`), the `maintenance_runs` record that makes each tick fire
//! exactly once across scheduler replicas, on-demand requests, and the status shown in
//! admin stats.
//!
//! The tasks themselves run only in `fairlane-scheduler`; nothing here touches files,
//! sessions or backups.

pub mod runs;
pub mod schedule;
pub mod task;

pub use runs::{LastRun, TaskStatus, status};
pub use schedule::Schedules;
pub use task::Task;
