//! The `files` table, always scoped by the owner, and the `file` JSON object of API.md.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// One stored file.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    /// Id (also the on-disk name).
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// `upload` or `result`.
    pub kind: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Media type we determined (not the client's claim).
    pub content_type: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The job that produced a result file.
    pub job_id: Option<Uuid>,
    /// Workspace area (not serialised).
    #[serde(skip)]
    pub area: String,
}

const COLUMNS: &str = "id, name, kind, size_bytes, sha256, content_type, created_at, job_id, area";

fn from_row(row: &tokio_postgres::Row) -> FileRecord {
    FileRecord {
        id: row.get(0),
        name: row.get(1),
        kind: row.get(2),
        size_bytes: row.get(3),
        sha256: row.get(4),
        content_type: row.get(5),
        created_at: row.get(6),
        job_id: row.get(7),
        area: row.get(8),
    }
}

impl FileRecord {
    /// Where the bytes are.
    pub fn path(&self, data_dir: &Path, user_id: Uuid) -> PathBuf {
        fairlane_shared::workspace::user_root(data_dir, user_id)
            .join(&self.area)
            .join(self.id.to_string())
    }
}

/// A new upload's row (the bytes are already in place).
#[derive(Debug)]
pub struct NewUpload<'a> {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: &'a str,
    /// Size.
    pub size_bytes: i64,
    /// SHA-256 hex.
    pub sha256: &'a str,
    /// Media type.
    pub content_type: &'a str,
}

/// Charges `size` bytes to the user's storage if it stays within `max`; false otherwise.
pub async fn charge_storage(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
    size: i64,
    max: i64,
) -> Result<bool, tokio_postgres::Error> {
    let charged = client
        .execute(
            "UPDATE users SET storage_bytes = storage_bytes + $2 WHERE id = $1 AND storage_bytes + $2 <= $3",
            &[&user_id, &size, &max],
        )
        .await?;
    Ok(charged == 1)
}

/// Inserts an upload's row.
pub async fn insert_upload(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
    new: &NewUpload<'_>,
) -> Result<FileRecord, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO files (id, user_id, kind, area, name, size_bytes, sha256, content_type)
                 VALUES ($1, $2, 'upload', 'uploads', $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[
                &new.id,
                &user_id,
                &new.name,
                &new.size_bytes,
                &new.sha256,
                &new.content_type,
            ],
        )
        .await?;
    Ok(from_row(&row))
}

/// The user's files, newest first.
pub async fn list(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
) -> Result<Vec<FileRecord>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM files WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
            ),
            &[&user_id],
        )
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// One of the user's files.
pub async fn get(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<FileRecord>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM files WHERE id = $1 AND user_id = $2"),
            &[&id, &user_id],
        )
        .await?;
    Ok(row.as_ref().map(from_row))
}

/// Deletes one of the user's files' row and refunds its storage; returns the deleted row.
pub async fn delete(
    tx: &tokio_postgres::Transaction<'_>,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<FileRecord>, tokio_postgres::Error> {
    let row = tx
        .query_opt(
            &format!("DELETE FROM files WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"),
            &[&id, &user_id],
        )
        .await?;
    let Some(record) = row.as_ref().map(from_row) else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE users SET storage_bytes = GREATEST(storage_bytes - $2, 0) WHERE id = $1",
        &[&user_id, &record.size_bytes],
    )
    .await?;
    Ok(Some(record))
}
