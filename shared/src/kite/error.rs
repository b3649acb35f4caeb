//! [`KiteError`]: everything a Kite call can fail with, classified the way the job
//! runtime needs to act on it (re-authenticate, give up, retry later).
//!
//! Broker messages are kept (truncated) because they explain the failure; credentials
//! never reach an error value.

use std::time::Duration;

/// Why a Kite call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KiteError {
    /// 403 `TokenException`: the access token expired or was invalidated. The user must
    /// log in to the broker again; the job fails with `reauth_required`, no retry.
    #[error("broker session expired or invalid: {message}")]
    Token {
        /// The broker's message.
        message: String,
    },
    /// `InputException`: the request was malformed. Not retried.
    #[error("broker rejected the request ({status}): {message}")]
    Input {
        /// HTTP status.
        status: u16,
        /// The broker's message.
        message: String,
    },
    /// `NetworkException`: the broker could not reach its backend.
    #[error("broker network error ({status}): {message}")]
    Network {
        /// HTTP status.
        status: u16,
        /// The broker's message.
        message: String,
    },
    /// `DataException`: the broker could not understand its backend's answer.
    #[error("broker data error ({status}): {message}")]
    Data {
        /// HTTP status.
        status: u16,
        /// The broker's message.
        message: String,
    },
    /// `GeneralException`, an unknown `error_type`, or an error body that is not Kite's
    /// JSON envelope.
    #[error("broker error ({status}): {message}")]
    General {
        /// HTTP status.
        status: u16,
        /// The broker's message, or the start of the body.
        message: String,
    },
    /// HTTP 429 on every try.
    #[error("broker rate limit exceeded after {attempts} tries")]
    RateLimited {
        /// How many requests were sent.
        attempts: u32,
    },
    /// The circuit breaker is open after repeated server failures; nothing was sent.
    #[error("broker circuit open after repeated failures; next try in {retry_in:?}")]
    CircuitOpen {
        /// Time until the breaker lets a probe through.
        retry_in: Duration,
    },
    /// More instruments than one call may carry.
    #[error("{given} instruments in one call; the limit is {max}")]
    TooManyInstruments {
        /// How many were asked for.
        given: usize,
        /// The endpoint's limit.
        max: usize,
    },
    /// The broker could not be reached or the connection failed.
    #[error("broker unreachable: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success answer whose body could not be decoded.
    #[error("cannot decode the broker's answer: {0}")]
    Decode(String),
    /// The shared rate limiter or the CMP cache failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl KiteError {
    /// True when the user has to log in to the broker again (job error `reauth_required`).
    pub fn is_reauth_required(&self) -> bool {
        matches!(self, KiteError::Token { .. })
    }

    /// True when running the job again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            KiteError::Network { .. }
            | KiteError::Data { .. }
            | KiteError::RateLimited { .. }
            | KiteError::CircuitOpen { .. }
            | KiteError::Transport(_)
            | KiteError::Redis(_) => true,
            KiteError::General { status, .. } => *status >= 500,
            KiteError::Token { .. }
            | KiteError::Input { .. }
            | KiteError::TooManyInstruments { .. }
            | KiteError::Decode(_) => false,
        }
    }

    /// Classifies an error answer from its status and body (Kite's envelope
    /// `{"status":"error","message":…,"error_type":…}` or anything else).
    pub(crate) fn from_response(status: u16, body: &str) -> Self {
        #[derive(serde::Deserialize)]
        struct Envelope {
            message: Option<String>,
            error_type: Option<String>,
        }
        let envelope: Option<Envelope> = serde_json::from_str(body).ok();
        let (message, error_type) = match envelope {
            Some(e) => (e.message, e.error_type),
            None => (None, None),
        };
        let message = message.unwrap_or_else(|| body_excerpt(body, status));
        let message = truncate(message);
        match error_type.as_deref() {
            _ if status == 429 => KiteError::RateLimited { attempts: 1 },
            Some("TokenException") => KiteError::Token { message },
            Some("InputException") => KiteError::Input { status, message },
            Some("NetworkException") => KiteError::Network { status, message },
            Some("DataException") => KiteError::Data { status, message },
            _ => KiteError::General { status, message },
        }
    }
}

fn body_excerpt(body: &str, status: u16) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        trimmed.to_owned()
    }
}

fn truncate(mut message: String) -> String {
    const MAX: usize = 300;
    if message.len() > MAX {
        let mut end = MAX;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(error_type: &str) -> String {
        format!(r#"{{"status":"error","message":"boom","error_type":"{error_type}"}}"#)
    }

    #[test]
    fn error_types_map_to_variants() {
        let token = KiteError::from_response(403, &envelope("TokenException"));
        assert!(token.is_reauth_required() && !token.is_transient());
        assert!(matches!(
            KiteError::from_response(400, &envelope("InputException")),
            KiteError::Input { status: 400, .. }
        ));
        assert!(matches!(
            KiteError::from_response(503, &envelope("NetworkException")),
            KiteError::Network { status: 503, .. }
        ));
        assert!(matches!(
            KiteError::from_response(502, &envelope("DataException")),
            KiteError::Data { status: 502, .. }
        ));
        let unknown = KiteError::from_response(500, &envelope("MysteryException"));
        assert!(matches!(unknown, KiteError::General { status: 500, .. }));
        assert!(unknown.is_transient());
        assert!(matches!(
            KiteError::from_response(429, &envelope("NetworkException")),
            KiteError::RateLimited { .. }
        ));
    }

    #[test]
    fn non_json_bodies_are_general_errors_with_an_excerpt() {
        let err = KiteError::from_response(502, "<html>Bad Gateway</html>");
        match err {
            KiteError::General { status, message } => {
                assert_eq!(status, 502);
                assert_eq!(message, "<html>Bad Gateway</html>");
            }
            other => panic!("{other:?}"),
        }
        let err = KiteError::from_response(504, "");
        assert!(err.to_string().contains("empty body"), "{err}");
        let long = "x".repeat(1000);
        let err = KiteError::from_response(500, &long);
        assert!(err.to_string().len() < 400);
    }
}
