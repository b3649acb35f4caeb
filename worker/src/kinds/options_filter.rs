//! `options.filter {source_job_id, filters, sort_by?, descending?, limit?,
//! risk_free_rate?}`: reads the processed chain (the Parquet result) of one of the
//! owner's `options.process` jobs, adds the calculated columns as of today's trading
//! day, and writes:
//! - the filtered, sorted and limited chain as CSV, Parquet and Arrow IPC into
//!   `filtered_options/` (listed first), and
//! - every row with its calculated columns as Parquet into `calculated_columns/`.
//!
//! The Arrow work is `options_table`; this module finds the input and stores outputs.

use fairlane_shared::instruments::trading_day;
use fairlane_shared::jobs::JobOutput;
use serde_json::json;
use uuid::Uuid;

use super::{JobContext, KindFuture};
use crate::error::KindError;
use crate::options_table::{
    ExportFormat, FilterJobParams, Screened, TableError, filtered_chain_schema, parse_params,
    read_parquet, screen_chain,
};
use crate::outputs::ResultFiles;

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let params = parse_params(&ctx.params).map_err(|errors| {
            let first = errors.into_iter().next();
            KindError::permanent(
                "invalid_params",
                first.map_or_else(
                    || "invalid params".to_owned(),
                    |e| format!("{}: {}", e.field, e.message),
                ),
            )
        })?;
        let source = source_file(&ctx, params.source_job_id).await?;
        ctx.progress(0, Some(3), Some("reading the processed chain".to_owned()));
        let services = ctx.services.clone();
        let files = ResultFiles::new(&services.data_dir, ctx.user_id)?;
        let (files, rows_in, rows_out) = tokio::task::spawn_blocking(move || {
            filter_and_write(&ctx, &params, &source.path, &source.stem, files)
        })
        .await
        .map_err(|e| KindError::retryable("internal", e.to_string()))??;
        Ok(JobOutput {
            summary: json!({
                "source_job_id": source.job_id,
                "valued_on": trading_day(),
                "rows_in": rows_in,
                "rows_out": rows_out,
            }),
            files: files.keep(),
        })
    })
}

/// The processed chain to read.
struct SourceFile {
    job_id: Uuid,
    path: std::path::PathBuf,
    /// The source's display name without its extension.
    stem: String,
}

async fn source_file(ctx: &JobContext, source_job_id: Uuid) -> Result<SourceFile, KindError> {
    let db = ctx
        .services
        .db
        .get()
        .await
        .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?;
    let row = db
        .query_opt(
            "SELECT f.id, f.area, f.name FROM files f JOIN jobs j ON j.id = f.job_id
             WHERE j.id = $1 AND j.user_id = $2 AND f.user_id = $2
               AND j.kind = 'options.process' AND f.content_type = $3
             ORDER BY f.created_at LIMIT 1",
            &[
                &source_job_id,
                &ctx.user_id,
                &ExportFormat::Parquet.media_type(),
            ],
        )
        .await
        .map_err(|e| KindError::retryable("database_unavailable", e.to_string()))?
        .ok_or_else(|| {
            KindError::permanent(
                "source_missing",
                "the source job has no processed chain (was its Parquet file deleted?)",
            )
        })?;
    let (id, area, name): (Uuid, String, String) = (row.get(0), row.get(1), row.get(2));
    let path = fairlane_shared::workspace::user_root(&ctx.services.data_dir, ctx.user_id)
        .join(area)
        .join(id.to_string());
    let stem = name.strip_suffix(".parquet").unwrap_or(&name).to_owned();
    Ok(SourceFile {
        job_id: source_job_id,
        path,
        stem,
    })
}

/// Reads, computes, filters and writes; returns the files and the row counts in and
/// out. Blocking.
fn filter_and_write(
    ctx: &JobContext,
    params: &FilterJobParams,
    source: &std::path::Path,
    stem: &str,
    mut files: ResultFiles,
) -> Result<(ResultFiles, usize, usize), KindError> {
    let cores = ctx.services.table_cores.borrow();
    let batches = read_parquet(source, cores.threads()).map_err(|e| match e {
        TableError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => KindError::permanent(
            "source_missing",
            "the source job's processed chain is gone from the workspace",
        ),
        other => table_error(&other),
    })?;
    let rows_in = batches.iter().map(|b| b.num_rows()).sum();
    ctx.progress(1, Some(3), Some("calculating columns".to_owned()));
    let Screened { every_row, kept } =
        screen_chain(&batches, params, trading_day(), cores.threads())
            .map_err(|e| table_error(&e))?;
    // The writers run on this thread alone.
    drop(cores);
    ctx.progress(2, Some(3), Some("writing the results".to_owned()));
    let schema = filtered_chain_schema();
    let filtered_stem = format!("{stem}-filtered");
    for format in ExportFormat::ALL {
        files.write_table(
            "filtered_options",
            &filtered_stem,
            format,
            &schema,
            std::slice::from_ref(&kept),
        )?;
    }
    files.write_table(
        "calculated_columns",
        &format!("{stem}-calculated"),
        ExportFormat::Parquet,
        &schema,
        &every_row,
    )?;
    // A succeeded job shows its last report: say every step is done.
    ctx.progress(3, Some(3), Some("done".to_owned()));
    Ok((files, rows_in, kept.num_rows()))
}

fn table_error(error: &TableError) -> KindError {
    match error {
        TableError::Schema(_) | TableError::InvalidParam(_) => {
            KindError::permanent("invalid_source", error.to_string())
        }
        TableError::Io(_) => KindError::retryable("io_error", error.to_string()),
        _ => KindError::permanent("table_error", error.to_string()),
    }
}
