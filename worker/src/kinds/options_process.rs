//! `options.process {symbols, expiry, exchange?}`: builds the option chain of each
//! symbol for one expiry from the shared instruments dump, quotes it through the
//! owner's broker account (batches of ≤ 500 instruments, paced by the shared per-key
//! limiter, progress after each batch), adds each underlying's price (CMP), and writes
//! the processed chain as Parquet and CSV into `processed_options/`. Instruments the
//! broker did not quote are left out and listed in the summary.
//!
//! A broker `TokenException` fails the job with `reauth_required` and no retry. The
//! symbol quota and the stored-credentials check are the API's, at submission.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use fairlane_shared::instruments::{self, ChainContract, InstrumentsError};
use fairlane_shared::jobs::JobOutput;
use fairlane_shared::kite::{KiteClient, KiteError, QUOTE_BATCH_MAX, instrument_key};
use serde_json::{Value, json};

use super::{JobContext, KindFuture};
use crate::error::KindError;
use crate::options_table::chain_rows::{ChainRow, to_batch};
use crate::options_table::{ExportFormat, processed_chain_schema};
use crate::outputs::ResultFiles;

/// Most missing instruments listed by name in the summary (the count is always exact).
const MISSING_LISTED: usize = 100;

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let params = &ctx.params;
        let symbols: Vec<String> = params["symbols"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let expiry = params["expiry"]
            .as_str()
            .and_then(|e| NaiveDate::parse_from_str(e, "%Y-%m-%d").ok())
            .ok_or_else(|| KindError::permanent("invalid_params", "expiry is missing"))?;
        let exchange = params["exchange"].as_str().unwrap_or("NFO").to_owned();
        let services = ctx.services.clone();
        let kite = services
            .contexts
            .broker_client(
                &services.db,
                &services.redis,
                &services.keyring,
                &services.broker,
                ctx.user_id,
            )
            .await?;

        ctx.progress(0, None, Some("loading the instruments".to_owned()));
        for dump in [exchange.as_str(), "NSE"] {
            instruments::refresh_if_stale(&services.db, &kite, dump)
                .await
                .map_err(|e| match e {
                    InstrumentsError::Broker(broker) => broker_error(&broker),
                    InstrumentsError::Database(db) => database_error(&db),
                })?;
        }
        let db = services.db.get().await.map_err(|e| database_error(&e))?;
        let contracts = instruments::chain(&**db, &exchange, &symbols, expiry)
            .await
            .map_err(|e| database_error(&e))?;
        if contracts.is_empty() {
            return Err(KindError::permanent(
                "no_contracts",
                format!(
                    "no {exchange} options of {} expire on {expiry}",
                    symbols.join(", ")
                ),
            ));
        }
        let mut cash_keys = HashMap::new();
        for symbol in &symbols {
            if let Some(key) = instruments::cash_key(&**db, symbol)
                .await
                .map_err(|e| database_error(&e))?
            {
                cash_keys.insert(symbol.clone(), key);
            }
        }
        drop(db);
        let fetched = fetch_chain(&ctx, &kite, &exchange, &contracts, &cash_keys).await?;

        let mut files = ResultFiles::new(&services.data_dir, ctx.user_id)?;
        let stem = format!("chain-{}-{expiry}", symbols.join("_"))
            .chars()
            .take(100)
            .collect::<String>();
        let rows = fetched.rows;
        let files = tokio::task::spawn_blocking(move || {
            let batch = to_batch(&rows)
                .map_err(|e| KindError::permanent("internal", format!("chain table: {e}")))?;
            for format in [ExportFormat::Parquet, ExportFormat::Csv] {
                files.write_table(
                    "processed_options",
                    &stem,
                    format,
                    &processed_chain_schema(),
                    std::slice::from_ref(&batch),
                )?;
            }
            Ok::<_, KindError>(files)
        })
        .await
        .map_err(|e| KindError::retryable("write_failed", e.to_string()))??;
        let summary = json!({
            "exchange": exchange,
            "expiry": expiry,
            "symbols": symbols,
            "contracts": contracts.len(),
            "quoted": contracts.len() - fetched.missing.len(),
            "missing": fetched.missing.len(),
            "missing_instruments": fetched.missing.iter().take(MISSING_LISTED).collect::<Vec<_>>(),
            "underlying_prices": fetched.prices,
        });
        Ok(JobOutput {
            summary,
            files: files.keep(),
        })
    })
}

/// What the broker answered for a chain.
struct Fetched {
    rows: Vec<ChainRow>,
    /// Trading symbols the broker did not quote.
    missing: Vec<String>,
    /// Underlying → price.
    prices: HashMap<String, f64>,
}

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
    let cmp = if keys.is_empty() {
        HashMap::new()
    } else {
        kite.cmp(&keys).await.map_err(|e| broker_error(&e))?.found
    };
    let prices: HashMap<String, f64> = cash_keys
        .iter()
        .filter_map(|(symbol, key)| cmp.get(key).map(|price| (symbol.clone(), *price)))
        .collect();

    let mut rows = Vec::with_capacity(contracts.len());
    let mut missing = Vec::new();
    for (index, batch) in contracts.chunks(QUOTE_BATCH_MAX).enumerate() {
        let keys: Vec<String> = batch
            .iter()
            .map(|c| instrument_key(exchange, &c.tradingsymbol))
            .collect();
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
                // Kite sends open interest as a JSON number; it is a whole count.
                oi: quote.oi.round() as i64,
                underlying_price: prices.get(&contract.underlying).copied(),
                fetched_at,
            });
        }
        let done = u64::try_from(index + 2).unwrap_or(u64::MAX);
        ctx.progress(
            done,
            Some(total),
            Some(format!("quoted batch {} of {batches}", index + 1)),
        );
    }
    Ok(Fetched {
        rows,
        missing,
        prices,
    })
}

fn database_error(error: &dyn std::fmt::Display) -> KindError {
    KindError::retryable("database_unavailable", error.to_string())
}

fn broker_error(error: &KiteError) -> KindError {
    if error.is_reauth_required() {
        KindError::permanent(
            "reauth_required",
            "the broker session expired; store a fresh access token",
        )
    } else if error.is_transient() {
        KindError::retryable("broker_unavailable", error.to_string())
    } else {
        KindError::permanent("broker_error", error.to_string())
    }
}
