//! `/api/v1/auth/*`: register, login, logout, and the user's sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::accounts::audit::{self, Event, Outcome, RequestMeta};
use crate::accounts::auth::{AuthUser, SESSION_COOKIE, Via};
use crate::accounts::rate_limit::{self, FailureWindow};
use crate::accounts::users::{self, NewUser};
use crate::accounts::{email, password, sessions, totp};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::validate;

/// `POST /auth/register` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    password: Zeroizing<String>,
    name: String,
    monthly_income: Option<f64>,
    currency: Option<String>,
}

/// `POST /auth/register`.
pub async fn register(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, ApiJson<Value>)> {
    let email = email::parse(&body.email)
        .map_err(|e| ApiError::validation("email", format!("email {}", e.0)))?;
    let name = validate::name(&body.name)?;
    let currency = validate::currency(body.currency.as_deref())?;
    let monthly_income = validate::income(body.monthly_income)?;
    password::check_policy(&body.password, &[&email.display, name])
        .map_err(|e| ApiError::validation("password", format!("password {}", e.0)))?;
    let phc = password::hash(body.password).await?;

    let mut db = state.db().get().await?;
    let tx = db.transaction().await?;
    let new = NewUser {
        email: &email.display,
        email_key: &email.key,
        name,
        password_hash: &phc,
        monthly_income,
        currency: &currency,
    };
    let Some(user) = users::insert(&tx, &new).await? else {
        return Err(ApiError::Conflict {
            code: "email_taken",
            message: "an account with this email exists".to_owned(),
        });
    };
    fairlane_shared::workspace::create(&state.settings().common.data_dir, user.id)
        .map_err(|e| anyhow::anyhow!("creating the workspace: {e}"))?;
    audit::record(&*tx, &meta, Event::success(user.id, "account.register")).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(json!({ "user": user.to_json() })),
    ))
}

/// `POST /auth/login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: Zeroizing<String>,
    totp_code: Option<String>,
}

fn too_many(retry_after: std::time::Duration) -> ApiError {
    ApiError::RateLimited { retry_after }
}

/// `POST /auth/login`: same 401 for an unknown email and a wrong password, in the same
/// time; a new session (and cookie) on success, never reusing a presented one.
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let limits = state.settings().limits;
    let window = |limit| FailureWindow {
        limit,
        window: limits.login_failure_window,
    };
    let email_key = email::parse(&body.email)
        .map(|e| e.key)
        .unwrap_or_else(|_| body.email.trim().to_lowercase());
    let account_key = format!(
        "login:account:{}",
        crate::accounts::tokens::hash_hex(&email_key)
    );
    let ip_key = format!("login:ip:{}", meta.ip_text());
    let redis = state.redis();
    let unavailable = |e: redis::RedisError| ApiError::Unavailable {
        message: "login is unavailable".to_owned(),
        details: json!({ "redis": e.to_string() }),
    };
    for (key, limit) in [
        (&account_key, limits.login_failures_per_account),
        (&ip_key, limits.login_failures_per_ip),
    ] {
        if let Some(retry_after) = rate_limit::failures_exceeded(redis, key, window(limit))
            .await
            .map_err(unavailable)?
        {
            let db = state.db().get().await?;
            let event = Event::new(None, "auth.login", Outcome::Denied)
                .details(json!({ "reason": "rate_limited" }));
            audit::record(&**db, &meta, event).await?;
            return Err(too_many(retry_after));
        }
    }

    let db = state.db().get().await?;
    let user = users::by_email_key(&**db, &email_key).await?;
    let verified = password::verify(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let failure = LoginFailure {
        redis,
        limits,
        account_key: &account_key,
        ip_key: &ip_key,
        meta: &meta,
    };
    let known_id = user.as_ref().map(|u| u.id);
    let Some(user) = user.filter(|_| verified) else {
        return Err(failure
            .record(&**db, known_id, "bad_email_or_password")
            .await);
    };
    if !user.active {
        let event = Event::new(Some(user.id), "auth.login", Outcome::Denied)
            .details(json!({ "reason": "deactivated" }));
        audit::record(&**db, &meta, event).await?;
        return Err(ApiError::Forbidden(
            "this account is deactivated".to_owned(),
        ));
    }
    if user.totp_enabled {
        let Some(code) = body.totp_code.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(ApiError::TotpRequired);
        };
        if !totp::accept(&**db, &state.settings().keyring, user.id, &user.email, code).await? {
            return Err(failure.record(&**db, Some(user.id), "bad_totp_code").await);
        }
    }

    let created = sessions::create(
        redis,
        &state.settings().sessions,
        user.id,
        &meta.ip_text(),
        &meta.user_agent,
    )
    .await
    .map_err(unavailable)?;
    rate_limit::clear_failures(redis, &account_key)
        .await
        .map_err(unavailable)?;
    users::touch_login(&**db, user.id).await?;
    audit::record(
        &**db,
        &meta,
        Event::success(user.id, "auth.login").target(created.session.sid.clone()),
    )
    .await?;

    let cookie = Cookie::build((SESSION_COOKIE, created.token.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings().cookie_secure)
        .path("/")
        .max_age(time_duration(sessions::remaining(&created.session)))
        .build();
    let body = json!({
        "token": created.token,
        "csrf_token": created.csrf_token,
        "expires_at": created.session.expires_at,
        "user": user.to_json(),
    });
    Ok((jar.add(cookie), ApiJson(body)).into_response())
}

/// What a failed login must update: the failure counters and the audit log.
struct LoginFailure<'a> {
    redis: &'a fairlane_shared::redis_conn::Redis,
    limits: crate::settings::LimitSettings,
    account_key: &'a str,
    ip_key: &'a str,
    meta: &'a RequestMeta,
}

impl LoginFailure<'_> {
    /// Counts the failure and audits it; returns the error to answer.
    async fn record(
        &self,
        db: &impl tokio_postgres::GenericClient,
        user_id: Option<uuid::Uuid>,
        reason: &str,
    ) -> ApiError {
        let window = |limit| FailureWindow {
            limit,
            window: self.limits.login_failure_window,
        };
        for (key, limit) in [
            (self.account_key, self.limits.login_failures_per_account),
            (self.ip_key, self.limits.login_failures_per_ip),
        ] {
            if let Err(e) = rate_limit::record_failure(self.redis, key, window(limit)).await {
                return ApiError::Unavailable {
                    message: "login is unavailable".to_owned(),
                    details: json!({ "redis": e.to_string() }),
                };
            }
        }
        let event = Event::new(user_id, "auth.login", Outcome::Failure)
            .details(json!({ "reason": reason }));
        match audit::record(db, self.meta, event).await {
            Ok(()) => ApiError::InvalidCredentials,
            Err(e) => e.into(),
        }
    }
}

fn time_duration(d: std::time::Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn removal_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .max_age(time_duration(std::time::Duration::ZERO))
        .build()
}

/// `POST /auth/logout`: ends the session that made the request.
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    jar: CookieJar,
) -> ApiResult<Response> {
    let session = auth.session.ok_or_else(|| {
        ApiError::BadRequest(
            "API keys have no session; revoke the key with DELETE /api/v1/me/api-keys/{id}"
                .to_owned(),
        )
    })?;
    sessions::revoke(state.redis(), auth.user.id, &session.sid).await?;
    let db = state.db().get().await?;
    audit::record(
        &**db,
        &meta,
        Event::success(auth.user.id, "auth.logout").target(session.sid),
    )
    .await?;
    Ok((jar.add(removal_cookie()), StatusCode::NO_CONTENT).into_response())
}

/// `GET /auth/sessions`.
pub async fn list_sessions(
    State(state): State<AppState>,
    auth: AuthUser,
) -> ApiResult<ApiJson<Value>> {
    let current = auth.session.as_ref().map(|s| s.sid.as_str());
    let sessions = sessions::list(state.redis(), auth.user.id).await?;
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.sid,
                "created_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "expires_at": s.expires_at,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "current": Some(s.sid.as_str()) == current,
            })
        })
        .collect();
    Ok(ApiJson(json!({ "sessions": sessions })))
}

/// `DELETE /auth/sessions/{id}`.
pub async fn revoke_session(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    ApiPath(sid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if sid.len() != 32 || !sessions::revoke(state.redis(), auth.user.id, &sid).await? {
        return Err(ApiError::NotFound);
    }
    let db = state.db().get().await?;
    audit::record(
        &**db,
        &meta,
        Event::success(auth.user.id, "session.revoke").target(sid),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /auth/sessions`: every session of the user, this one too.
pub async fn revoke_all_sessions(
    State(state): State<AppState>,
    meta: RequestMeta,
    auth: AuthUser,
    jar: CookieJar,
) -> ApiResult<Response> {
    let revoked = sessions::revoke_all(state.redis(), auth.user.id, None).await?;
    let db = state.db().get().await?;
    let event =
        Event::success(auth.user.id, "session.revoke_all").details(json!({ "revoked": revoked }));
    audit::record(&**db, &meta, event).await?;
    crate::routes::me::announce(
        &state,
        auth.user.id,
        fairlane_shared::user_events::UserEventKind::SessionsRevoked,
    )
    .await;
    let jar = if auth.via == Via::Cookie {
        jar.add(removal_cookie())
    } else {
        jar
    };
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}
