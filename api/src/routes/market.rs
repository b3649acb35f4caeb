//! `/api/v1/market/*`: reference data for forms, from the shared instruments cache.
//!
//! When the cache is cold, the caller's own broker credentials fetch the day's dump
//! (the one place the API opens credentials: for this single request, never stored,
//! logged or returned; see ARCHITECTURE.md). Without credentials the answer is 422
//! `credentials_required`.

use axum::extract::State;
use fairlane_shared::instruments;
use fairlane_shared::jobs::kinds::{OPTION_EXCHANGES, valid_symbol};
use fairlane_shared::kite::{KiteClient, KiteCredentials};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::accounts::auth::AuthUser;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// `GET /market/expiries` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiriesQuery {
    symbol: String,
    exchange: Option<String>,
}

/// `GET /market/expiries?symbol=NIFTY&exchange=NFO`.
pub async fn expiries(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(query): ApiQuery<ExpiriesQuery>,
) -> ApiResult<ApiJson<Value>> {
    let symbol = query.symbol.trim().to_ascii_uppercase();
    if !valid_symbol(&symbol) {
        return Err(ApiError::validation(
            "symbol",
            "symbol must be 1 to 32 letters, digits, &, - or _",
        ));
    }
    let exchange = query
        .exchange
        .as_deref()
        .unwrap_or("NFO")
        .to_ascii_uppercase();
    if !OPTION_EXCHANGES.contains(&exchange.as_str()) {
        return Err(ApiError::validation(
            "exchange",
            "exchange must be NFO or BFO",
        ));
    }
    let db = state.db().get().await?;
    if !instruments::is_fresh(&**db, &exchange).await? {
        warm_cache(&state, &auth, &exchange).await?;
    }
    let expiries = instruments::expiries(&**db, &exchange, &symbol).await?;
    Ok(ApiJson(
        json!({ "symbol": symbol, "exchange": exchange, "expiries": expiries }),
    ))
}

async fn warm_cache(state: &AppState, auth: &AuthUser, exchange: &str) -> ApiResult<()> {
    let db = state.db().get().await?;
    let stored = fairlane_shared::credentials::load(&**db, &state.settings().keyring, auth.user.id)
        .await?
        .ok_or(ApiError::CredentialsRequired)?
        .map_err(|_| ApiError::CredentialsRequired)?;
    let credentials = KiteCredentials::new(stored.api_key, stored.access_token);
    let kite = KiteClient::new(
        &state.settings().broker,
        &credentials,
        state.redis().clone(),
        &auth.user.id.to_string(),
    )
    .map_err(|e| ApiError::Internal(e.into()))?;
    instruments::refresh_if_stale(state.db(), &kite, exchange).await.map_err(|e| match e {
        instruments::InstrumentsError::Broker(broker) if broker.is_reauth_required() => ApiError::Validation {
            message: "the broker rejected your access token; store a fresh one (PUT /api/v1/me/credentials)".to_owned(),
            details: json!({ "field": "credentials", "broker": "TokenException" }),
        },
        instruments::InstrumentsError::Broker(broker) => ApiError::Unavailable {
            message: "the broker is not answering; try again shortly".to_owned(),
            details: json!({ "broker": broker.to_string() }),
        },
        instruments::InstrumentsError::Database(db) => ApiError::Internal(db.into()),
    })?;
    Ok(())
}
