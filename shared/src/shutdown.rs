//! Waiting for the signals that stop a Fairlane process: SIGTERM (service managers,
//! `kill`) and SIGINT (Ctrl-C). Nothing else: each binary decides how to drain.
//!
//! Install the handlers *before* announcing readiness: a signal that arrives between
//! "ready" and installation would otherwise kill the process with the default action.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Installed SIGTERM and SIGINT handlers.
#[derive(Debug)]
pub struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    /// Installs the handlers (from now on the signals no longer kill the process).
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves with the signal's name when SIGTERM or SIGINT arrives.
    pub async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
