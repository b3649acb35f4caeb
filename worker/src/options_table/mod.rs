//! The vectorised engine behind the `options.filter` job kind: Arrow schemas of the
//! processed and filtered chains, the calculated columns, the filter/sort/limit
//! pipeline and the CSV, Parquet and Arrow IPC writers.
//!
//! Everything here works on Arrow `RecordBatch`es and local files. It does not know
//! about jobs, tenants, Postgres or storage quotas: the job kind reads the source job's
//! Parquet file, calls [`screen_chain`] and hands the written files to the job engine.
//! The per-row formulas are the scalar functions of `fairlane_shared::options`.

pub mod calculated;
pub mod chain_rows;
pub mod filter;
pub mod schema;
pub mod writers;

#[cfg(test)]
mod fixtures;

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// The `options.filter` pipeline with the solver skipped where it cannot matter: adds
/// the calculated columns as of `today` (the exchange's calendar date, IST for NSE),
/// keeps the rows that pass every filter, then sorts and limits. Returns one batch with
/// the [`filtered_chain_schema`].
///
/// The filters that need no implied volatility run first, and the solver (most of the
/// cost) runs only on the rows that pass them; a row must pass every filter, so the
/// result is the one of computing every column first ([`screen_chain`]). The row-wise
/// work runs on `threads` threads ([`for_each_slice`]); the result does not depend on
/// `threads`.
pub fn filter_chain(
    batches: &[RecordBatch],
    params: &FilterJobParams,
    today: NaiveDate,
    threads: NonZeroUsize,
) -> Result<RecordBatch, TableError> {
    let settings = CalcSettings::new(today, params.risk_free_rate())?;
    let quote_filters = Filters {
        delta_min: None,
        delta_max: None,
        ..params.filters.clone()
    };
    let kept = for_each_slice(batches, threads, |slice| {
        let candidates = keep_matching(&add_quote_columns(slice, &settings)?, &quote_filters)?;
        keep_matching(
            &add_calculated_columns(&candidates, &settings)?,
            &params.filters,
        )
    })?;
    let kept = arrow::compute::concat_batches(&filtered_chain_schema(), &kept)?;
    sort_and_limit(&kept, params)
}

/// What an `options.filter` job makes of a processed chain.
#[derive(Debug)]
pub struct Screened {
    /// Every row with its calculated columns, in input order, in slices of at most
    /// [`schema::READ_BATCH_ROWS`] rows.
    pub every_row: Vec<RecordBatch>,
    /// The rows of `every_row` that pass the filters, sorted and limited.
    pub kept: RecordBatch,
}

/// The `options.filter` job's work: the calculated columns for every row (the job
/// stores them all) and, in the same pass, the filters; then the sort and limit of
/// `params`. Gives the same `kept` rows as [`filter_chain`], which skips the solver for
/// rows an IV-free filter drops. Runs on `threads` threads ([`for_each_slice`]).
pub fn screen_chain(
    batches: &[RecordBatch],
    params: &FilterJobParams,
    today: NaiveDate,
    threads: NonZeroUsize,
) -> Result<Screened, TableError> {
    let settings = CalcSettings::new(today, params.risk_free_rate())?;
    let (every_row, kept): (Vec<_>, Vec<_>) = for_each_slice(batches, threads, |slice| {
        let enriched = add_calculated_columns(slice, &settings)?;
        let kept = keep_matching(&enriched, &params.filters)?;
        Ok((enriched, kept))
    })?
    .into_iter()
    .unzip();
    let kept = arrow::compute::concat_batches(&filtered_chain_schema(), &kept)?;
    Ok(Screened {
        every_row,
        kept: sort_and_limit(&kept, params)?,
    })
}

/// Runs `work` on every slice of at most [`schema::READ_BATCH_ROWS`] rows of `batches`
/// over `threads` threads (`parallel_map`) and returns the results in slice order.
/// The caller picks `threads` (the job kind: the cores no other table job holds).
pub fn for_each_slice<T, F>(
    batches: &[RecordBatch],
    threads: NonZeroUsize,
    work: F,
) -> Result<Vec<T>, TableError>
where
    T: Send,
    F: Fn(&RecordBatch) -> Result<T, TableError> + Sync,
{
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
    parallel_map(slices.len(), threads, |i| work(&slices[i]))
}

/// `work(0..items)` over `threads` scoped threads, each taking the next unclaimed
/// index (so a slow item does not hold up a whole share), with the results in index
/// order. The first error is returned; a panic in `work` is resumed here.
fn parallel_map<T, F>(items: usize, threads: NonZeroUsize, work: F) -> Result<Vec<T>, TableError>
where
    T: Send,
    F: Fn(usize) -> Result<T, TableError> + Sync,
{
    let threads = threads.get().min(items);
    if threads <= 1 {
        return (0..items).map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let done = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= items {
                            return Ok(done);
                        }
                        done.push((i, work(i)?));
                    }
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
            .collect::<Result<Vec<Vec<(usize, T)>>, TableError>>()
    })?;
    let mut done: Vec<(usize, T)> = done.into_iter().flatten().collect();
    done.sort_unstable_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, result)| result).collect())
}
