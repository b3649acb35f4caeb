//! `fairlane-api`: the HTTP server and the operator commands that share its
//! configuration (`migrate`, `create-admin`, `rotate-keys`).

use clap::{Parser, Subcommand};
use fairlane_api::{cli, settings::ApiSettings};
use fairlane_shared::config::{CommonSettings, Env};

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
    /// Give a registered user the admin role.
    CreateAdmin {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Re-encrypt every stored secret with the primary key (resumable).
    RotateKeys {
        /// Rows per committed batch.
        #[arg(long, default_value_t = 100)]
        batch: i64,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    let command = cli.command.unwrap_or(Command::Serve);
    // `migrate` needs only the database; everything else needs the full settings.
    if let Command::Migrate = command {
        return match CommonSettings::from_env(&env) {
            Ok(common) => {
                fairlane_shared::telemetry::init(&common.log);
                exit_with(cli::migrate(&common).await)
            }
            Err(e) => config_error(&e),
        };
    }
    let settings = match ApiSettings::from_env(&env) {
        Ok(settings) => settings,
        Err(e) => return config_error(&e),
    };
    fairlane_shared::telemetry::init(&settings.common.log);
    let outcome = match command {
        Command::Serve => fairlane_api::app::serve(settings).await,
        Command::Migrate => unreachable!("handled above"),
        Command::CreateAdmin { email } => cli::create_admin(&settings, &email).await,
        Command::RotateKeys { batch } => cli::rotate_keys(&settings, batch).await,
    };
    exit_with(outcome)
}

fn config_error(e: &fairlane_shared::config::ConfigError) -> std::process::ExitCode {
    eprintln!("fairlane-api: {e}");
    std::process::ExitCode::from(2)
}

fn exit_with(outcome: anyhow::Result<()>) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fairlane-api failed");
            eprintln!("fairlane-api: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
