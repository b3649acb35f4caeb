//! The Arrow schemas of the processed option chain (what `options.process` writes) and
//! of the filtered chain (the processed columns plus the calculated ones), and readers
//! that load a processed chain from Parquet or CSV into batches of exactly that schema.
//!
//! Column names are the API's result-file names (`API.md`). This module only describes
//! and loads tables; it computes nothing.

use std::fs::File;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use fairlane_shared::options::filter_params::{FILTERED_CHAIN_COLUMNS, PROCESSED_CHAIN_COLUMNS};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

use crate::options_table::{TableError, parallel_map};

/// Rows per batch when reading files.
pub const READ_BATCH_ROWS: usize = 64 * 1024;

/// The time zone of `fetched_at`: UTC, spelled as an offset because Arrow without the
/// `chrono-tz` feature (kept out to stay lean) parses offsets only, and the CSV writer
/// must parse it. Readers see UTC either way; a file tagged `UTC` is cast on read.
pub const FETCHED_AT_TZ: &str = "+00:00";

static PROCESSED: LazyLock<SchemaRef> =
    LazyLock::new(|| Arc::new(schema_of(&PROCESSED_CHAIN_COLUMNS)));

static FILTERED: LazyLock<SchemaRef> =
    LazyLock::new(|| Arc::new(schema_of(&FILTERED_CHAIN_COLUMNS)));

/// A schema of the named chain columns, every one nullable.
fn schema_of(names: &[&str]) -> Schema {
    Schema::new(
        names
            .iter()
            .map(|name| Field::new(*name, column_type(name), true))
            .collect::<Vec<_>>(),
    )
}

/// The Arrow type of a chain column; any column not named here is Float64.
fn column_type(name: &str) -> DataType {
    match name {
        "tradingsymbol" | "underlying" | "option_type" => DataType::Utf8,
        "expiry" => DataType::Date32,
        "lot_size" | "volume" | "oi" => DataType::Int64,
        "days_to_expiry" => DataType::Int32,
        "fetched_at" => DataType::Timestamp(TimeUnit::Millisecond, Some(FETCHED_AT_TZ.into())),
        _ => DataType::Float64,
    }
}

/// The processed chain: `tradingsymbol, underlying, expiry, strike, option_type,
/// lot_size, last_price, bid, ask, volume, oi, underlying_price, fetched_at`.
pub fn processed_chain_schema() -> SchemaRef {
    PROCESSED.clone()
}

/// The filtered chain: the processed columns, then `days_to_expiry` (Int32) and the
/// Float64 columns `moneyness, otm_pct, premium_yield_pct, annualized_yield_pct,
/// breakeven, spread_pct, iv, delta, gamma, theta, vega`.
pub fn filtered_chain_schema() -> SchemaRef {
    FILTERED.clone()
}

/// Reads a processed chain from a Parquet file. Extra columns are dropped, columns are
/// put in schema order, and castable types (say Int32 volumes or nanosecond
/// timestamps written by pandas) are cast; a missing column is an error.
///
/// Row groups are decoded on up to `threads` threads (decoding is a fifth of a filter
/// job's work; the writers cut row groups of [`READ_BATCH_ROWS`] rows for this), and
/// the batches come back in file order.
pub fn read_parquet(path: &Path, threads: NonZeroUsize) -> Result<Vec<RecordBatch>, TableError> {
    let metadata = ArrowReaderMetadata::load(&File::open(path)?, ArrowReaderOptions::default())?;
    let groups = metadata.metadata().num_row_groups();
    let per_group = parallel_map(groups, threads, |group| {
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(path)?, metadata.clone())
                .with_row_groups(vec![group])
                .with_batch_size(READ_BATCH_ROWS)
                .build()?;
        reader
            .map(|batch| conform(&batch?))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(per_group.into_iter().flatten().collect())
}

/// Reads a processed chain from a CSV file with a header row, in the format the
/// writers produce (ISO dates, RFC 3339 timestamps, empty fields as nulls).
pub fn read_csv(path: &Path) -> Result<Vec<RecordBatch>, TableError> {
    let reader = arrow::csv::ReaderBuilder::new(processed_chain_schema())
        .with_header(true)
        .with_batch_size(READ_BATCH_ROWS)
        .build(File::open(path)?)?;
    reader
        .map(|batch| Ok(batch?))
        .collect::<Result<Vec<_>, TableError>>()
}

/// Projects and casts `batch` onto the processed-chain schema.
pub fn conform(batch: &RecordBatch) -> Result<RecordBatch, TableError> {
    let schema = processed_chain_schema();
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = batch
                .column_by_name(field.name())
                .ok_or_else(|| TableError::Schema(format!("missing column {:?}", field.name())))?;
            if column.data_type() == field.data_type() {
                return Ok(column.clone());
            }
            cast(column, field.data_type()).map_err(|e| {
                TableError::Schema(format!(
                    "column {:?} has type {} and cannot be read as {}: {e}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<ArrayRef>, TableError>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}
