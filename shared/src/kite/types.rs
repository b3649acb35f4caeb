//! Kite's market-data shapes as typed Rust values: instrument rows, full quotes, last
//! prices, and the result of a batched lookup that records which keys were absent.
//!
//! Field names follow Kite's JSON so serde maps them directly. Every numeric field
//! defaults to zero when missing, because Kite omits fields for instruments that have
//! not traded. These are broker shapes, not the result-file columns.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::options::OptionType;

/// The key Kite uses for an instrument in quote calls: `EXCHANGE:TRADINGSYMBOL`.
pub fn instrument_key(exchange: &str, tradingsymbol: &str) -> String {
    format!("{exchange}:{tradingsymbol}")
}

/// Column 10 of the instruments dump.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InstrumentType {
    /// `EQ`: equities and indices.
    Equity,
    /// `FUT`.
    Future,
    /// `CE` or `PE`.
    Option(OptionType),
    /// Anything else, kept verbatim.
    Other(String),
}

impl InstrumentType {
    /// The option type, for `CE` and `PE` rows.
    pub fn option_type(&self) -> Option<OptionType> {
        match self {
            InstrumentType::Option(kind) => Some(*kind),
            _ => None,
        }
    }
}

impl From<String> for InstrumentType {
    fn from(code: String) -> Self {
        match code.as_str() {
            "EQ" => InstrumentType::Equity,
            "FUT" => InstrumentType::Future,
            "CE" => InstrumentType::Option(OptionType::Call),
            "PE" => InstrumentType::Option(OptionType::Put),
            _ => InstrumentType::Other(code),
        }
    }
}

impl From<InstrumentType> for String {
    fn from(value: InstrumentType) -> Self {
        value.to_string()
    }
}

impl FromStr for InstrumentType {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s.to_owned()))
    }
}

impl fmt::Display for InstrumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstrumentType::Equity => f.write_str("EQ"),
            InstrumentType::Future => f.write_str("FUT"),
            InstrumentType::Option(kind) => f.write_str(kind.code()),
            InstrumentType::Other(code) => f.write_str(code),
        }
    }
}

/// One row of the instruments dump (`domain.md` §1.4), in column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    /// Numeric id for streaming and history; may be reused after expiry, so rows are
    /// keyed by `(exchange, tradingsymbol)` instead.
    pub instrument_token: u64,
    /// The exchange's own id.
    pub exchange_token: u64,
    /// e.g. `NIFTY25NOV24000CE`, `NIFTY 50`, `INFY`.
    pub tradingsymbol: String,
    /// The underlying for derivatives (`NIFTY`), the company or index name otherwise.
    pub name: String,
    /// Price when the dump was generated (stale).
    pub last_price: f64,
    /// Expiry date of derivatives; `None` for cash instruments.
    pub expiry: Option<NaiveDate>,
    /// Strike of options; 0 otherwise.
    pub strike: f64,
    /// Price step.
    pub tick_size: f64,
    /// Contract size.
    pub lot_size: u32,
    /// `EQ`, `FUT`, `CE`, `PE`, …
    pub instrument_type: InstrumentType,
    /// e.g. `NFO-OPT`, `NSE`, `INDICES`.
    pub segment: String,
    /// e.g. `NFO`, `NSE`.
    pub exchange: String,
}

impl Instrument {
    /// `EXCHANGE:TRADINGSYMBOL`, the key for quote calls.
    pub fn key(&self) -> String {
        instrument_key(&self.exchange, &self.tradingsymbol)
    }
}

/// Open, high, low and close; `close` is the previous session's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ohlc {
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Previous close.
    pub close: f64,
}

/// One price level of the order book; zeros mean an empty level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DepthLevel {
    /// Price.
    pub price: f64,
    /// Quantity at this price.
    pub quantity: u64,
    /// Number of orders.
    pub orders: u64,
}

/// Five levels a side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Depth {
    /// Bids, best first.
    pub buy: Vec<DepthLevel>,
    /// Offers, best first.
    pub sell: Vec<DepthLevel>,
}

/// A full quote from `GET /quote`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quote {
    /// Numeric id.
    pub instrument_token: u64,
    /// Exchange timestamp, `YYYY-MM-DD HH:MM:SS` in IST.
    pub timestamp: Option<String>,
    /// Time of the last trade, same format.
    pub last_trade_time: Option<String>,
    /// Last traded price.
    pub last_price: f64,
    /// Quantity of the last trade.
    pub last_quantity: u64,
    /// Total pending buy quantity.
    pub buy_quantity: u64,
    /// Total pending sell quantity.
    pub sell_quantity: u64,
    /// Volume traded today.
    pub volume: u64,
    /// Volume-weighted average price today.
    pub average_price: f64,
    /// Open interest.
    pub oi: f64,
    /// Today's highest open interest.
    pub oi_day_high: f64,
    /// Today's lowest open interest.
    pub oi_day_low: f64,
    /// Change from the previous close.
    pub net_change: f64,
    /// Lower circuit limit.
    pub lower_circuit_limit: f64,
    /// Upper circuit limit.
    pub upper_circuit_limit: f64,
    /// Day's OHLC.
    pub ohlc: Ohlc,
    /// Order book.
    pub depth: Depth,
}

impl Quote {
    /// Best bid, or `None` when the buy side is empty.
    pub fn best_bid(&self) -> Option<f64> {
        self.depth.buy.first().map(|l| l.price).filter(|p| *p > 0.0)
    }

    /// Best offer, or `None` when the sell side is empty.
    pub fn best_ask(&self) -> Option<f64> {
        self.depth
            .sell
            .first()
            .map(|l| l.price)
            .filter(|p| *p > 0.0)
    }
}

/// A last traded price from `GET /quote/ltp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ltp {
    /// Numeric id.
    pub instrument_token: u64,
    /// Last traded price.
    pub last_price: f64,
}

/// The answer to a batched lookup: what the broker returned, and which requested keys
/// it left out (no data, expired, unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Quotes<T> {
    /// Values by requested key.
    pub found: HashMap<String, T>,
    /// Requested keys absent from the answer, in request order.
    pub missing: Vec<String>,
}

impl<T> Quotes<T> {
    /// Splits `requested` into found and missing against the broker's map.
    pub(crate) fn from_answer<S: AsRef<str>>(
        requested: &[S],
        mut answer: HashMap<String, T>,
    ) -> Self {
        let mut found = HashMap::with_capacity(requested.len());
        let mut missing = Vec::new();
        for key in requested {
            let key = key.as_ref();
            match answer.remove(key) {
                Some(value) => {
                    found.insert(key.to_owned(), value);
                }
                None if found.contains_key(key) => {}
                None => missing.push(key.to_owned()),
            }
        }
        Self { found, missing }
    }

    /// Adds another batch's answer.
    pub(crate) fn merge(&mut self, other: Quotes<T>) {
        self.found.extend(other.found);
        self.missing.extend(other.missing);
    }
}

impl<T> Default for Quotes<T> {
    fn default() -> Self {
        Self {
            found: HashMap::new(),
            missing: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kite_quote_decodes_and_reports_its_book() {
        let json = r#"{"instrument_token":408065,"timestamp":"2026-11-20 10:00:00",
            "last_price":1074.35,"volume":1000,"oi":0,"ohlc":{"open":1,"high":2,"low":0.5,"close":1.5},
            "depth":{"buy":[{"price":1074.3,"quantity":10,"orders":2}],
                     "sell":[{"price":0,"quantity":0,"orders":0}]}}"#;
        let quote: Quote = serde_json::from_str(json).unwrap();
        assert_eq!(quote.instrument_token, 408065);
        assert_eq!(quote.best_bid(), Some(1074.3));
        assert_eq!(quote.best_ask(), None);
        assert_eq!(quote.ohlc.close, 1.5);
    }

    #[test]
    fn absent_keys_are_reported_missing_in_request_order() {
        let answer = HashMap::from([("NSE:INFY".to_owned(), 1.0)]);
        let quotes = Quotes::from_answer(&["NSE:X", "NSE:INFY", "NSE:Y", "NSE:INFY"], answer);
        assert_eq!(quotes.found.len(), 1);
        assert_eq!(quotes.missing, vec!["NSE:X", "NSE:Y"]);
    }
}
