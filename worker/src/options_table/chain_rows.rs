//! The processed chain as rows, the way `options.process` gathers them from the broker,
//! and their conversion into one Arrow batch of the processed-chain schema.
//!
//! It does no I/O; writing the batch is `writers` (through the job's result files).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use chrono::{DateTime, NaiveDate, Utc};

use crate::options_table::TableError;
use crate::options_table::schema::{FETCHED_AT_TZ, processed_chain_schema};

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
    pub fetched_at: DateTime<Utc>,
}

/// The rows as one batch of the processed-chain schema.
pub fn to_batch(rows: &[ChainRow]) -> Result<RecordBatch, TableError> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
    let days = |date: NaiveDate| i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX);
    let strings = |f: fn(&ChainRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.tradingsymbol),
        strings(|r| &r.underlying),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| days(r.expiry)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.strike),
        )),
        strings(|r| &r.option_type),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.lot_size),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.last_price),
        )),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.bid))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.ask))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.volume))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.oi))),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.underlying_price),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.fetched_at.timestamp_millis()),
            )
            .with_timezone(FETCHED_AT_TZ),
        ),
    ];
    Ok(RecordBatch::try_new(processed_chain_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Date32Type;

    use super::*;

    #[test]
    fn rows_become_a_processed_chain_batch() {
        let row = ChainRow {
            tradingsymbol: "NIFTY25NOV24000CE".into(),
            underlying: "NIFTY".into(),
            expiry: NaiveDate::from_ymd_opt(2025, 11, 27).unwrap(),
            strike: 24_000.0,
            option_type: "CE".into(),
            lot_size: 75,
            last_price: 120.5,
            bid: Some(120.0),
            ask: None,
            volume: 10,
            oi: 300,
            underlying_price: Some(23_950.0),
            fetched_at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap(),
        };
        let batch = to_batch(&[row.clone(), row]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), processed_chain_schema());
        let expiry = batch.column_by_name("expiry").unwrap();
        assert_eq!(
            expiry.as_primitive::<Date32Type>().value_as_date(0),
            NaiveDate::from_ymd_opt(2025, 11, 27)
        );
        assert!(batch.column_by_name("ask").unwrap().is_null(0));
        assert_eq!(
            batch
                .column_by_name("fetched_at")
                .unwrap()
                .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                .value(1),
            1_764_000_000_123
        );
    }
}
