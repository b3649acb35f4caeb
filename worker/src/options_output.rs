//! The processed option chain as result files: rows → one Arrow batch with the
//! processed-chain schema → Parquet and CSV in the owner's `processed_options/`,
//! registered through [`ResultFiles`].

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use chrono::NaiveDate;

use crate::error::KindError;
use crate::kinds::options_process::ChainRow;
use crate::options_table::schema::{FETCHED_AT_TZ, processed_chain_schema};
use crate::options_table::writers::ExportFormat;
use crate::outputs::ResultFiles;

fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)
}

/// The rows as one batch of the processed-chain schema.
pub fn to_batch(rows: &[ChainRow]) -> Result<RecordBatch, KindError> {
    let strings = |f: fn(&ChainRow) -> &str| Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.tradingsymbol),
        strings(|r| &r.underlying),
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| days_since_epoch(r.expiry)))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.strike))),
        strings(|r| &r.option_type),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.lot_size))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.last_price))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.bid))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.ask))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.volume))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.oi))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.underlying_price))),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.fetched_at.timestamp_millis()))
                .with_timezone(FETCHED_AT_TZ),
        ),
    ];
    RecordBatch::try_new(processed_chain_schema(), columns)
        .map_err(|e| KindError::permanent("internal", format!("building the chain table: {e}")))
}

/// Writes the chain as `<stem>.parquet` and `<stem>.csv` (blocking I/O).
pub fn write_processed(files: &mut ResultFiles, stem: &str, rows: &[ChainRow]) -> Result<(), KindError> {
    let batch = to_batch(rows)?;
    for format in [ExportFormat::Parquet, ExportFormat::Csv] {
        files.write_table("processed_options", stem, format, &processed_chain_schema(), std::slice::from_ref(&batch))?;
    }
    Ok(())
}
