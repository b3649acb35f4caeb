//! What a user currently uses against their quotas, and their jobs for the data export.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::accounts::users::User;

/// `usage` of `GET /me`: `{running_jobs, queued_jobs, storage_bytes}`.
pub async fn of_user(
    client: &impl tokio_postgres::GenericClient,
    user: &User,
) -> Result<Value, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'running'),
                    count(*) FILTER (WHERE state IN ('queued', 'retrying'))
             FROM jobs WHERE user_id = $1 AND finished_at IS NULL",
            &[&user.id],
        )
        .await?;
    Ok(json!({
        "running_jobs": row.get::<_, i64>(0),
        "queued_jobs": row.get::<_, i64>(1),
        "storage_bytes": user.storage_bytes,
    }))
}

/// Every job of the user, oldest first, for `GET /me/export`.
pub async fn jobs_export(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
) -> Result<Vec<Value>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, kind, state, params, created_at, finished_at FROM jobs WHERE user_id = $1 ORDER BY created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<_, Uuid>(0),
                "kind": r.get::<_, String>(1),
                "state": r.get::<_, String>(2),
                "params": r.get::<_, Value>(3),
                "created_at": r.get::<_, chrono::DateTime<chrono::Utc>>(4),
                "finished_at": r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(5),
            })
        })
        .collect())
}
