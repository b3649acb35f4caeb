//! `fairlane-scheduler`: runs maintenance on a schedule (no arguments), or one task now
//! (`fairlane-scheduler run <task>`, printing its summary as JSON). See `lib.rs`.

use std::io::Write;

use clap::{Parser, Subcommand};
use fairlane_scheduler::settings::SchedulerSettings;
use fairlane_shared::config::Env;
use fairlane_shared::maintenance::Task;

#[derive(Debug, Parser)]
#[command(
    name = "fairlane-scheduler",
    about = "Fairlane's maintenance scheduler"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one task now: workspace_cleanup, context_eviction, session_purge,
    /// job_retention or backup.
    Run {
        /// The task's name.
        task: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match SchedulerSettings::from_env(&Env::from_process()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("fairlane-scheduler: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fairlane_shared::telemetry::init(&settings.common.log);
    let result = match cli.command {
        None => fairlane_scheduler::run(settings).await.map(|()| true),
        Some(Command::Run { task }) => {
            let task: Task = match task.parse() {
                Ok(task) => task,
                Err(e) => {
                    eprintln!("fairlane-scheduler: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            fairlane_scheduler::run_once(settings, task)
                .await
                .map(|outcome| report(&outcome))
        }
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fairlane-scheduler failed");
            eprintln!("fairlane-scheduler: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a run's summary (stdout) or error (stderr); true when it succeeded.
fn report(outcome: &Result<serde_json::Value, String>) -> bool {
    match outcome {
        Ok(summary) => {
            let _ = writeln!(std::io::stdout(), "{summary}");
            true
        }
        Err(error) => {
            eprintln!("fairlane-scheduler: the run failed: {error}");
            false
        }
    }
}
