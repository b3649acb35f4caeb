//! The forecasting core of the `forecast` job kind: read a CSV of dated values, forecast
//! it with ETS, AutoARIMA, AutoTheta or SeasonalNaive (or, `auto`, pick one of them or
//! the mean of ETS, ARIMA and Theta by rolling-origin validation), and write the result
//! file `date,forecast,lower_<level>,upper_<level>`.
//!
//! It knows nothing about jobs, users, queues or storage: the job kind resolves the
//! file, calls `isolated::run` with a deadline (60 s), writes `ForecastOutput::write_csv`
//! and puts the rest of the output in the job's summary.
//!
//! Map: `params` (the job's parameters and limits) → `input` (CSV, columns) → `series`
//! (sorting, duplicates, frequency, gap filling, via `calendar`) → `pipeline` (season
//! length, holdout, `auto`'s validation) → `models` (the models and their
//! combination: `ets` is the ETS form search and `ets_fit` fits one form, `arima` is
//! our AutoARIMA, `theta` our port of statsforecast's AutoTheta, `seasonal_naive` our
//! seasonal naive) and
//! `metrics` → `output`.
//! `isolated` runs all of it in the `fairlane-forecast` child process.

pub mod arima;
pub mod calendar;
pub mod error;
pub mod ets;
pub mod ets_fit;
pub mod input;
pub mod isolated;
pub mod metrics;
pub mod models;
pub mod output;
pub mod params;
pub mod pipeline;
pub mod seasonal_naive;
pub mod series;
pub mod theta;

#[cfg(test)]
mod air_passengers_tests;

pub use error::ForecastError;
pub use isolated::{ForecastBinary, ForecastRequest};
pub use output::ForecastOutput;
pub use params::{ForecastParams, Method};
pub use pipeline::{forecast_file, forecast_series};
