//! A small hand-built processed chain for the unit tests of `options_table`, valued on
//! [`today`]. Test-only; not a generator of realistic data.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use chrono::NaiveDate;

use crate::options_table::schema::{FETCHED_AT_TZ, processed_chain_schema};

/// The valuation date of the fixture.
pub(crate) fn today() -> NaiveDate {
    date("2026-11-20")
}

pub(crate) fn date(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

fn epoch_days(s: &str) -> i32 {
    i32::try_from((date(s) - date("1970-01-01")).num_days()).expect("fits")
}

/// Row indices of the fixture, by what each row exercises.
pub(crate) mod row {
    /// An OTM weekly call, DTE 7, full book.
    pub(crate) const CALL: usize = 0;
    /// An OTM weekly put, DTE 7, full book.
    pub(crate) const PUT: usize = 1;
    /// A call expiring today (DTE counted as 1).
    pub(crate) const EXPIRY_DAY: usize = 2;
    /// A call with no bid and no ask: priced from the last trade, no spread.
    pub(crate) const NO_BOOK: usize = 3;
    /// A deep ITM put bid below intrinsic value: no implied volatility.
    pub(crate) const NO_IV: usize = 4;
    /// A call that expired last week.
    pub(crate) const EXPIRED: usize = 5;
    /// A monthly ATM call with thin volume and open interest, DTE 35.
    pub(crate) const MONTHLY: usize = 6;
}

/// Spot of every row.
pub(crate) const SPOT: f64 = 24_000.0;

/// symbol, expiry, strike, type, last price, bid, ask, volume, open interest.
type Contract = (
    &'static str,
    &'static str,
    f64,
    &'static str,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    i64,
    i64,
);

/// The seven-row processed chain described by [`row`].
pub(crate) fn chain() -> RecordBatch {
    #[rustfmt::skip]
    let rows: [Contract; 7] = [
        ("NIFTY26NOV24500CE", "2026-11-27", 24_500.0, "CE", Some(60.0), Some(58.0), Some(62.0), 1_000, 50_000),
        ("NIFTY26NOV23500PE", "2026-11-27", 23_500.0, "PE", Some(70.0), Some(68.0), Some(72.0), 800, 40_000),
        ("NIFTY26N2024100CE", "2026-11-20", 24_100.0, "CE", Some(20.0), Some(19.0), Some(21.0), 5_000, 90_000),
        ("NIFTY26NOV25000CE", "2026-11-27", 25_000.0, "CE", Some(5.0), None, None, 300, 20_000),
        ("NIFTY26NOV26000PE", "2026-11-27", 26_000.0, "PE", Some(1_550.0), Some(1_500.0), Some(1_600.0), 50, 1_000),
        ("NIFTY26N1324000CE", "2026-11-13", 24_000.0, "CE", Some(1.0), Some(0.5), Some(1.5), 10, 500),
        ("NIFTY26DEC24000CE", "2026-12-25", 24_000.0, "CE", Some(405.0), Some(400.0), Some(410.0), 5, 100),
    ];
    let n = rows.len();
    let fetched_at = 1_795_600_000_000_i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from(vec!["NIFTY"; n])),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| epoch_days(r.1)),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.3))),
        Arc::new(Int64Array::from(vec![75; n])),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.4))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.5))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.6))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.7))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.8))),
        Arc::new(Float64Array::from(vec![SPOT; n])),
        Arc::new(TimestampMillisecondArray::from(vec![fetched_at; n]).with_timezone(FETCHED_AT_TZ)),
    ];
    RecordBatch::try_new(processed_chain_schema(), columns).expect("the fixture fits the schema")
}
