//! `/api/v1/jobs*`: submit (one or a batch), list, read, cancel, and stream a job's
//! changes as server-sent events. Always the caller's own jobs.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use fairlane_shared::jobs::{self, CancelOutcome, Inserted, Job, JobError, JobState, NewJob};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::audit::{self, RequestMeta};
use crate::accounts::auth::AuthUser;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::jobs_admission;

/// Most jobs in one batch.
pub const MAX_BATCH: usize = 1000;

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::QuotaExceeded { queued, limit } => ApiError::QuotaExceeded(format!(
                "you have {queued} jobs waiting; the limit is {limit}"
            )),
            JobError::InvalidCursor => {
                ApiError::validation("cursor", "cursor is not one this API returned")
            }
            JobError::UnknownUser => ApiError::Unauthorized,
            other => ApiError::Internal(other.into()),
        }
    }
}

/// One job to submit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    kind: String,
    #[serde(default = "empty_object")]
    params: Value,
    idempotency_key: Option<String>,
}

fn empty_object() -> Value {
    json!({})
}

async fn validated(
    state: &AppState,
    auth: &AuthUser,
    request: JobRequest,
    prefix: &str,
) -> ApiResult<NewJob> {
    let diagnostics = state.settings().jobs.diagnostic_jobs;
    let new = NewJob::validate(
        &request.kind,
        request.params,
        request.idempotency_key,
        diagnostics,
    )
    .map_err(|e| {
        ApiError::validation(
            &format!("{prefix}{}", e.field),
            format!("{prefix}{}: {}", e.field, e.message),
        )
    })?;
    jobs_admission::admit(state, auth, &new)
        .await
        .map_err(|e| match e {
            ApiError::Validation { message, details } => {
                let field = details["field"].as_str().unwrap_or("").to_owned();
                ApiError::Validation {
                    message,
                    details: json!({ "field": format!("{prefix}{field}") }),
                }
            }
            other => other,
        })?;
    Ok(new)
}

async fn submit(
    state: &AppState,
    meta: &RequestMeta,
    auth: &AuthUser,
    new_jobs: Vec<NewJob>,
) -> ApiResult<Vec<Inserted>> {
    let mut db = state.db().get().await?;
    let tx = db.transaction().await?;
    let inserted = jobs::insert(&tx, auth.user.id, &new_jobs, &state.settings().jobs).await?;
    let events: Vec<audit::Event<'_>> = inserted
        .iter()
        .filter(|i| i.created)
        .map(|job| {
            audit::Event::success(auth.user.id, "job.submit")
                .target(job.job.id.to_string())
                .details(json!({ "kind": job.job.kind }))
        })
        .collect();
    audit::record_many(&tx, meta, &events).await?;
    tx.commit().await?;
    if let Err(e) = jobs::publish(state.redis(), &inserted).await {
        // The jobs are committed; the reconciler publishes them once Redis is back.
        tracing::warn!(error = %e, "publishing submitted jobs failed; the reconciler will retry");
    }
    Ok(inserted)
}

async fn with_waiting(state: &AppState, mut job: Job) -> Job {
    match jobs::waiting(state.redis(), &job, state.settings().jobs.max_running_jobs).await {
        Ok(waiting) => job.waiting = waiting,
        Err(e) => tracing::warn!(error = %e, job.id = %job.id, "cannot compute why the job waits"),
    }
    job
}

/// `POST /jobs`: 202 with a new job; 200 with the existing one for a repeated
/// idempotency key (body field or `Idempotency-Key` header).
pub async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<JobRequest>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    if request.idempotency_key.is_none()
        && let Some(header) = headers.get("idempotency-key")
    {
        let key = header
            .to_str()
            .map_err(|_| ApiError::validation("idempotency_key", "must be visible ASCII"))?;
        request.idempotency_key = Some(key.to_owned());
    }
    let new = validated(&state, &auth, request, "").await?;
    let inserted = submit(&state, &meta, &auth, vec![new]).await?.remove(0);
    let status = if inserted.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let job = with_waiting(&state, inserted.job).await;
    Ok((status, ApiJson(json!({ "job": job }))))
}

/// `POST /jobs/batch` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    jobs: Vec<JobRequest>,
}

/// `POST /jobs/batch`: all or nothing; a bad job answers 422 naming `jobs[i].<field>`.
pub async fn create_batch(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiJson(batch): ApiJson<BatchRequest>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    if batch.jobs.is_empty() || batch.jobs.len() > MAX_BATCH {
        return Err(ApiError::validation(
            "jobs",
            format!("jobs must hold 1 to {MAX_BATCH} jobs"),
        ));
    }
    let mut new_jobs = Vec::with_capacity(batch.jobs.len());
    for (index, request) in batch.jobs.into_iter().enumerate() {
        new_jobs.push(validated(&state, &auth, request, &format!("jobs[{index}].")).await?);
    }
    let inserted = submit(&state, &meta, &auth, new_jobs).await?;
    let jobs: Vec<Job> = inserted.into_iter().map(|i| i.job).collect();
    Ok((StatusCode::ACCEPTED, ApiJson(json!({ "jobs": jobs }))))
}

/// `GET /jobs` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /jobs?state=&kind=&limit=&cursor=`: newest first.
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<ApiJson<Value>> {
    let job_state = match query.state.as_deref() {
        None | Some("") => None,
        Some(name) => Some(JobState::parse(name).ok_or_else(|| {
            ApiError::validation(
                "state",
                "state must be queued, running, retrying, succeeded, failed or cancelled",
            )
        })?),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=jobs::query::MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {}", jobs::query::MAX_PAGE),
        ));
    }
    let kind = query.kind.as_deref().filter(|k| !k.is_empty());
    let (found, next_cursor) = jobs::list(
        state.db(),
        auth.user.id,
        job_state,
        kind,
        limit,
        query.cursor.as_deref(),
    )
    .await?;
    let mut listed = Vec::with_capacity(found.len());
    for job in found {
        listed.push(with_waiting(&state, job).await);
    }
    Ok(ApiJson(
        json!({ "jobs": listed, "next_cursor": next_cursor }),
    ))
}

/// `GET /jobs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Value>> {
    let job = jobs::get(state.db(), auth.user.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ApiJson(json!({ "job": with_waiting(&state, job).await })))
}

/// `POST /jobs/{id}/cancel`: 202; a finished job is 409.
pub async fn cancel(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    let job = match jobs::request_cancel(state.db(), state.redis(), auth.user.id, id).await? {
        CancelOutcome::Cancelled(job) | CancelOutcome::Requested(job) => job,
        CancelOutcome::AlreadyFinished(job) => {
            return Err(ApiError::Conflict {
                code: "conflict",
                message: format!("the job already finished ({})", job.state.as_str()),
            });
        }
        CancelOutcome::NotFound => return Err(ApiError::NotFound),
    };
    let db = state.db().get().await?;
    audit::record(
        &**db,
        &meta,
        audit::Event::success(auth.user.id, "job.cancel").target(id.to_string()),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, ApiJson(json!({ "job": job }))))
}

/// How often an event stream re-reads the job even without a change notice.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// `GET /jobs/{id}/events`: one `job` event per change (the unwrapped job object),
/// starting with the current snapshot; the stream closes after a terminal state.
pub async fn events(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Subscribe before the first read, so no change between them is missed.
    let mut notices = state.job_events().subscribe();
    let first = jobs::get(state.db(), auth.user.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let user_id = auth.user.id;
    let mut shutdown = state.shutdown();
    let stream = async_stream::stream! {
        let mut last: Option<Value> = None;
        let mut current = Some(first);
        loop {
            if let Some(job) = current.take() {
                let job = with_waiting(&state, job).await;
                let terminal = job.state.is_terminal();
                let value = serde_json::to_value(&job).unwrap_or_default();
                if last.as_ref() != Some(&value) {
                    yield Ok(Event::default().event("job").data(value.to_string()));
                    last = Some(value);
                }
                if terminal {
                    break;
                }
            }
            tokio::select! {
                notice = notices.recv() => match notice {
                    Ok(event) if event.job_id != id || event.user_id != user_id => continue,
                    _ => {}
                },
                () = tokio::time::sleep(POLL_EVERY) => {}
                _ = shutdown.changed() => break,
            }
            match jobs::get(state.db(), user_id, id).await {
                Ok(Some(job)) => current = Some(job),
                Ok(None) => break,
                Err(e) => tracing::warn!(error = %e, job.id = %id, "event stream cannot read the job"),
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
