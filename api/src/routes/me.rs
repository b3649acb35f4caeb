//! `/api/v1/me/*`: the signed-in user's own account — profile, password, broker
//! credentials, API keys, TOTP, audit log, data export and deletion.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use fairlane_shared::credentials::{self, BrokerCredentials};
use fairlane_shared::user_events::{self, UserEvent, UserEventKind};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::accounts::audit::{self, Event, Outcome, RequestMeta};
use crate::accounts::auth::AuthUser;
use crate::accounts::{api_keys, password, sessions, totp, users};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::{usage, validate};

/// Tells every process about an account change (best effort: logged when Redis is down).
pub async fn announce(state: &AppState, user_id: Uuid, kind: UserEventKind) {
    if let Err(e) = user_events::publish(state.redis(), UserEvent { user_id, kind }).await {
        tracing::warn!(error = %e, user.id = %user_id, "could not publish the account event");
    }
}

/// `GET /me`.
pub async fn get_me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<ApiJson<Value>> {
    let db = state.db().get().await?;
    let credentials = users::credential_status(&**db, auth.user.id).await?;
    let quotas = auth.user.quotas(state.settings().quotas);
    let usage = usage::of_user(&**db, &auth.user).await?;
    Ok(ApiJson(
        json!({ "user": auth.user.to_json(), "quotas": quotas, "usage": usage, "credentials": credentials }),
    ))
}

/// `PATCH /me` body: absent fields are left alone; `monthly_income: null` clears it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    monthly_income: Option<Option<f64>>,
    currency: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

/// `PATCH /me`.
pub async fn patch_me(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> ApiResult<ApiJson<Value>> {
    let name = patch.name.as_deref().map(validate::name).transpose()?;
    let currency = patch
        .currency
        .as_deref()
        .map(|c| validate::currency(Some(c)))
        .transpose()?;
    let income = match patch.monthly_income {
        Some(value) => Some(validate::income(value)?),
        None => None,
    };
    let db = state.db().get().await?;
    let user = users::update_profile(&**db, auth.user.id, name, income, currency.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ApiJson(json!({ "user": user.to_json() })))
}

/// `PUT /me/password` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: Zeroizing<String>,
    new_password: Zeroizing<String>,
}

/// `PUT /me/password`: needs the current password; revokes every other session.
pub async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    let user = &auth.user;
    let db = state.db().get().await?;
    if !password::verify(body.current_password, Some(user.password_hash.clone())).await? {
        audit::record(
            &**db,
            &meta,
            Event::new(Some(user.id), "account.password_change", Outcome::Failure),
        )
        .await?;
        return Err(ApiError::validation(
            "current_password",
            "current_password is wrong",
        ));
    }
    password::check_policy(&body.new_password, &[&user.email, &user.name])
        .map_err(|e| ApiError::validation("new_password", format!("new_password {}", e.0)))?;
    let phc = password::hash(body.new_password).await?;
    users::set_password(&**db, user.id, &phc).await?;
    let keep = auth.session.as_ref().map(|s| s.sid.as_str());
    let revoked = sessions::revoke_all(state.redis(), user.id, keep).await?;
    let event = Event::success(user.id, "account.password_change")
        .details(json!({ "sessions_revoked": revoked }));
    audit::record(&**db, &meta, event).await?;
    announce(&state, user.id, UserEventKind::SessionsRevoked).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /me/credentials` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    api_key: Zeroizing<String>,
    access_token: Zeroizing<String>,
}

/// `PUT /me/credentials`: sealed at rest, never echoed.
pub async fn put_credentials(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> ApiResult<StatusCode> {
    validate::broker_secret("api_key", &body.api_key)?;
    validate::broker_secret("access_token", &body.access_token)?;
    let secrets = BrokerCredentials {
        api_key: SecretString::from(body.api_key.as_str()),
        access_token: SecretString::from(body.access_token.as_str()),
    };
    let mut db = state.db().get().await?;
    let tx = db.transaction().await?;
    credentials::store(&*tx, &state.settings().keyring, auth.user.id, &secrets).await?;
    audit::record(&*tx, &meta, Event::success(auth.user.id, "credentials.set")).await?;
    tx.commit().await?;
    announce(&state, auth.user.id, UserEventKind::CredentialsChanged).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /me/credentials`.
pub async fn delete_credentials(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
) -> ApiResult<StatusCode> {
    let db = state.db().get().await?;
    db.execute(
        "DELETE FROM broker_credentials WHERE user_id = $1",
        &[&auth.user.id],
    )
    .await?;
    audit::record(
        &**db,
        &meta,
        Event::success(auth.user.id, "credentials.delete"),
    )
    .await?;
    announce(&state, auth.user.id, UserEventKind::CredentialsChanged).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /me/api-keys` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    name: String,
}

/// `POST /me/api-keys`: the key is in this response only.
pub async fn create_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewApiKey>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    let name = validate::label("name", &body.name)?;
    let db = state.db().get().await?;
    let (key, secret) = api_keys::create(&**db, auth.user.id, &name).await?;
    audit::record(
        &**db,
        &meta,
        Event::success(auth.user.id, "api_key.create").target(key.id.to_string()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(
            json!({ "id": key.id, "name": key.name, "key": secret, "created_at": key.created_at }),
        ),
    ))
}

/// `GET /me/api-keys`.
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<ApiJson<Value>> {
    let db = state.db().get().await?;
    Ok(ApiJson(
        json!({ "api_keys": api_keys::list(&**db, auth.user.id).await? }),
    ))
}

/// `DELETE /me/api-keys/{id}`.
pub async fn delete_api_key(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let db = state.db().get().await?;
    if !api_keys::revoke(&**db, auth.user.id, id).await? {
        return Err(ApiError::NotFound);
    }
    audit::record(
        &**db,
        &meta,
        Event::success(auth.user.id, "api_key.revoke").target(id.to_string()),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /me/totp`: starts (or restarts) enrolment; login needs codes only after confirm.
pub async fn start_totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
) -> ApiResult<ApiJson<Value>> {
    if auth.user.totp_enabled {
        return Err(ApiError::Conflict {
            code: "conflict",
            message: "TOTP is already enabled".to_owned(),
        });
    }
    let seed = Zeroizing::new(totp::new_seed());
    let sealed = totp::seal(&state.settings().keyring, auth.user.id, seed.as_slice())?;
    let (secret, otpauth_url) = totp::enrolment(seed.as_slice(), &auth.user.email)?;
    let db = state.db().get().await?;
    db.execute(
        "UPDATE users SET totp_secret = $2, totp_enabled = false, totp_last_step = 0 WHERE id = $1",
        &[&auth.user.id, &sealed],
    )
    .await?;
    audit::record(&**db, &meta, Event::success(auth.user.id, "totp.enrol")).await?;
    Ok(ApiJson(
        json!({ "secret": secret, "otpauth_url": otpauth_url }),
    ))
}

/// Body of the TOTP confirm/disable calls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    code: String,
}

/// `POST /me/totp/confirm`.
pub async fn confirm_totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    let db = state.db().get().await?;
    let ok = totp::accept(
        &**db,
        &state.settings().keyring,
        auth.user.id,
        &auth.user.email,
        &body.code,
    )
    .await?;
    if !ok {
        audit::record(
            &**db,
            &meta,
            Event::new(Some(auth.user.id), "totp.confirm", Outcome::Failure),
        )
        .await?;
        return Err(ApiError::validation(
            "code",
            "the code is wrong, expired or already used",
        ));
    }
    db.execute(
        "UPDATE users SET totp_enabled = true WHERE id = $1",
        &[&auth.user.id],
    )
    .await?;
    audit::record(&**db, &meta, Event::success(auth.user.id, "totp.enable")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /me/totp`: needs a valid code.
pub async fn disable_totp(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiJson(body): ApiJson<TotpCode>,
) -> ApiResult<StatusCode> {
    if !auth.user.totp_enabled {
        return Err(ApiError::Conflict {
            code: "conflict",
            message: "TOTP is not enabled".to_owned(),
        });
    }
    let db = state.db().get().await?;
    let ok = totp::accept(
        &**db,
        &state.settings().keyring,
        auth.user.id,
        &auth.user.email,
        &body.code,
    )
    .await?;
    if !ok {
        audit::record(
            &**db,
            &meta,
            Event::new(Some(auth.user.id), "totp.disable", Outcome::Failure),
        )
        .await?;
        return Err(ApiError::validation(
            "code",
            "the code is wrong, expired or already used",
        ));
    }
    db.execute(
        "UPDATE users SET totp_enabled = false, totp_secret = NULL WHERE id = $1",
        &[&auth.user.id],
    )
    .await?;
    audit::record(&**db, &meta, Event::success(auth.user.id, "totp.disable")).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /me/audit` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
}

/// `GET /me/audit?limit=` (1–1000, default 100).
pub async fn list_audit(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<ApiJson<Value>> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 1000",
        ));
    }
    let db = state.db().get().await?;
    Ok(ApiJson(
        json!({ "events": audit::list(&**db, auth.user.id, limit).await? }),
    ))
}

/// `GET /me/export`: every piece of the user's data, as one JSON document.
pub async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
) -> ApiResult<Response> {
    let db = state.db().get().await?;
    let user = &auth.user;
    let document = json!({
        "exported_at": chrono::Utc::now(),
        "user": user.to_json(),
        "quotas": user.quotas(state.settings().quotas),
        "usage": usage::of_user(&**db, user).await?,
        "credentials": users::credential_status(&**db, user.id).await?,
        "sessions": sessions::list(state.redis(), user.id).await?.iter().map(|s| json!({
            "id": s.sid, "created_at": s.created_at, "last_seen_at": s.last_seen_at,
            "expires_at": s.expires_at, "ip": s.ip, "user_agent": s.user_agent,
        })).collect::<Vec<_>>(),
        "api_keys": api_keys::list(&**db, user.id).await?,
        "audit_events": audit::list(&**db, user.id, i64::MAX).await?,
        "jobs": usage::jobs_export(&**db, user.id).await?,
    });
    audit::record(&**db, &meta, Event::success(user.id, "account.export")).await?;
    let disposition = format!(
        "attachment; filename=\"fairlane-export-{}.json\"",
        user.handle()
    );
    Ok((
        [(axum::http::header::CONTENT_DISPOSITION, disposition)],
        ApiJson(document),
    )
        .into_response())
}

/// `DELETE /me` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccount {
    password: Zeroizing<String>,
}

/// `DELETE /me`: removes the account, its rows, sessions, files and workspace. Only a
/// bare `account.delete` audit event (no IP or user agent) outlives it.
pub async fn delete_me(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    jar: CookieJar,
    ApiJson(body): ApiJson<DeleteAccount>,
) -> ApiResult<Response> {
    let user = &auth.user;
    let mut db = state.db().get().await?;
    if !password::verify(body.password, Some(user.password_hash.clone())).await? {
        audit::record(
            &**db,
            &meta,
            Event::new(Some(user.id), "account.delete", Outcome::Failure),
        )
        .await?;
        return Err(ApiError::validation("password", "password is wrong"));
    }
    let tx = db.transaction().await?;
    tx.execute("DELETE FROM audit_events WHERE user_id = $1", &[&user.id])
        .await?;
    tx.execute("DELETE FROM users WHERE id = $1", &[&user.id])
        .await?;
    audit::record(
        &*tx,
        &RequestMeta::default(),
        Event::success(user.id, "account.delete"),
    )
    .await?;
    tx.commit().await?;
    sessions::revoke_all(state.redis(), user.id, None).await?;
    fairlane_shared::workspace::remove(&state.settings().common.data_dir, user.id)
        .map_err(|e| anyhow::anyhow!("removing the workspace: {e}"))?;
    announce(&state, user.id, UserEventKind::Deleted).await;
    let removal =
        axum_extra::extract::cookie::Cookie::build((crate::accounts::auth::SESSION_COOKIE, ""))
            .path("/")
            .max_age(cookie::time::Duration::ZERO)
            .build();
    Ok((jar.add(removal), StatusCode::NO_CONTENT).into_response())
}
