//! `fairlane-api`: the HTTP server and the operator commands that share its
//! configuration (`migrate`, `create-admin`, `rotate-keys`).

use clap::{Parser, Subcommand};
use fairlane_api::{cli, settings::ApiSettings};
use fairlane_shared::config::Env;

/// Fairlane HTTP API and admin commands. Configuration comes from `FAIRLANE_*`
/// environment variables (see `.env.example`).
#[derive(Parser)]
#[command(name = "fairlane-api", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match ApiSettings::from_env(&Env::from_process()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("fairlane-api: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fairlane_shared::telemetry::init(&settings.common.log);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => fairlane_api::app::serve(settings).await,
        Command::Migrate => cli::migrate(&settings).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fairlane-api failed");
            eprintln!("fairlane-api: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
