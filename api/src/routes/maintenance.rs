//! `POST /api/v1/admin/maintenance/{task}` (role admin): asks the scheduler to run a
//! maintenance task now. The API never runs a task itself; it records the request,
//! which a scheduler replica claims and runs (see `fairlane_shared::maintenance`).

use axum::extract::State;
use axum::http::StatusCode;
use fairlane_shared::maintenance::{Task, runs};
use serde_json::{Value, json};

use crate::accounts::audit::{self, Event, RequestMeta};
use crate::accounts::auth::AdminUser;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// `POST /admin/maintenance/{task}`: 202 with the request id; 404 for an unknown task.
pub async fn request(
    State(state): State<AppState>,
    meta: RequestMeta,
    admin: AdminUser,
    ApiPath(task): ApiPath<String>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    let task: Task = task.parse().map_err(|_| ApiError::NotFound)?;
    let admin_id = admin.0.user.id;
    let db = state.db().get().await?;
    let request_id = runs::request(&**db, task, Some(admin_id)).await?;
    audit::record(
        &**db,
        &meta,
        Event::success(admin_id, "admin.maintenance_request").target(task.as_str()),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        ApiJson(json!({ "request_id": request_id, "task": task.as_str() })),
    ))
}
