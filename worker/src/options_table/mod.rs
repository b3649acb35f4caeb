//! The vectorised engine behind the `options.filter` job kind: Arrow schemas of the
//! processed and filtered chains, the calculated columns, the filter/sort/limit
//! pipeline and the CSV, Parquet and Arrow IPC writers.
//!
//! Everything here works on Arrow `RecordBatch`es and local files. It does not know
//! about jobs, tenants, Postgres or storage quotas: the job kind reads the source job's
//! Parquet file, calls [`filter_chain`] and hands the written files to the job engine.
//! The per-row formulas are the scalar functions of `fairlane_shared::options`.

pub mod calculated;
pub mod chain_rows;
pub mod filter;
pub mod schema;
pub mod writers;

#[cfg(test)]
mod fixtures;

use std::num::NonZeroUsize;

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use parquet::errors::ParquetError;

pub use calculated::{
    CalcSettings, DEFAULT_RISK_FREE_RATE, add_calculated_columns, add_quote_columns,
};
pub use filter::{
    FieldError, FilterJobParams, Filters, keep_matching, parse_params, sort_and_limit,
};
pub use schema::{filtered_chain_schema, processed_chain_schema, read_csv, read_parquet};
pub use writers::{ExportFormat, WrittenFile, write_batches};

/// Everything that can go wrong while reading, enriching, filtering or writing a chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// An Arrow kernel, the CSV reader/writer or the IPC writer failed.
    #[error("arrow error")]
    Arrow(#[from] ArrowError),
    /// The Parquet reader or writer failed.
    #[error("parquet error")]
    Parquet(#[from] ParquetError),
    /// A file could not be opened, written, synced or renamed.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    /// The input lacks a processed-chain column, or has one that cannot be cast.
    #[error("the input is not a processed chain: {0}")]
    Schema(String),
    /// The parameters were not validated before use.
    #[error("invalid parameter {}: {}", .0.field, .0.message)]
    InvalidParam(FieldError),
}

/// The whole `options.filter` pipeline over a processed chain: adds the calculated
/// columns as of `today` (the exchange's calendar date, IST for NSE), keeps the rows
/// that pass every filter, then sorts and limits. Returns one batch with the
/// [`filtered_chain_schema`].
///
/// The filters that need no implied volatility run first, and the solver (most of the
/// cost) runs only on the rows that pass them; a row must pass every filter, so the
/// result is the one of computing every column first. The row-wise work is split into
/// slices of at most [`schema::READ_BATCH_ROWS`] rows spread over `threads` scoped
/// threads; the caller picks `threads` (the worker's cores divided by its job
/// concurrency). The result does not depend on `threads`.
pub fn filter_chain(
    batches: &[RecordBatch],
    params: &FilterJobParams,
    today: NaiveDate,
    threads: NonZeroUsize,
) -> Result<RecordBatch, TableError> {
    let settings = CalcSettings::new(today, params.risk_free_rate())?;
    let slices: Vec<RecordBatch> = batches
        .iter()
        .flat_map(|batch| {
            (0..batch.num_rows())
                .step_by(schema::READ_BATCH_ROWS)
                .map(|start| {
                    batch.slice(start, schema::READ_BATCH_ROWS.min(batch.num_rows() - start))
                })
        })
        .collect();
    // Filters that need no model run first; the solver then sees only their survivors.
    let quote_filters = Filters {
        delta_min: None,
        delta_max: None,
        ..params.filters.clone()
    };
    let per_thread = slices.len().div_ceil(threads.get()).max(1);
    let kept = std::thread::scope(|scope| {
        let workers: Vec<_> = slices
            .chunks(per_thread)
            .map(|chunk| {
                let (settings, quote_filters) = (&settings, &quote_filters);
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|slice| {
                            let candidates =
                                keep_matching(&add_quote_columns(slice, settings)?, quote_filters)?;
                            keep_matching(
                                &add_calculated_columns(&candidates, settings)?,
                                &params.filters,
                            )
                        })
                        .collect::<Result<Vec<_>, TableError>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<Vec<_>, TableError>>()
    })?;
    let kept: Vec<RecordBatch> = kept.into_iter().flatten().collect();
    let all = arrow::compute::concat_batches(&filtered_chain_schema(), &kept)?;
    sort_and_limit(&all, params)
}
