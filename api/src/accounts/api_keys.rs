//! API keys: long-lived bearer tokens a user creates for scripts. The key is shown once
//! at creation; only its SHA-256 is stored. Revoking deletes the row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::tokens;

/// A key as listed (never the key itself).
#[derive(Debug, Serialize)]
pub struct ApiKey {
    /// Id.
    pub id: Uuid,
    /// The user's label.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Creates a key; returns it with the secret (to show once).
pub async fn create(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
    name: &str,
) -> Result<(ApiKey, String), tokio_postgres::Error> {
    let key = tokens::generate(tokens::API_KEY_PREFIX);
    let row = client
        .query_one(
            "INSERT INTO api_keys (id, user_id, name, key_hash) VALUES ($1, $2, $3, $4) RETURNING id, name, created_at",
            &[&Uuid::now_v7(), &user_id, &name, &tokens::hash_bytes(&key)],
        )
        .await?;
    Ok((
        ApiKey {
            id: row.get(0),
            name: row.get(1),
            created_at: row.get(2),
            last_used_at: None,
        },
        key,
    ))
}

/// The user's keys, newest first.
pub async fn list(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
) -> Result<Vec<ApiKey>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, name, created_at, last_used_at FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ApiKey {
            id: r.get(0),
            name: r.get(1),
            created_at: r.get(2),
            last_used_at: r.get(3),
        })
        .collect())
}

/// Deletes one of the user's keys; `false` when the user has no key by that id.
pub async fn revoke(
    client: &impl tokio_postgres::GenericClient,
    user_id: Uuid,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "DELETE FROM api_keys WHERE id = $1 AND user_id = $2",
            &[&id, &user_id],
        )
        .await?
        == 1)
}

/// The owner of a presented key, marking it used.
pub async fn authenticate(
    client: &impl tokio_postgres::GenericClient,
    key: &str,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE api_keys SET last_used_at = now()
             WHERE key_hash = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
             RETURNING user_id",
            &[&tokens::hash_bytes(key)],
        )
        .await?;
    if let Some(row) = row {
        return Ok(Some(row.get(0)));
    }
    let row = client
        .query_opt(
            "SELECT user_id FROM api_keys WHERE key_hash = $1",
            &[&tokens::hash_bytes(key)],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
