//! Operator commands run by `fairlane-api <command>`: they use the same configuration
//! as the server and exit when done.

use anyhow::Context;
use fairlane_shared::config::CommonSettings;

use crate::settings::ApiSettings;

/// `fairlane-api migrate`: applies pending migrations.
pub async fn migrate(settings: &CommonSettings) -> anyhow::Result<()> {
    let pool = fairlane_shared::db::pool(&settings.database, "fairlane-api migrate")?;
    fairlane_shared::db::wait_until_reachable(&pool, settings.startup_timeout)
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

/// `fairlane-api create-admin --email E`: promotes a registered user.
pub async fn create_admin(settings: &ApiSettings, email: &str) -> anyhow::Result<()> {
    let email =
        crate::accounts::email::parse(email).map_err(|e| anyhow::anyhow!("email {}", e.0))?;
    let pool = fairlane_shared::db::pool(&settings.common.database, "fairlane-api create-admin")?;
    let client = pool.get().await.context("postgres is not reachable")?;
    if !crate::accounts::users::promote_to_admin(&**client, &email.key).await? {
        anyhow::bail!("no registered user has the email {}", email.display);
    }
    tracing::info!(email = %email.display, "promoted to admin");
    Ok(())
}

/// `fairlane-api rotate-keys`: re-seals every credential and TOTP seed still on an old
/// key with the primary key, in committed batches, so an interrupted run resumes where
/// it stopped. Afterwards old keys can be removed from the keyring.
pub async fn rotate_keys(settings: &ApiSettings, batch: i64) -> anyhow::Result<()> {
    let pool = fairlane_shared::db::pool(&settings.common.database, "fairlane-api rotate-keys")?;
    let mut client = pool.get().await.context("postgres is not reachable")?;
    let ring = &settings.keyring;
    let mut credentials = 0;
    loop {
        let done = fairlane_shared::credentials::rotate_batch(&mut client, ring, batch).await?;
        credentials += done;
        if done == 0 {
            break;
        }
        tracing::info!(rows = done, "re-sealed a batch of credentials");
    }
    let mut seeds = 0;
    loop {
        let done = crate::accounts::totp::rotate_batch(&mut client, ring, batch).await?;
        seeds += done;
        if done == 0 {
            break;
        }
    }
    tracing::info!(
        primary_key = ring.primary(),
        credentials,
        totp_seeds = seeds,
        "key rotation complete"
    );
    Ok(())
}
