//! `fairlane-scheduler`: runs maintenance on a schedule. See the crate docs in `lib.rs`.

use fairlane_scheduler::settings::SchedulerSettings;
use fairlane_shared::config::Env;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = match SchedulerSettings::from_env(&Env::from_process()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("fairlane-scheduler: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fairlane_shared::telemetry::init(&settings.common.log);
    match fairlane_scheduler::run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fairlane-scheduler failed");
            eprintln!("fairlane-scheduler: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
