//! Kite's answer shapes: the success envelope `{"status":"success","data":…}` and the
//! error body `{"status":"error","message":…,"error_type":…}` with its status code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A success answer.
pub(crate) fn success<T: Serialize>(data: T) -> Response {
    Json(serde_json::json!({"status": "success", "data": data})).into_response()
}

/// An error answer with Kite's body.
pub(crate) fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "status": "error",
        "message": message,
        "data": null,
        "error_type": error_type,
    });
    (status, Json(body)).into_response()
}
