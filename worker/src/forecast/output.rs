//! The result of a forecast: the rows of the result file, the chosen model, its holdout
//! accuracy and notes, plus the CSV writer for the rows. It computes nothing.

use std::io::Write;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::forecast::calendar::Frequency;
use crate::forecast::metrics::Accuracy;
use crate::forecast::models::Model;
use crate::forecast::params::Method;

/// Everything a forecast produces; `rows` go to the result file, the rest to the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastOutput {
    /// The method the caller asked for.
    pub method: Method,
    /// The model that produced the forecast.
    pub model: Model,
    /// Its fitted specification, e.g. `ARIMA(1,1,0)(0,1,0)[12]`.
    pub specification: String,
    /// The detected frequency.
    pub frequency: Frequency,
    /// The season length used (1 = no seasonality).
    pub season_length: usize,
    /// Values in the (regularised) series.
    pub observations: usize,
    /// The interval levels, ascending; `rows[i].lower[j]` belongs to `levels[j]`.
    pub levels: Vec<u32>,
    /// Accuracy of the chosen model on the last `holdout.points` values (for `auto`:
    /// its mean over `holdout.windows` rolling windows of that many values).
    pub holdout: Holdout,
    /// For `auto`: every single model tried, with its validation accuracy or why it
    /// failed (the combination of them is reported through the notes, and through
    /// `model` and `holdout` when chosen).
    pub candidates: Vec<Candidate>,
    /// One row per forecast step.
    pub rows: Vec<ForecastRow>,
    /// What a user should know: filled gaps, dropped seasonality, how `auto` chose.
    pub notes: Vec<String>,
}

/// Holdout evaluation: the model fitted without the last `points` values, scored on them;
/// for `auto`, the mean over `windows` consecutive windows of `points` values that end
/// at the end of the series (rolling-origin validation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Values held out per window.
    pub points: usize,
    /// Validation windows (1 for a single model).
    #[serde(default = "one_window")]
    pub windows: usize,
    /// The scores.
    pub accuracy: Accuracy,
}

fn one_window() -> usize {
    1
}

/// One model tried by `auto`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The model.
    pub model: Model,
    /// Its validation accuracy (mean over the windows), when it could be fitted.
    pub accuracy: Option<Accuracy>,
    /// Why it could not be fitted.
    pub error: Option<String>,
}

/// One forecast step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastRow {
    /// The step's date.
    pub date: NaiveDateTime,
    /// The point forecast.
    pub forecast: f64,
    /// Lower bound per level (same order as `ForecastOutput::levels`).
    pub lower: Vec<f64>,
    /// Upper bound per level.
    pub upper: Vec<f64>,
}

impl ForecastOutput {
    /// The result file's header: `date,forecast,lower_80,upper_80,lower_95,upper_95`.
    pub fn csv_header(&self) -> Vec<String> {
        let mut header = vec!["date".to_owned(), "forecast".to_owned()];
        for level in &self.levels {
            header.push(format!("lower_{level}"));
            header.push(format!("upper_{level}"));
        }
        header
    }

    /// Writes the header and the rows as CSV to `out`. Where they go, and how durably,
    /// is the caller's business (the job kind writes through `outputs::ResultFiles`).
    pub fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(self.csv_header())?;
        for row in &self.rows {
            let mut record = vec![self.frequency.format(row.date), row.forecast.to_string()];
            for (lower, upper) in row.lower.iter().zip(&row.upper) {
                record.push(lower.to_string());
                record.push(upper.to_string());
            }
            writer.write_record(&record)?;
        }
        writer.flush()
    }
}
