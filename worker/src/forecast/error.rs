//! `ForecastError`: every way a forecast can fail, each with a stable snake_case code.
//!
//! The same type travels from the `fairlane-forecast` child process to the worker as
//! JSON (`{"code": "...", ...fields}`), so a rejection keeps its code and details across
//! the process boundary. It is not an HTTP error: the job kind maps it to a job outcome.

use serde::{Deserialize, Serialize};

/// Why a forecast was rejected or failed. `code()` is stable; messages are for people.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ForecastError {
    /// The input file could not be opened or read.
    #[error("cannot read the input file: {reason}")]
    UnreadableFile {
        /// The I/O error, without the path.
        reason: String,
    },
    /// The file is not well-formed CSV (for example rows of different lengths).
    #[error("line {line}: malformed CSV: {reason}")]
    MalformedCsv {
        /// 1-based line number in the file.
        line: u64,
        /// What the CSV reader reported.
        reason: String,
    },
    /// The file has no header or no data rows.
    #[error("the file has no data rows")]
    EmptyFile,
    /// A named column does not exist, or no suitable column could be detected.
    #[error("{message} (columns: {})", available.join(", "))]
    ColumnNotFound {
        /// What was looked for.
        message: String,
        /// The file's column names.
        available: Vec<String>,
    },
    /// A date cell is not in a supported format.
    #[error(
        "line {line}: '{value}' in column '{column}' is not a date \
         (use YYYY-MM-DD, YYYY-MM, YYYY-MM-DD HH:MM:SS or RFC 3339)"
    )]
    UnparseableDate {
        /// 1-based line number in the file.
        line: u64,
        /// The date column.
        column: String,
        /// The offending cell, shortened.
        value: String,
    },
    /// A value cell is empty or not a finite number.
    #[error("line {line}: '{value}' in column '{column}' is not a number")]
    NonNumericValue {
        /// 1-based line number in the file.
        line: u64,
        /// The value column.
        column: String,
        /// The offending cell, shortened.
        value: String,
    },
    /// Two rows have the same date.
    #[error("lines {first_line} and {second_line} have the same date {date}")]
    DuplicateDate {
        /// The repeated date as written in the first of the two rows.
        date: String,
        /// 1-based line of the first occurrence.
        first_line: u64,
        /// 1-based line of the second occurrence.
        second_line: u64,
    },
    /// The dates do not follow one supported frequency, or too many dates are missing.
    #[error("irregular dates: {message}")]
    IrregularSpacing {
        /// What is irregular.
        message: String,
    },
    /// The series is too short for the method or the season length.
    #[error("too few points: {message}")]
    TooFewPoints {
        /// How many are needed, for what, and how many there are.
        message: String,
    },
    /// The file has more rows than a forecast accepts.
    #[error("too many points: the file has more than {limit} data rows")]
    TooManyPoints {
        /// The largest number of rows accepted.
        limit: usize,
    },
    /// The horizon is outside the accepted range.
    #[error("horizon {horizon} is out of range: it must be between 1 and {max}")]
    HorizonOutOfRange {
        /// The requested horizon.
        horizon: usize,
        /// The largest horizon accepted for this series.
        max: usize,
    },
    /// A prediction-interval level is outside 1..=99, or the list is empty or too long.
    #[error("invalid levels: {message}")]
    InvalidLevels {
        /// What is wrong with the list.
        message: String,
    },
    /// The season length is zero or larger than accepted.
    #[error("invalid season_length {season_length}: it must be between 1 and {max}")]
    InvalidSeasonLength {
        /// The requested season length.
        season_length: usize,
        /// The largest season length accepted.
        max: usize,
    },
    /// The request to the forecast process could not be understood.
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What could not be understood.
        message: String,
    },
    /// No model could be fitted to the series.
    #[error("model {model} failed: {reason}")]
    ModelFailed {
        /// The model (or `auto` when every candidate failed).
        model: String,
        /// The library's reason.
        reason: String,
    },
    /// The forecast did not finish within its time limit and was killed.
    #[error("the forecast did not finish within {limit_ms} ms and was stopped")]
    Timeout {
        /// The time limit in milliseconds.
        limit_ms: u64,
    },
    /// The forecast process could not be started, crashed, or answered nonsense.
    #[error("the forecast process failed: {reason}")]
    ProcessFailed {
        /// What went wrong, with the tail of the child's stderr when there is one.
        reason: String,
    },
}

impl ForecastError {
    /// The stable snake_case code, e.g. `too_few_points`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnreadableFile { .. } => "unreadable_file",
            Self::MalformedCsv { .. } => "malformed_csv",
            Self::EmptyFile => "empty_file",
            Self::ColumnNotFound { .. } => "column_not_found",
            Self::UnparseableDate { .. } => "unparseable_date",
            Self::NonNumericValue { .. } => "non_numeric_value",
            Self::DuplicateDate { .. } => "duplicate_date",
            Self::IrregularSpacing { .. } => "irregular_spacing",
            Self::TooFewPoints { .. } => "too_few_points",
            Self::TooManyPoints { .. } => "too_many_points",
            Self::HorizonOutOfRange { .. } => "horizon_out_of_range",
            Self::InvalidLevels { .. } => "invalid_levels",
            Self::InvalidSeasonLength { .. } => "invalid_season_length",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::ModelFailed { .. } => "model_failed",
            Self::Timeout { .. } => "timeout",
            Self::ProcessFailed { .. } => "process_failed",
        }
    }

    /// True when the input or the parameters are at fault, so running again cannot help.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            Self::UnreadableFile { .. }
                | Self::ModelFailed { .. }
                | Self::Timeout { .. }
                | Self::ProcessFailed { .. }
        )
    }
}

/// Shortens a cell for an error message, so a huge cell cannot bloat a job summary.
pub(crate) fn excerpt(cell: &str) -> String {
    const MAX_CHARS: usize = 40;
    if cell.chars().count() <= MAX_CHARS {
        cell.to_owned()
    } else {
        let head: String = cell.chars().take(MAX_CHARS).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_the_serde_tag() {
        let errors = [
            ForecastError::EmptyFile,
            ForecastError::TooManyPoints { limit: 3 },
            ForecastError::NonNumericValue {
                line: 4,
                column: "v".into(),
                value: "x".into(),
            },
            ForecastError::Timeout { limit_ms: 10 },
        ];
        for error in errors {
            let json = serde_json::to_value(&error).unwrap();
            assert_eq!(json["code"], error.code());
            let back: ForecastError = serde_json::from_value(json).unwrap();
            assert_eq!(back, error);
        }
    }

    #[test]
    fn long_cells_are_shortened() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt(&"x".repeat(100)).chars().count(), 41);
    }
}
