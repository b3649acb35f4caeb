//! Submission checks that need the database, beyond a kind's param schema (which lives
//! in `fairlane_shared::jobs::kinds`): references to the caller's own files and jobs,
//! stored broker credentials, and per-user quotas. Field names in errors are relative to
//! the job (`params.file_id`); the caller prefixes them for batches.

use fairlane_shared::jobs::NewJob;
use uuid::Uuid;

use crate::accounts::auth::AuthUser;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// Admits a validated job for the caller, or explains why not.
pub async fn admit(state: &AppState, auth: &AuthUser, new: &NewJob) -> ApiResult<()> {
    let params = new.params();
    if !matches!(
        new.kind(),
        "options.process" | "options.filter" | "forecast"
    ) {
        // Nothing to look up: no connection checkout (one round trip each) per job.
        return Ok(());
    }
    let db = state.db().get().await?;
    match new.kind() {
        "options.process" => {
            let symbols = params["symbols"].as_array().map_or(0, Vec::len);
            let quota = auth
                .user
                .quotas(state.settings().quotas)
                .max_symbols_per_job;
            if i64::try_from(symbols).unwrap_or(i64::MAX) > quota {
                return Err(ApiError::validation(
                    "params.symbols",
                    format!("your quota allows at most {quota} symbols per job"),
                ));
            }
            let configured = db
                .query_opt(
                    "SELECT 1 FROM broker_credentials WHERE user_id = $1",
                    &[&auth.user.id],
                )
                .await?
                .is_some();
            if !configured {
                return Err(ApiError::CredentialsRequired);
            }
        }
        "options.filter" => {
            let source = referenced_id(params, "source_job_id")?;
            let row = db
                .query_opt(
                    "SELECT kind, state FROM jobs WHERE id = $1 AND user_id = $2",
                    &[&source, &auth.user.id],
                )
                .await?;
            match row.map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))) {
                Some((kind, state)) if kind == "options.process" && state == "succeeded" => {}
                Some((kind, _)) if kind == "options.process" => {
                    return Err(ApiError::validation(
                        "params.source_job_id",
                        "that job has not succeeded",
                    ));
                }
                _ => {
                    return Err(ApiError::validation(
                        "params.source_job_id",
                        "must be one of your options.process jobs",
                    ));
                }
            }
        }
        "forecast" => {
            let file = referenced_id(params, "file_id")?;
            let row = db
                .query_opt(
                    "SELECT content_type FROM files WHERE id = $1 AND user_id = $2",
                    &[&file, &auth.user.id],
                )
                .await?;
            match row.map(|r| r.get::<_, String>(0)) {
                Some(content_type) if content_type.starts_with("text/") => {}
                Some(_) => {
                    return Err(ApiError::validation(
                        "params.file_id",
                        "the file must be a CSV",
                    ));
                }
                None => {
                    return Err(ApiError::validation(
                        "params.file_id",
                        "must be the id of one of your files",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn referenced_id(params: &serde_json::Value, field: &str) -> ApiResult<Uuid> {
    params[field]
        .as_str()
        .and_then(|id| Uuid::try_parse(id).ok())
        .ok_or_else(|| {
            ApiError::validation(&format!("params.{field}"), format!("{field} must be an id"))
        })
}
