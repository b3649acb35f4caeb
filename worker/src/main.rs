//! `fairlane-worker`: runs jobs. See the crate docs in `lib.rs`.

use fairlane_shared::config::Env;
use fairlane_worker::settings::WorkerSettings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    fairlane_worker::memory::retain_freed_memory();
    let settings = match WorkerSettings::from_env(&Env::from_process())
        .and_then(|settings| settings.forecast.check().map(|()| settings))
    {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("fairlane-worker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fairlane_shared::telemetry::init(&settings.common.log);
    match fairlane_worker::run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fairlane-worker failed");
            eprintln!("fairlane-worker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
