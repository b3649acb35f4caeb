//! The API's one error type and the JSON error envelope of `API.md`:
//! `{"error": {"code": "snake_case", "message": "human text", "details": {...}}}`.
//!
//! Every failure a handler, extractor or middleware produces becomes an [`ApiError`].
//! Internal errors answer a generic 500; their cause is logged once, with the request id,
//! by the layer that turns the error into a response, and never reaches the client.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`: the request cannot be read (malformed JSON, bad query string).
    #[error("{0}")]
    BadRequest(String),
    /// 422 `validation_failed`, with the offending field in `details.field`.
    #[error("{message}")]
    Validation { message: String, details: Value },
    /// 401 `unauthorized`: no valid session or API key.
    #[error("authentication required")]
    Unauthorized,
    /// 401 `invalid_credentials`: unknown email or wrong password (indistinguishable).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// 401 `totp_required`: the password was right; a TOTP code is needed.
    #[error("a TOTP code is required")]
    TotpRequired,
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`: missing, or owned by someone else (indistinguishable by design).
    #[error("not found")]
    NotFound,
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 with a specific code (`conflict`, `email_taken`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413 `payload_too_large`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `rate_limited` with `Retry-After`.
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// 429 `quota_exceeded`.
    #[error("{0}")]
    QuotaExceeded(String),
    /// 422 `credentials_required`: the job needs stored broker credentials.
    #[error("store your broker credentials first (PUT /api/v1/me/credentials)")]
    CredentialsRequired,
    /// 503 `unavailable`, with what is down in `details`.
    #[error("{message}")]
    Unavailable { message: String, details: Value },
    /// 500 `internal`: a bug or an infrastructure failure; the cause is logged, not sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 about one field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
            details: json!({ "field": field }),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized | Self::InvalidCredentials | Self::TotpRequired => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::QuotaExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::CredentialsRequired => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Validation { .. } => "validation_failed",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TotpRequired => "totp_required",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::CredentialsRequired => "credentials_required",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict { code, .. } => code,
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::Validation { details, .. } | Self::Unavailable { details, .. } => details.clone(),
            Self::RateLimited { retry_after } => {
                json!({ "retry_after_seconds": retry_after.as_secs().max(1) })
            }
            _ => json!({}),
        }
    }

    fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => {
                "internal error; the request id identifies it in the logs".to_owned()
            }
            other => other.to_string(),
        }
    }
}

/// The body of an error response.
pub fn envelope(code: &str, message: &str, details: Value) -> Value {
    json!({ "error": { "code": code, "message": message, "details": details } })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let body = envelope(self.code(), &self.public_message(), self.details());
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::RateLimited { retry_after } = &self {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<fairlane_shared::Error> for ApiError {
    fn from(e: fairlane_shared::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable {
            message: "the database is not available".to_owned(),
            details: json!({ "postgres": e.to_string() }),
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        Self::Internal(e.into())
    }
}

/// `Result` with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;
