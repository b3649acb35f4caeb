//! Operator commands run by `fairlane-api <command>`: they use the same configuration
//! as the server and exit when done.

use anyhow::Context;

use crate::settings::ApiSettings;

/// `fairlane-api migrate`: applies pending migrations.
pub async fn migrate(settings: &ApiSettings) -> anyhow::Result<()> {
    let pool = fairlane_shared::db::pool(&settings.common.database, "fairlane-api migrate")?;
    fairlane_shared::db::wait_until_reachable(&pool, settings.common.startup_timeout)
        .await
        .context("postgres is not reachable")?;
    let applied = fairlane_shared::db::migrate(&pool).await?;
    tracing::info!(
        applied = applied.len(),
        known = fairlane_shared::db::known_migrations().len(),
        "migrations up to date"
    );
    Ok(())
}
