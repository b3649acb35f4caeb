//! Logging setup: `tracing` with a human-readable or JSON formatter on stdout.
//!
//! Human output is the default; `FAIRLANE_LOG_FORMAT=json` writes one JSON object per
//! line with the fields of the current span (the HTTP request id among them) flattened
//! in. Never log secrets, tokens or raw request bodies: values go in fields, and
//! user-provided strings are escaped by the formatter.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Calling it twice is harmless (the second is ignored).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE);
    let _ = match settings.format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
