//! `options.process {symbols, expiry, exchange?}`: builds the option chain of each
//! symbol for one expiry from the shared instruments dump, quotes it through the
//! owner's broker account (batches of ≤ 500 instruments, paced by the shared per-key
//! limiter, progress after each batch), adds each underlying's price (CMP), and writes
//! the processed chain as Parquet and CSV into `processed_options/`. Instruments the
//! broker did not quote are left out and listed in the summary.
//!
//! A broker `TokenException` fails the job with `reauth_required` and no retry.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use fairlane_shared::instruments::{self, ChainContract};
use fairlane_shared::jobs::JobOutput;
use fairlane_shared::kite::{KiteClient, KiteError, QUOTE_BATCH_MAX, instrument_key};
use serde_json::{Value, json};

use super::{JobContext, KindFuture};
use crate::error::KindError;
use crate::outputs::ResultFiles;

/// Most missing instruments listed by name in the summary (the count is always exact).
const MISSING_LISTED: usize = 100;

/// One row of the processed chain (API.md's processed-chain columns).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainRow {
    /// e.g. `NIFTY25NOV24000CE`.
    pub tradingsymbol: String,
    /// e.g. `NIFTY`.
    pub underlying: String,
    /// Expiry.
    pub expiry: NaiveDate,
    /// Strike.
    pub strike: f64,
    /// `CE` or `PE`.
    pub option_type: String,
    /// Contract size.
    pub lot_size: i64,
    /// Last traded price.
    pub last_price: f64,
    /// Best bid (None when the book is empty).
    pub bid: Option<f64>,
    /// Best ask (None when the book is empty).
    pub ask: Option<f64>,
    /// Volume today.
    pub volume: i64,
    /// Open interest.
    pub oi: i64,
    /// The underlying's price (None when it could not be quoted).
    pub underlying_price: Option<f64>,
    /// When the quote was fetched.
    pub fetched_at: chrono::DateTime<Utc>,
}

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let params = &ctx.params;
        let symbols: Vec<String> = params["symbols"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let expiry = params["expiry"]
            .as_str()
            .and_then(|e| NaiveDate::parse_from_str(e, "%Y-%m-%d").ok())
            .ok_or_else(|| KindError::permanent("invalid_params", "expiry is missing"))?;
        let exchange = params["exchange"].as_str().unwrap_or("NFO").to_owned();
        let services = ctx.services.clone();
        let kite = services
            .contexts
            .broker_client(&services.db, &services.redis, &services.keyring, &services.broker, ctx.user_id)
            .await?;

        for dump in [exchange.as_str(), "NSE"] {
            instruments::refresh_if_stale(&services.db, &kite, dump).await.map_err(|e| match e {
                instruments::InstrumentsError::Broker(broker) => broker_error(&broker),
                instruments::InstrumentsError::Database(db) => KindError::retryable("database_unavailable", db.to_string()),
            })?;
        }
        let db = services.db.get().await.map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?;
        let contracts = instruments::chain(&**db, &exchange, &symbols, expiry)
            .await
            .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?;
        if contracts.is_empty() {
            return Err(KindError::permanent(
                "no_contracts",
                format!("no {exchange} options of {} expire on {expiry}", symbols.join(", ")),
            ));
        }
        let mut cash_keys = HashMap::new();
        for symbol in &symbols {
            if let Some(key) = instruments::cash_key(&**db, symbol)
                .await
                .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?
            {
                cash_keys.insert(symbol.clone(), key);
            }
        }
        drop(db);
        let (rows, missing, prices) = fetch_chain(&ctx, &kite, &exchange, &contracts, &cash_keys).await?;

        let mut files = ResultFiles::new(&services.data_dir, ctx.user_id)?;
        let stem = format!("chain-{}-{expiry}", symbols.join("_").chars().take(60).collect::<String>());
        let written = tokio::task::spawn_blocking(move || {
            crate::options_output::write_processed(&mut files, &stem, &rows).map(|()| files)
        })
        .await
        .map_err(|e| KindError::retryable("write_failed", e.to_string()))??;
        let quoted = contracts.len() - missing.len();
        let summary = json!({
            "exchange": exchange,
            "expiry": expiry,
            "symbols": symbols,
            "contracts": contracts.len(),
            "quoted": quoted,
            "missing": missing.len(),
            "missing_instruments": missing.iter().take(MISSING_LISTED).collect::<Vec<_>>(),
            "underlying_prices": prices,
        });
        Ok(JobOutput { summary, files: written.keep() })
    })
}

type Fetched = (Vec<ChainRow>, Vec<String>, HashMap<String, f64>);

async fn fetch_chain(
    ctx: &JobContext,
    kite: &KiteClient,
    exchange: &str,
    contracts: &[ChainContract],
    cash_keys: &HashMap<String, String>,
) -> Result<Fetched, KindError> {
    let batches = contracts.len().div_ceil(QUOTE_BATCH_MAX);
    let total = u64::try_from(batches + 1).unwrap_or(u64::MAX);
    ctx.progress(0, Some(total), Some("quoting the underlyings".to_owned()));
    let keys: Vec<&String> = cash_keys.values().collect();
    let cmp = if keys.is_empty() { Default::default() } else { kite.cmp(&keys).await.map_err(|e| broker_error(&e))? };
    let prices: HashMap<String, f64> = cash_keys
        .iter()
        .filter_map(|(symbol, key)| cmp.found.get(key).map(|price| (symbol.clone(), *price)))
        .collect();

    let mut rows = Vec::with_capacity(contracts.len());
    let mut missing = Vec::new();
    for (index, batch) in contracts.chunks(QUOTE_BATCH_MAX).enumerate() {
        let keys: Vec<String> = batch.iter().map(|c| instrument_key(exchange, &c.tradingsymbol)).collect();
        let quotes = kite.quote(&keys).await.map_err(|e| broker_error(&e))?;
        let fetched_at = Utc::now();
        for (contract, key) in batch.iter().zip(&keys) {
            let Some(quote) = quotes.found.get(key) else {
                missing.push(contract.tradingsymbol.clone());
                continue;
            };
            rows.push(ChainRow {
                tradingsymbol: contract.tradingsymbol.clone(),
                underlying: contract.underlying.clone(),
                expiry: contract.expiry,
                strike: contract.strike,
                option_type: contract.option_type.clone(),
                lot_size: i64::from(contract.lot_size),
                last_price: quote.last_price,
                bid: quote.best_bid(),
                ask: quote.best_ask(),
                volume: i64::try_from(quote.volume).unwrap_or(i64::MAX),
                oi: quote.oi as i64,
                underlying_price: prices.get(&contract.underlying).copied(),
                fetched_at,
            });
        }
        let done = u64::try_from(index + 2).unwrap_or(u64::MAX);
        ctx.progress(done, Some(total), Some(format!("quoted batch {} of {batches}", index + 1)));
    }
    Ok((rows, missing, prices))
}

fn broker_error(error: &KiteError) -> KindError {
    if error.is_reauth_required() {
        KindError::permanent("reauth_required", "the broker session expired; store a fresh access token")
    } else if error.is_transient() {
        KindError::retryable("broker_unavailable", error.to_string())
    } else {
        KindError::permanent("broker_error", error.to_string())
    }
}
