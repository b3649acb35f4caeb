//! `/api/v1/files*`: upload, list, metadata, download and delete — always the caller's
//! own files; another user's file id answers 404.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::audit::{self, Event, RequestMeta};
use crate::accounts::auth::AuthUser;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::files::naming;
use crate::files::store::{self, NewUpload};
use crate::files::upload::{self, Limits, RemoveOnDrop, UploadError};

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge(_) => ApiError::PayloadTooLarge,
            UploadError::QuotaExceeded => ApiError::QuotaExceeded(e.to_string()),
            UploadError::MissingField | UploadError::Empty | UploadError::BadContent(_) => {
                ApiError::validation("file", e.to_string())
            }
            UploadError::UnsupportedType => ApiError::UnsupportedMediaType(e.to_string()),
            UploadError::Malformed(_) => ApiError::BadRequest(e.to_string()),
            UploadError::Io(io) => ApiError::Internal(io.into()),
        }
    }
}

/// `POST /files` (multipart/form-data, field `file`).
pub async fn upload(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    let mut multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType("expected `Content-Type: multipart/form-data`".to_owned())
    })?;
    let user = &auth.user;
    let quotas = user.quotas(state.settings().quotas);
    let data_dir = &state.settings().common.data_dir;
    let workspace =
        fairlane_shared::workspace::create(data_dir, user.id).map_err(anyhow::Error::from)?;
    let limits = Limits {
        max_bytes: u64::try_from(quotas.max_upload_bytes).unwrap_or(0),
        remaining_quota: u64::try_from(quotas.max_storage_bytes - user.storage_bytes).unwrap_or(0),
    };
    let received = upload::receive(&mut multipart, &workspace, limits).await?;
    let stored = RemoveOnDrop::new(received.path.clone());
    let size = i64::try_from(received.size).map_err(anyhow::Error::from)?;

    let mut db = state.db().get().await?;
    let tx = db.transaction().await?;
    if !store::charge_storage(&*tx, user.id, size, quotas.max_storage_bytes).await? {
        return Err(ApiError::QuotaExceeded(
            "the file does not fit in your remaining storage quota".to_owned(),
        ));
    }
    let new = NewUpload {
        id: received.id,
        name: &received.name,
        size_bytes: size,
        sha256: &received.sha256,
        content_type: received.content_type,
    };
    let record = store::insert_upload(&*tx, user.id, &new).await?;
    let event = Event::success(user.id, "file.upload")
        .target(record.id.to_string())
        .details(json!({ "size_bytes": size, "sha256": record.sha256 }));
    audit::record(&*tx, &meta, event).await?;
    tx.commit().await?;
    stored.disarm();
    Ok((StatusCode::CREATED, ApiJson(json!({ "file": record }))))
}

/// `GET /files`.
pub async fn list(State(state): State<AppState>, auth: AuthUser) -> ApiResult<ApiJson<Value>> {
    let db = state.db().get().await?;
    Ok(ApiJson(
        json!({ "files": store::list(&**db, auth.user.id).await? }),
    ))
}

/// `GET /files/{id}`.
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<ApiJson<Value>> {
    let db = state.db().get().await?;
    let record = store::get(&**db, auth.user.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ApiJson(json!({ "file": record })))
}

/// `GET /files/{id}/content`: the bytes, as an attachment that browsers will not render.
pub async fn content(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let db = state.db().get().await?;
    let record = store::get(&**db, auth.user.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let path = record.path(&state.settings().common.data_dir, auth.user.id);
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(file.id = %id, error = %e, "a registered file is missing on disk");
        ApiError::NotFound
    })?;
    audit::record(
        &**db,
        &meta,
        Event::success(auth.user.id, "file.download").target(id.to_string()),
    )
    .await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, record.content_type.clone()),
            (header::CONTENT_LENGTH, record.size_bytes.to_string()),
            (
                header::CONTENT_DISPOSITION,
                naming::content_disposition(&record.name),
            ),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
        ],
        body,
    )
        .into_response())
}

/// `DELETE /files/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let mut db = state.db().get().await?;
    let tx = db.transaction().await?;
    let record = store::delete(&tx, auth.user.id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit::record(
        &*tx,
        &meta,
        Event::success(auth.user.id, "file.delete").target(id.to_string()),
    )
    .await?;
    tx.commit().await?;
    let path = record.path(&state.settings().common.data_dir, auth.user.id);
    if let Err(e) = tokio::fs::remove_file(&path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file.id = %id, error = %e, "could not remove a deleted file's bytes");
    }
    Ok(StatusCode::NO_CONTENT)
}
