//! [`KiteClient`]: one user's authenticated handle on Kite Connect v3.
//!
//! Every call goes through the same path: breaker check, a turn from the shared rate
//! limiter, the request with `X-Kite-Version: 3` and `Authorization: token
//! api_key:access_token`, then unwrapping `{"status":"success","data":…}` or
//! classifying the error; 429 and 502/503/504 are retried with backoff. Batching of
//! large instrument lists is the caller's (or [`KiteClient::quote_many`]'s) job; this
//! type never splits a call behind the caller's back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::kite::breaker::{BreakerState, CircuitBreaker};
use crate::kite::cmp_cache::CmpCache;
use crate::kite::error::KiteError;
use crate::kite::instruments::parse_instruments;
use crate::kite::rate_limit::{RateFamily, RateLimiter};
use crate::kite::retry::{backoff, is_retryable_status, parse_retry_after};
use crate::kite::settings::BrokerSettings;
use crate::kite::types::{Instrument, Ltp, Quote, Quotes};
use crate::kite::{LTP_BATCH_MAX, QUOTE_BATCH_MAX};
use crate::redis_conn::Redis;

/// A user's Kite API key and the day's access token. Both print as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct KiteCredentials {
    api_key: SecretString,
    access_token: SecretString,
}

impl KiteCredentials {
    /// Wraps the two secrets.
    pub fn new(api_key: SecretString, access_token: SecretString) -> Self {
        Self {
            api_key,
            access_token,
        }
    }
}

/// One user's client. Cheap to clone; clones share the breaker.
#[derive(Clone)]
pub struct KiteClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    max_attempts: u32,
    backoff_base: Duration,
    limiter: RateLimiter,
    breaker: CircuitBreaker,
    cmp_cache: CmpCache,
}

impl std::fmt::Debug for KiteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KiteClient")
            .field("base_url", &self.inner.base_url)
            .field("breaker", &self.inner.breaker.state())
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
}

impl KiteClient {
    /// A client for one user. `owner` (the user id) scopes the CMP cache; the rate
    /// limiter is scoped by the API key, as Kite's limits are.
    pub fn new(
        settings: &BrokerSettings,
        credentials: &KiteCredentials,
        redis: Redis,
        owner: &str,
    ) -> Result<Self, KiteError> {
        let api_key = credentials.api_key.expose_secret();
        let mut auth = HeaderValue::try_from(format!(
            "token {api_key}:{}",
            credentials.access_token.expose_secret()
        ))
        .map_err(|_| KiteError::Token {
            message: "the stored credentials contain characters not allowed in a header".to_owned(),
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("X-Kite-Version", HeaderValue::from_static("3"));
        headers.insert(AUTHORIZATION, auth);
        crate::tls::install();
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(settings.timeout)
            .user_agent(concat!("fairlane/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(KiteError::Transport)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url: settings.base_url.trim_end_matches('/').to_owned(),
                max_attempts: settings.max_attempts.max(1),
                backoff_base: settings.backoff_base,
                limiter: RateLimiter::new(redis.clone(), api_key),
                breaker: CircuitBreaker::new(settings.breaker_failures, settings.breaker_cooldown),
                cmp_cache: CmpCache::new(redis, owner, settings.cmp_ttl),
            }),
        })
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// `GET /instruments/:exchange`: the day's dump for one exchange (`NFO`, `NSE`, …).
    pub async fn instruments(&self, exchange: &str) -> Result<Vec<Instrument>, KiteError> {
        let path = format!("/instruments/{exchange}");
        let body = self.get(RateFamily::Other, &path, &[]).await?;
        parse_instruments(&body)
    }

    /// `GET /quote` for at most [`QUOTE_BATCH_MAX`] keys (`EXCHANGE:TRADINGSYMBOL`).
    pub async fn quote<S: AsRef<str>>(&self, keys: &[S]) -> Result<Quotes<Quote>, KiteError> {
        self.lookup("/quote", QUOTE_BATCH_MAX, keys).await
    }

    /// `GET /quote` for any number of keys, in batches of [`QUOTE_BATCH_MAX`] paced by
    /// the rate limiter (one batch a second).
    pub async fn quote_many<S: AsRef<str>>(&self, keys: &[S]) -> Result<Quotes<Quote>, KiteError> {
        let mut all = Quotes::default();
        for batch in keys.chunks(QUOTE_BATCH_MAX) {
            all.merge(self.quote(batch).await?);
        }
        Ok(all)
    }

    /// `GET /quote/ltp` for at most [`LTP_BATCH_MAX`] keys.
    pub async fn ltp<S: AsRef<str>>(&self, keys: &[S]) -> Result<Quotes<Ltp>, KiteError> {
        self.lookup("/quote/ltp", LTP_BATCH_MAX, keys).await
    }

    /// Current market prices of underlyings (e.g. `NSE:NIFTY 50`, `NSE:INFY`): from the
    /// user's short-lived cache where fresh, otherwise one `/quote/ltp` call per
    /// [`LTP_BATCH_MAX`] missing keys.
    pub async fn cmp<S: AsRef<str>>(&self, keys: &[S]) -> Result<Quotes<f64>, KiteError> {
        let cached = self.inner.cmp_cache.get(keys).await?;
        let mut answer = HashMap::new();
        let mut to_fetch = Vec::new();
        for (key, price) in keys.iter().zip(cached) {
            match price {
                Some(price) => {
                    answer.insert(key.as_ref().to_owned(), price);
                }
                None => to_fetch.push(key.as_ref().to_owned()),
            }
        }
        for batch in to_fetch.chunks(LTP_BATCH_MAX) {
            let fresh = self.ltp(batch).await?;
            let prices: Vec<(String, f64)> = fresh
                .found
                .into_iter()
                .map(|(key, ltp)| (key, ltp.last_price))
                .collect();
            self.inner.cmp_cache.put(&prices).await?;
            answer.extend(prices);
        }
        Ok(Quotes::from_answer(keys, answer))
    }

    async fn lookup<T: DeserializeOwned, S: AsRef<str>>(
        &self,
        path: &str,
        max: usize,
        keys: &[S],
    ) -> Result<Quotes<T>, KiteError> {
        if keys.len() > max {
            return Err(KiteError::TooManyInstruments {
                given: keys.len(),
                max,
            });
        }
        if keys.is_empty() {
            return Ok(Quotes::default());
        }
        let query: Vec<(&str, &str)> = keys.iter().map(|k| ("i", k.as_ref())).collect();
        let body = self.get(RateFamily::Quote, path, &query).await?;
        let envelope: Envelope<HashMap<String, T>> =
            serde_json::from_str(&body).map_err(|e| KiteError::Decode(format!("{path}: {e}")))?;
        if envelope.status != "success" {
            return Err(KiteError::Decode(format!(
                "{path}: status {:?} in a 200 answer",
                envelope.status
            )));
        }
        Ok(Quotes::from_answer(keys, envelope.data.unwrap_or_default()))
    }

    /// Sends `GET path?query` with breaker, pacing and retries; returns the body of a
    /// 2xx answer.
    async fn get(
        &self,
        family: RateFamily,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<String, KiteError> {
        let inner = &self.inner;
        let url = format!("{}{path}", inner.base_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            inner
                .breaker
                .admit()
                .map_err(|retry_in| KiteError::CircuitOpen { retry_in })?;
            inner.limiter.acquire(family).await?;
            let response = match inner.http.get(&url).query(query).send().await {
                Ok(response) => response,
                Err(e) => {
                    inner.breaker.record_failure();
                    tracing::warn!(path, attempt, error = %e, "broker unreachable");
                    return Err(KiteError::Transport(e.without_url()));
                }
            };
            let status = response.status().as_u16();
            let retry_after = parse_retry_after(
                response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            let body = match response.text().await {
                Ok(body) => body,
                Err(e) => {
                    inner.breaker.record_failure();
                    return Err(KiteError::Transport(e.without_url()));
                }
            };
            if (200..300).contains(&status) {
                inner.breaker.record_success();
                return Ok(body);
            }
            match status {
                429 => {}
                500..=599 => inner.breaker.record_failure(),
                _ => inner.breaker.record_success(),
            }
            let error = KiteError::from_response(status, &body);
            if is_retryable_status(status) && attempt < inner.max_attempts {
                let delay = backoff(inner.backoff_base, attempt, retry_after);
                tracing::info!(
                    path,
                    status,
                    attempt,
                    delay_ms = delay.as_millis(),
                    "broker call failed, retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            tracing::warn!(path, status, attempt, error = %error, "broker call failed");
            return Err(match error {
                KiteError::RateLimited { .. } => KiteError::RateLimited { attempts: attempt },
                other => other,
            });
        }
    }
}
