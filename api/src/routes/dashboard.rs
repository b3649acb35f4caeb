//! The web dashboard: static, hand-written files from `FAIRLANE_DASHBOARD_DIR` served
//! at `/` for every path no API route takes. Paths under `/api` and files that do not
//! exist answer the JSON 404 envelope, so clients of the API never see HTML.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::app::AppState;
use crate::error::ApiError;

/// Serves a dashboard file, or the JSON 404 envelope.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    let is_api = path == "/api" || path.starts_with("/api/");
    if is_api || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return ApiError::NotFound.into_response();
    }
    let files = ServeDir::new(&state.settings().dashboard_dir);
    let Ok(response) = files.oneshot(request).await;
    if !response.status().is_success() && !response.status().is_redirection() {
        return ApiError::NotFound.into_response();
    }
    let mut response = response.map(Body::new);
    // The files change with every deployment and are small: always revalidate.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The dashboard directory when `FAIRLANE_DASHBOARD_DIR` is unset: the first
/// `dashboard/` holding an `index.html` in the working directory or next to the
/// binary or one of its parent directories (a checkout's `target/debug/..`).
pub fn default_dir() -> PathBuf {
    let candidates = std::env::current_dir().into_iter().chain(
        std::env::current_exe().ok().into_iter().flat_map(|exe| {
            exe.ancestors()
                .skip(1)
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        }),
    );
    candidates
        .map(|dir| dir.join("dashboard"))
        .find(|dir| dir.join("index.html").is_file())
        .unwrap_or_else(|| PathBuf::from("dashboard"))
}
