//! Authentication of every request: the [`AuthUser`] extractor (and [`AdminUser`]).
//!
//! A request is authenticated by `Authorization: Bearer <token>` (a session token or an
//! API key) or by the `fairlane_session` cookie. Cookie-authenticated requests that
//! change state must carry `X-CSRF-Token` matching their session. The account must be
//! active. Each authenticated request counts against the user's rate limit. Tokens in
//! query strings are never read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum_extra::extract::cookie::CookieJar;
use fairlane_shared::redis_conn::Redis;

use super::rate_limit::{self, Verdict};
use super::sessions::{self, Session};
use super::users::{self, User};
use super::{api_keys, tokens};
use crate::app::AppState;
use crate::error::ApiError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "fairlane_session";
/// Header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Bearer session token.
    BearerSession,
    /// Session cookie.
    Cookie,
    /// Bearer API key.
    ApiKey,
}

/// The authenticated, active user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The account.
    pub user: User,
    /// The session, unless authenticated by API key.
    pub session: Option<Session>,
    /// How.
    pub via: Via,
}

fn unavailable(e: &redis::RedisError) -> ApiError {
    ApiError::Unavailable {
        message: "sessions are unavailable".to_owned(),
        details: serde_json::json!({ "redis": e.to_string() }),
    }
}

fn presented_token(parts: &Parts) -> Result<Option<(String, bool)>, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| ApiError::Unauthorized)?;
        let token = text
            .strip_prefix("Bearer ")
            .ok_or(ApiError::Unauthorized)?
            .trim();
        return Ok(Some((token.to_owned(), false)));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    Ok(jar
        .get(SESSION_COOKIE)
        .map(|c| (c.value().to_owned(), true)))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, from_cookie) = presented_token(parts)?.ok_or(ApiError::Unauthorized)?;
        if !tokens::well_formed(&token) {
            return Err(ApiError::Unauthorized);
        }
        let db = state.db().get().await?;
        let (user_id, session, via) = if token.starts_with(tokens::API_KEY_PREFIX) {
            if from_cookie {
                return Err(ApiError::Unauthorized);
            }
            let user_id = api_keys::authenticate(&**db, &token)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            (user_id, None, Via::ApiKey)
        } else {
            let session = sessions::touch(state.redis(), &state.settings().sessions, &token)
                .await
                .map_err(|e| unavailable(&e))?
                .ok_or(ApiError::Unauthorized)?;
            let via = if from_cookie {
                Via::Cookie
            } else {
                Via::BearerSession
            };
            (session.user_id, Some(session), via)
        };
        if via == Via::Cookie && changes_state(&parts.method) {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let expected = session.as_ref().map(|s| s.csrf_hash.as_str()).unwrap_or("");
            if presented.is_empty() || !tokens::equal(&tokens::hash_hex(presented), expected) {
                return Err(ApiError::Forbidden(
                    "missing or invalid X-CSRF-Token header".to_owned(),
                ));
            }
        }
        let user = users::by_id(&**db, user_id)
            .await?
            .filter(|u| u.active)
            .ok_or(ApiError::Unauthorized)?;
        enforce_request_limit(
            state.redis(),
            &user,
            state.settings().limits.requests_per_minute,
        )
        .await?;
        Ok(Self { user, session, via })
    }
}

async fn enforce_request_limit(
    redis: &Redis,
    user: &User,
    per_minute: u32,
) -> Result<(), ApiError> {
    match rate_limit::check_per_minute(redis, &format!("user:{}", user.id), per_minute).await {
        Ok(Verdict::Allowed) => Ok(()),
        Ok(Verdict::Limited(retry_after)) => Err(ApiError::RateLimited { retry_after }),
        Err(e) => {
            // Fail open: see rate_limit's module docs.
            tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
            Ok(())
        }
    }
}

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        if !auth.user.is_admin() {
            return Err(ApiError::Forbidden("admin role required".to_owned()));
        }
        Ok(Self(auth))
    }
}
