//! Gives every request an id, a tracing span that carries it, one access-log line and
//! the HTTP metrics.
//!
//! The id comes from the client's `X-Request-Id` when it is short and plain (so a proxy
//! can correlate), otherwise a fresh UUIDv7; it is echoed in the response header and
//! appears in every log line written while the request is handled.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::app::AppState;
use crate::metrics::HttpLabels;

/// The header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The current request's id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_client_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The middleware function (install with `from_fn_with_state`).
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_client_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));

    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    let labels = HttpLabels {
        method: method.to_string(),
        route,
        status,
    };
    state.metrics().http_requests.get_or_create(&labels).inc();
    state
        .metrics()
        .http_duration
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::acceptable_client_id;

    #[test]
    fn client_request_ids_are_accepted_only_when_plain_and_short() {
        assert!(acceptable_client_id("abc-123_x.y"));
        assert!(!acceptable_client_id(""));
        assert!(!acceptable_client_id("a\nb"));
        assert!(!acceptable_client_id(&"a".repeat(65)));
        assert!(!acceptable_client_id("{\"level\":\"admin\"}"));
    }
}
