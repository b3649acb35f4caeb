//! The worker's error type: why a job's code gave up ([`KindError`]). Infrastructure
//! failures at the edges are `anyhow`.

/// A job kind's failure: a stable code, a message for the owner, and whether another
/// attempt may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct KindError {
    /// Machine-readable, e.g. `invalid_params`, `reauth_required`.
    pub code: String,
    /// Human-readable.
    pub message: String,
    /// Whether a retry (with backoff) may help.
    pub retryable: bool,
}

impl KindError {
    /// A failure that a retry will not fix.
    pub fn permanent(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure another attempt (after backoff) may not hit.
    pub fn retryable(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            retryable: true,
        }
    }
}
