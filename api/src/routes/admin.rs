//! `/api/v1/admin/*` (role admin): deployment statistics and account activation.

use axum::extract::State;
use axum::http::StatusCode;
use fairlane_shared::user_events::UserEventKind;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::audit::{self, Event, RequestMeta};
use crate::accounts::auth::AdminUser;
use crate::accounts::{sessions, users};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::me::announce;

/// `GET /admin/stats`.
pub async fn stats(State(state): State<AppState>, _admin: AdminUser) -> ApiResult<ApiJson<Value>> {
    let db = state.db().get().await?;
    let counts = db
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE last_login_at > now() - interval '7 days') FROM users",
            &[],
        )
        .await?;
    let by_state = db
        .query(
            "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state",
            &[],
        )
        .await?;
    let jobs_by_state: serde_json::Map<String, Value> = by_state
        .iter()
        .map(|r| (r.get::<_, String>(0), json!(r.get::<_, i64>(1))))
        .collect();
    let storage_top: Vec<Value> = db
        .query("SELECT id, number, storage_bytes FROM users ORDER BY storage_bytes DESC, number LIMIT 10", &[])
        .await?
        .iter()
        .map(|r| {
            json!({
                "user_id": r.get::<_, Uuid>(0),
                "number": format!("U{:05}", r.get::<_, i64>(1)),
                "storage_bytes": r.get::<_, i64>(2),
            })
        })
        .collect();
    let waiting = db
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'retrying'),
                    count(*) FILTER (WHERE state = 'running'), min(created_at) FILTER (WHERE state = 'queued')
             FROM jobs WHERE finished_at IS NULL",
            &[],
        )
        .await?;
    let queue = json!({
        "queued": waiting.get::<_, i64>(0),
        "retrying": waiting.get::<_, i64>(1),
        "running": waiting.get::<_, i64>(2),
        "oldest_queued_at": waiting.get::<_, Option<chrono::DateTime<chrono::Utc>>>(3),
    });
    let workers = fairlane_shared::workers::live(state.redis()).await?;
    let maintenance =
        fairlane_shared::maintenance::status(&**db, &state.settings().schedules).await?;
    Ok(ApiJson(json!({
        "users_total": counts.get::<_, i64>(0),
        "users_active_7d": counts.get::<_, i64>(1),
        "jobs_by_state": jobs_by_state,
        "queue": queue,
        "workers": workers,
        "storage_top": storage_top,
        "maintenance": maintenance,
    })))
}

async fn set_active(
    state: &AppState,
    meta: &RequestMeta,
    admin: &AdminUser,
    id: Uuid,
    active: bool,
) -> ApiResult<()> {
    let db = state.db().get().await?;
    if !users::set_active(&**db, id, active).await? {
        return Err(ApiError::NotFound);
    }
    let action = if active {
        "admin.user_activate"
    } else {
        "admin.user_deactivate"
    };
    audit::record(
        &**db,
        meta,
        Event::success(id, action).actor(admin.0.user.id),
    )
    .await?;
    if !active {
        sessions::revoke_all(state.redis(), id, None).await?;
        announce(state, id, UserEventKind::Deactivated).await;
    }
    Ok(())
}

/// `POST /admin/users/{id}/deactivate`: sessions and API keys stop working at once.
pub async fn deactivate(
    State(state): State<AppState>,
    meta: RequestMeta,
    admin: AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    set_active(&state, &meta, &admin, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /admin/users/{id}/activate`.
pub async fn activate(
    State(state): State<AppState>,
    meta: RequestMeta,
    admin: AdminUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    set_active(&state, &meta, &admin, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}
