//! Submission checks that need the database, beyond a kind's param schema (which lives
//! in `fairlane_shared::jobs::kinds`): references to the caller's own files and jobs,
//! stored broker credentials, and per-kind quotas.

use fairlane_shared::jobs::NewJob;

use crate::accounts::auth::AuthUser;
use crate::app::AppState;
use crate::error::ApiResult;

/// Admits a validated job for the caller, or explains why not. The diagnostic kinds
/// reference nothing and need no check.
pub async fn admit(_state: &AppState, _auth: &AuthUser, _new: &NewJob) -> ApiResult<()> {
    Ok(())
}
