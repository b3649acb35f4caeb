//! Tower/axum middleware applied to every request: observation (request id, span,
//! access log, metrics), security headers, CORS, panic containment.

pub mod observe;
pub mod security_headers;
