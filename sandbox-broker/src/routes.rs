//! The sandbox's handlers: Kite's market-data routes and the stats route.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::Sandbox;
use crate::kite_reply;

/// Kite's per-call instrument limits.
const QUOTE_MAX: usize = 500;
const OHLC_LTP_MAX: usize = 1000;

/// `GET /instruments`: every exchange.
pub(crate) async fn all_instruments(State(sandbox): State<Sandbox>) -> Response {
    instruments_csv(&sandbox, None)
}

/// `GET /instruments/:exchange`.
pub(crate) async fn exchange_instruments(
    State(sandbox): State<Sandbox>,
    Path(exchange): Path<String>,
) -> Response {
    const EXCHANGES: [&str; 7] = ["NSE", "BSE", "NFO", "CDS", "BFO", "MCX", "BCD"];
    if !EXCHANGES.contains(&exchange.as_str()) {
        sandbox.stats().count_input_error();
        return kite_reply::error(
            StatusCode::BAD_REQUEST,
            "InputException",
            "Invalid exchange.",
        );
    }
    instruments_csv(&sandbox, Some(&exchange))
}

fn instruments_csv(sandbox: &Sandbox, exchange: Option<&str>) -> Response {
    let market = sandbox.market();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut wrote_row = false;
    for instrument in market.instruments(exchange) {
        if writer.serialize(instrument).is_err() {
            return kite_reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "GeneralException",
                "Could not write the dump.",
            );
        }
        wrote_row = true;
    }
    if !wrote_row
        && writer
            .write_record(fairlane_shared::kite::INSTRUMENT_COLUMNS)
            .is_err()
    {
        return kite_reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "GeneralException",
            "Could not write the dump.",
        );
    }
    match writer.into_inner() {
        Ok(bytes) => ([(header::CONTENT_TYPE, "text/csv")], bytes).into_response(),
        Err(_) => kite_reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "GeneralException",
            "Could not write the dump.",
        ),
    }
}

/// The `i` parameters of a quote call, or the message of the `InputException` to
/// answer.
fn instrument_keys(query: Option<&str>, max: usize) -> Result<Vec<String>, String> {
    let keys: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(name, _)| name == "i")
        .map(|(_, value)| value.into_owned())
        .collect();
    if keys.is_empty() {
        Err("No instruments given; pass i=EXCHANGE:TRADINGSYMBOL.".to_owned())
    } else if keys.len() > max {
        Err(format!("Too many instruments: at most {max} per call."))
    } else {
        Ok(keys)
    }
}

/// Answers each known, liquid key with `shape(quote)`; others are left out.
fn quotes<T: Serialize>(
    sandbox: &Sandbox,
    query: Option<&str>,
    max: usize,
    shape: impl Fn(fairlane_shared::kite::Quote) -> T,
) -> Response {
    let keys = match instrument_keys(query, max) {
        Ok(keys) => keys,
        Err(message) => {
            sandbox.stats().count_input_error();
            return kite_reply::error(StatusCode::BAD_REQUEST, "InputException", &message);
        }
    };
    let market = sandbox.market();
    let timestamp = sandbox.timestamp();
    let data: BTreeMap<String, T> = keys
        .into_iter()
        .filter_map(|key| market.quote(&key, &timestamp).map(|q| (key, shape(q))))
        .collect();
    kite_reply::success(data)
}

/// `GET /quote?i=…` (≤ 500).
pub(crate) async fn quote(State(sandbox): State<Sandbox>, RawQuery(query): RawQuery) -> Response {
    quotes(&sandbox, query.as_deref(), QUOTE_MAX, |q| q)
}

/// `GET /quote/ltp?i=…` (≤ 1000).
pub(crate) async fn ltp(State(sandbox): State<Sandbox>, RawQuery(query): RawQuery) -> Response {
    quotes(
        &sandbox,
        query.as_deref(),
        OHLC_LTP_MAX,
        |q| serde_json::json!({"instrument_token": q.instrument_token, "last_price": q.last_price}),
    )
}

/// `GET /quote/ohlc?i=…` (≤ 1000).
pub(crate) async fn ohlc(State(sandbox): State<Sandbox>, RawQuery(query): RawQuery) -> Response {
    quotes(
        &sandbox,
        query.as_deref(),
        OHLC_LTP_MAX,
        |q| serde_json::json!({"instrument_token": q.instrument_token, "last_price": q.last_price, "ohlc": q.ohlc}),
    )
}

/// `GET /__sandbox/stats`: the counters, outside Kite's API (no auth, no limits).
pub(crate) async fn stats(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.stats().snapshot()).into_response()
}

/// Anything else: Kite's 404 body.
pub(crate) async fn not_found() -> Response {
    kite_reply::error(
        StatusCode::NOT_FOUND,
        "GeneralException",
        "Route not found.",
    )
}
