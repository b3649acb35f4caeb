//! `forecast {file_id, horizon, date_column?, value_column?, season_length?, method?,
//! levels?}`: forecasts one of the owner's CSV files in the `fairlane-forecast` child
//! within the kind's time limit, writes the forecast CSV as a result file in `exports/`
//! and returns a summary naming the model and its holdout accuracy.
//!
//! It resolves the file from its `files` row (owner checked), maps `ForecastError`s to
//! job outcomes and writes the result; it does no forecasting (that is
//! `crate::forecast`). With `FAIRLANE_DIAGNOSTIC_JOBS=1` the param `diagnostic_spin`
//! makes the child busy-loop until the deadline kills it (a test hook).

use std::path::PathBuf;

use fairlane_shared::jobs::JobOutput;
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::{JobContext, KindFuture};
use crate::error::KindError;
use crate::forecast::{ForecastError, ForecastOutput, ForecastParams, ForecastRequest, isolated};
use crate::outputs::ResultFiles;

/// The kind's name, for its limits in `fairlane_shared::jobs::kinds`.
const KIND: &str = "forecast";
/// Steps reported as progress: read, fit, write.
const STEPS: u64 = 3;

pub(super) fn run(ctx: JobContext) -> KindFuture {
    Box::pin(async move {
        let limit = fairlane_shared::jobs::kinds::spec(KIND)
            .ok_or_else(|| KindError::permanent("unknown_kind", "forecast has no limits"))?
            .timeout;
        let deadline = Instant::now() + limit;
        let params: ForecastParams = serde_json::from_value(ctx.params.clone())
            .map_err(|e| KindError::permanent("invalid_params", e.to_string()))?;
        let file_id = ctx
            .params
            .get("file_id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::try_parse(id).ok())
            .ok_or_else(|| KindError::permanent("invalid_params", "file_id is not an id"))?;

        ctx.progress(0, Some(STEPS), Some("reading the input file".into()));
        let (input_path, input_name) = input_file(&ctx, file_id).await?;
        ctx.progress(
            1,
            Some(STEPS),
            Some(format!("fitting ({})", params.method.as_str())),
        );
        let request = ForecastRequest {
            input_path,
            params,
            diagnostic_spin: ctx.params.get("diagnostic_spin") == Some(&Value::Bool(true)),
        };
        let output = isolated::run(&ctx.services.forecast, &request, deadline)
            .await
            .map_err(kind_error)?;

        ctx.progress(2, Some(STEPS), Some("writing the forecast file".into()));
        let summary = summary(&output);
        let data_dir = ctx.services.data_dir.clone();
        let user_id = ctx.user_id;
        let name = result_name(&input_name);
        // The set is returned, not kept, in the closure: dropped unkept (a cancelled job),
        // it removes what it wrote.
        let files = tokio::task::spawn_blocking(move || {
            let mut files = ResultFiles::new(&data_dir, user_id)?;
            files.write("exports", &name, "text/csv", |out| output.write_csv(out))?;
            Ok::<_, KindError>(files)
        })
        .await
        .map_err(|e| KindError::retryable("write_failed", e.to_string()))??;
        // A succeeded job shows its last report: say every step is done.
        ctx.progress(STEPS, Some(STEPS), Some("done".into()));
        Ok(JobOutput {
            summary,
            files: files.keep(),
        })
    })
}

/// The path and display name of the owner's file `file_id`.
async fn input_file(ctx: &JobContext, file_id: Uuid) -> Result<(PathBuf, String), KindError> {
    let unavailable = |e: &dyn std::fmt::Display| {
        KindError::retryable(
            "database_unavailable",
            format!("cannot look up the file: {e}"),
        )
    };
    let row = ctx
        .services
        .db
        .get()
        .await
        .map_err(|e| unavailable(&e))?
        .query_opt(
            "SELECT area, name FROM files WHERE id = $1 AND user_id = $2",
            &[&file_id, &ctx.user_id],
        )
        .await
        .map_err(|e| unavailable(&e))?
        .ok_or_else(|| KindError::permanent("file_not_found", "the input file no longer exists"))?;
    let area: String = row.get(0);
    let path = fairlane_shared::workspace::user_root(&ctx.services.data_dir, ctx.user_id)
        .join(area)
        .join(file_id.to_string());
    Ok((path, row.get(1)))
}

/// The job outcome for a failed forecast. Bad input and a timeout are final; only a
/// failure of the machinery (unreadable file, broken child) may pass on another attempt.
fn kind_error(error: ForecastError) -> KindError {
    let retryable = !error.is_bad_input() && !matches!(error, ForecastError::Timeout { .. });
    KindError {
        code: error.code().to_owned(),
        message: error.to_string(),
        retryable,
    }
}

/// `forecast-<input name without .csv>.csv`, short enough for a file name.
fn result_name(input_name: &str) -> String {
    let stem = input_name
        .strip_suffix(".csv")
        .or_else(|| input_name.strip_suffix(".CSV"))
        .unwrap_or(input_name);
    let stem: String = stem.chars().take(200).collect();
    format!("forecast-{stem}.csv")
}

/// The result summary: the model, its holdout accuracy, and what else a user should know.
fn summary(output: &ForecastOutput) -> Value {
    let accuracy = output.holdout.accuracy;
    json!({
        "method": output.method,
        "model": output.model,
        "specification": output.specification,
        "frequency": output.frequency,
        "season_length": output.season_length,
        "observations": output.observations,
        "horizon": output.rows.len(),
        "levels": output.levels,
        "holdout": {
            "points": output.holdout.points,
            "mae": accuracy.mae,
            "smape": accuracy.smape,
            "mase": accuracy.mase,
        },
        "candidates": output.candidates,
        "notes": output.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_and_timeouts_are_final_machinery_failures_are_not() {
        let bad = kind_error(ForecastError::DuplicateDate {
            date: "2020-01-01".into(),
            first_line: 2,
            second_line: 3,
        });
        assert_eq!(
            (bad.code.as_str(), bad.retryable),
            ("duplicate_date", false)
        );
        assert!(bad.message.contains("same date"), "{}", bad.message);
        let timeout = kind_error(ForecastError::Timeout { limit_ms: 60_000 });
        assert_eq!(
            (timeout.code.as_str(), timeout.retryable),
            ("timeout", false)
        );
        let crashed = kind_error(ForecastError::ProcessFailed {
            reason: "killed".into(),
        });
        assert_eq!(
            (crashed.code.as_str(), crashed.retryable),
            ("process_failed", true)
        );
    }

    #[test]
    fn result_names_follow_the_input() {
        assert_eq!(result_name("sales.csv"), "forecast-sales.csv");
        assert_eq!(result_name("data"), "forecast-data.csv");
        assert!(result_name(&"x".repeat(255)).chars().count() <= 255);
    }
}
