//! `fairlane-sandbox-broker`: a stand-in for Zerodha's Kite Connect v3 HTTP API with a
//! deterministic synthetic market, for `ops/up`, demos and tests.
//!
//! It speaks the routes the options jobs use (`/instruments/:exchange`, `/quote`,
//! `/quote/ltp`, `/quote/ohlc`) with Kite's headers, envelopes, error bodies and rate
//! limits, plus fault injection and `GET /__sandbox/stats`. It is not a trading
//! simulator: there are no orders, sessions or ticks, and prices do not move during a
//! day.

mod app;
mod expiries;
mod gate;
mod kite_reply;
mod market;
mod noise;
mod routes;
mod settings;

use clap::Parser;
use fairlane_shared::config::{Env, LogSettings};

use crate::settings::SandboxSettings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = SandboxSettings::parse();
    let log = match LogSettings::from_env(&Env::from_process()) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("fairlane-sandbox-broker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fairlane_shared::telemetry::init(&log);
    match app::serve(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fairlane-sandbox-broker failed");
            eprintln!("fairlane-sandbox-broker: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
