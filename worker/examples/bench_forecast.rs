//! The Rust side of `ops/bench forecast` (not part of the worker): for each series in a
//! manifest written by the bench script, hold out the last `horizon` values, forecast
//! them with every model and with `auto`, time each call, and write the forecasts and
//! timings as JSON for the script to score against statsforecast's.
//!
//! Usage: `bench_forecast MANIFEST.json OUT.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use fairlane_worker::forecast::input::{ColumnChoice, read_csv};
use fairlane_worker::forecast::models::ALL_MODELS;
use fairlane_worker::forecast::series::Series;
use fairlane_worker::forecast::{ForecastParams, Method, forecast_series};
use serde::{Deserialize, Serialize};

/// One series to forecast, as the bench script describes it.
#[derive(Debug, Deserialize)]
struct BenchSeries {
    name: String,
    path: PathBuf,
    season_length: usize,
    horizon: usize,
    repeats: usize,
}

/// One timed forecast.
#[derive(Debug, Serialize)]
struct Figure {
    series: String,
    method: String,
    specification: String,
    forecast: Vec<f64>,
    seconds: f64,
}

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().collect();
    let [_, manifest, out] = arguments.as_slice() else {
        anyhow::bail!("usage: bench_forecast MANIFEST.json OUT.json");
    };
    let manifest: Vec<BenchSeries> =
        serde_json::from_slice(&std::fs::read(manifest).context("failed to read the manifest")?)?;
    let mut figures = Vec::new();
    for bench in &manifest {
        figures.extend(bench_series(bench)?);
    }
    std::fs::write(out, serde_json::to_vec_pretty(&figures)?).context("failed to write results")
}

fn bench_series(bench: &BenchSeries) -> anyhow::Result<Vec<Figure>> {
    let series = load(&bench.path)?;
    let training = series.head(series.len() - bench.horizon);
    let mut figures = Vec::new();
    for model in ALL_MODELS {
        let (seconds, forecast) = best_of(bench.repeats, || {
            model.fit_predict(&training, bench.season_length, bench.horizon, &[])
        })?;
        figures.push(Figure {
            series: bench.name.clone(),
            method: model.as_str().to_owned(),
            specification: forecast.specification,
            forecast: forecast.point,
            seconds,
        });
    }
    let params = ForecastParams {
        horizon: bench.horizon,
        date_column: None,
        value_column: None,
        season_length: Some(bench.season_length),
        method: Method::Auto,
        levels: None,
    };
    let (seconds, output) = best_of(bench.repeats, || forecast_series(&training, &params))?;
    figures.push(Figure {
        series: bench.name.clone(),
        method: format!("auto→{}", output.model.as_str()),
        specification: output.specification,
        forecast: output.rows.iter().map(|row| row.forecast).collect(),
        seconds,
    });
    Ok(figures)
}

fn load(path: &Path) -> anyhow::Result<Series> {
    let observations = read_csv(path, ColumnChoice::default())?;
    Ok(Series::from_observations(observations.rows)?)
}

/// Quick methods are repeated until this much time was spent on them.
const MIN_TIMED_SECONDS: f64 = 1.0;
/// Most runs of one method on one series.
const MAX_RUNS: usize = 1000;

/// Runs `work` at least `repeats` times, and again while the runs so far took under
/// [`MIN_TIMED_SECONDS`] (at most [`MAX_RUNS`]; a sub-millisecond method timed once is
/// noise), and keeps the fastest time and the last result. The statsforecast side of
/// `ops/benches/forecast` follows the same rule.
fn best_of<T, E: std::error::Error + Send + Sync + 'static>(
    repeats: usize,
    mut work: impl FnMut() -> Result<T, E>,
) -> anyhow::Result<(f64, T)> {
    let mut best = f64::INFINITY;
    let mut last = None;
    let (mut runs, mut spent) = (0, 0.0);
    while runs < repeats.max(1) || (spent < MIN_TIMED_SECONDS && runs < MAX_RUNS) {
        let started = Instant::now();
        let result = work()?;
        let seconds = started.elapsed().as_secs_f64();
        best = best.min(seconds);
        spent += seconds;
        runs += 1;
        last = Some(result);
    }
    let last = last.context("no run")?;
    Ok((best, last))
}
