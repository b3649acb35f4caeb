//! A client for Zerodha's Kite Connect v3 HTTP API, limited to the market data the
//! options jobs need: the instruments dump, full quotes and last traded prices.
//!
//! [`KiteClient`] holds one user's credentials and adds what the official SDKs leave
//! out: pacing through a rate limiter shared by every worker via Redis (per API key and
//! endpoint family), retries with backoff for 429 and 502/503/504, a per-user circuit
//! breaker, and a short-lived CMP cache in Redis. It does not place orders, open
//! sessions (`/session/token`) or stream ticks. Errors are [`KiteError`]; a dead session
//! is [`KiteError::Token`], which the job maps to `reauth_required`.

mod breaker;
mod client;
mod cmp_cache;
mod error;
mod instruments;
mod rate_limit;
mod retry;
mod settings;
mod types;

pub use breaker::BreakerState;
pub use client::{KiteClient, KiteCredentials};
pub use error::KiteError;
pub use instruments::{INSTRUMENT_COLUMNS, parse_instruments};
pub use rate_limit::RateFamily;
pub use settings::BrokerSettings;
pub use types::{
    Depth, DepthLevel, Instrument, InstrumentType, Ltp, Ohlc, Quote, Quotes, instrument_key,
};

/// Most instruments one `GET /quote` call may ask for.
pub const QUOTE_BATCH_MAX: usize = 500;
/// Most instruments one `GET /quote/ltp` call may ask for.
pub const LTP_BATCH_MAX: usize = 1000;
