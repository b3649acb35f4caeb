//! The `users` table: reading, creating and changing accounts, and the `user` JSON
//! object of `API.md`. Every function takes the user id it acts on; nothing here reads
//! another user's row on a client's behalf.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_postgres::Row;
use uuid::Uuid;

use fairlane_shared::quotas::Quotas;

const COLUMNS: &str = "id, number, email, name, monthly_income::float8, currency, role, active, totp_enabled,
    created_at, password_hash, max_running_jobs, max_queued_jobs, max_storage_bytes, storage_bytes, email_key";

/// One account.
#[derive(Debug, Clone)]
pub struct User {
    /// Opaque id.
    pub id: Uuid,
    /// Registration order (1, 2, ...).
    pub number: i64,
    /// Display address.
    pub email: String,
    /// Canonical address key.
    pub email_key: String,
    /// Name.
    pub name: String,
    /// Monthly income.
    pub monthly_income: Option<f64>,
    /// ISO 4217 code.
    pub currency: String,
    /// `user` or `admin`.
    pub role: String,
    /// False once an admin deactivates the account.
    pub active: bool,
    /// Whether login needs a TOTP code.
    pub totp_enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// PHC string.
    pub password_hash: String,
    /// Quota overrides.
    pub max_running_jobs: Option<i32>,
    /// Quota overrides.
    pub max_queued_jobs: Option<i32>,
    /// Quota overrides.
    pub max_storage_bytes: Option<i64>,
    /// Bytes stored.
    pub storage_bytes: i64,
}

impl User {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            number: row.get(1),
            email: row.get(2),
            name: row.get(3),
            monthly_income: row.get(4),
            currency: row.get(5),
            role: row.get(6),
            active: row.get(7),
            totp_enabled: row.get(8),
            created_at: row.get(9),
            password_hash: row.get(10),
            max_running_jobs: row.get(11),
            max_queued_jobs: row.get(12),
            max_storage_bytes: row.get(13),
            storage_bytes: row.get(14),
            email_key: row.get(15),
        }
    }

    /// `U00001`-style handle.
    pub fn handle(&self) -> String {
        format!("U{:05}", self.number)
    }

    /// Whether the account is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    /// The quotas that apply to this user.
    pub fn quotas(&self, defaults: Quotas) -> Quotas {
        defaults.with_overrides(
            self.max_running_jobs,
            self.max_queued_jobs,
            self.max_storage_bytes,
        )
    }

    /// The `user` object of `API.md`.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "number": self.handle(),
            "email": self.email,
            "name": self.name,
            "monthly_income": self.monthly_income,
            "currency": self.currency,
            "role": self.role,
            "totp_enabled": self.totp_enabled,
            "created_at": self.created_at,
        })
    }
}

/// Fields of a new account (already validated).
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Display address.
    pub email: &'a str,
    /// Canonical key.
    pub email_key: &'a str,
    /// Name.
    pub name: &'a str,
    /// PHC string.
    pub password_hash: &'a str,
    /// Monthly income.
    pub monthly_income: Option<f64>,
    /// Currency.
    pub currency: &'a str,
}

/// Inserts an account with the next handle number. `None` when the email is taken (the
/// caller rolls back, so the number is not consumed).
pub async fn insert(
    tx: &tokio_postgres::Transaction<'_>,
    new: &NewUser<'_>,
) -> Result<Option<User>, tokio_postgres::Error> {
    let number: i64 = tx
        .query_one(
            "UPDATE counters SET value = value + 1 WHERE name = 'user_number' RETURNING value",
            &[],
        )
        .await?
        .get(0);
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO users (id, number, email, email_key, name, password_hash, monthly_income, currency)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::float8::numeric(18,2), $8)
                 ON CONFLICT (email_key) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &number,
                &new.email,
                &new.email_key,
                &new.name,
                &new.password_hash,
                &new.monthly_income,
                &new.currency,
            ],
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

/// The account with this id.
pub async fn by_id(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
) -> Result<Option<User>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

/// The account with this canonical email key.
pub async fn by_email_key(
    client: &impl tokio_postgres::GenericClient,
    key: &str,
) -> Result<Option<User>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE email_key = $1"),
            &[&key],
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

/// Changes the profile fields that are `Some`.
pub async fn update_profile(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
    name: Option<&str>,
    monthly_income: Option<Option<f64>>,
    currency: Option<&str>,
) -> Result<Option<User>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE users SET
                    name = COALESCE($2, name),
                    monthly_income = CASE WHEN $3 THEN $4::float8::numeric(18,2) ELSE monthly_income END,
                    currency = COALESCE($5, currency),
                    updated_at = now()
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &name, &monthly_income.is_some(), &monthly_income.flatten(), &currency],
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

/// Replaces the password hash.
pub async fn set_password(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
    phc: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            &[&id, &phc],
        )
        .await?;
    Ok(())
}

/// Records a successful login.
pub async fn touch_login(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE users SET last_login_at = now() WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Sets `active`; `false` when there is no such user.
pub async fn set_active(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
    active: bool,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE users SET active = $2, updated_at = now() WHERE id = $1",
            &[&id, &active],
        )
        .await?
        == 1)
}

/// Promotes the account with this email key to admin; `false` when there is none.
pub async fn promote_to_admin(
    client: &impl tokio_postgres::GenericClient,
    key: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE users SET role = 'admin', updated_at = now() WHERE email_key = $1",
            &[&key],
        )
        .await?
        == 1)
}

/// Whether the user has stored broker credentials, and when they changed.
#[derive(Debug, Serialize)]
pub struct CredentialStatus {
    /// Stored or not.
    pub configured: bool,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The credential status of a user.
pub async fn credential_status(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
) -> Result<CredentialStatus, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT updated_at FROM broker_credentials WHERE user_id = $1",
            &[&id],
        )
        .await?;
    Ok(CredentialStatus {
        configured: row.is_some(),
        updated_at: row.map(|r| r.get(0)),
    })
}
